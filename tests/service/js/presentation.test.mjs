// The resident page's presentation module against the format's published vectors (docs/vectors/presentation-v1.json).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  canonicalHeader, documentDigest, fromHex, holderBound, leadsToRoot, redact, toHex,
} from "../../../src/crossverify/service/page/bundle.js";
import {
  bindingFor, dumps, generateHolderKey, holderJwk, present, publicJwk, readChallenge, signedBy, signingInput,
} from "../../../src/crossverify/service/page/presentation.js";

const v = JSON.parse(readFileSync(new URL("../../../docs/vectors/presentation-v1.json", import.meta.url), "utf8"));
const { subtle } = globalThis.crypto;
const text = new TextDecoder();
const ECDSA = { name: "ECDSA", namedCurve: "P-256" };

/** The vectors' test-only holder key, imported as WebCrypto would hold it (private half not extractable). */
async function vectorKeys() {
  const d = Buffer.from(fromHex(v.holder.privateKey, 32)).toString("base64url");
  return {
    privateKey: await subtle.importKey("jwk", { ...v.holder.jwk, d }, ECDSA, false, ["sign"]),
    publicKey: await subtle.importKey("jwk", v.holder.jwk, ECDSA, true, ["verify"]),
  };
}

const iat = v.presentation.binding.iat;
const bundle = v.presentation.bundle;

test("the binding and the bytes the holder signs are the vectors'", () => {
  assert.equal(toHex(documentDigest(bundle)), v.document.documentDigest);
  const binding = bindingFor(bundle, readChallenge(v.challenge), iat);
  assert.deepEqual(binding, v.presentation.binding);
  assert.equal(JSON.stringify(Object.keys(binding)), JSON.stringify(Object.keys(v.presentation.binding)));
  assert.equal(text.decode(signingInput(binding, documentDigest(bundle))), v.signingInput);
});

test("the vectors' signature verifies and a WebCrypto one is accepted in its place", async () => {
  const keys = await vectorKeys();
  assert.ok(await signedBy(v.presentation, keys.publicKey));
  const made = await present(bundle, v.challenge, keys, iat);
  assert.notEqual(made.signature, v.presentation.signature); // WebCrypto draws a random nonce
  assert.ok(await signedBy(made, keys.publicKey));
  assert.equal(dumps({ ...made, signature: v.presentation.signature }), JSON.stringify(v.presentation));
  assert.equal(made.signature.length, 130);
});

test("a presentation made from the full document redacts, then signs what is left", async () => {
  const full = structuredClone(bundle);
  full.claims[0] = { name: v.document.claims[0].name, salt: v.document.claims[0].salt, value: v.document.claims[0].value };
  const made = await present(redact(full, ["balance"]), v.challenge, await vectorKeys(), iat);
  assert.deepEqual(made.bundle, bundle);
  assert.ok(!dumps(made).includes(v.document.claims[0].salt.slice(2)));
});

test("a tampered presentation fails its signature", async () => {
  const keys = await vectorKeys();
  const changed = (edit) => { const p = structuredClone(v.presentation); edit(p); return p; };
  const cases = {
    aud: (p) => { p.binding.aud = "OTHERBANK"; },
    nonce: (p) => { p.binding.nonce = "0x" + "00".repeat(32); },
    exp: (p) => { p.binding.exp += 1; },
    claim: (p) => { p.bundle.claims[2].value = "LEE Siu Ming"; },
    signature: (p) => { p.signature = p.signature.slice(0, -2) + "00"; },
  };
  for (const [name, edit] of Object.entries(cases)) assert.equal(await signedBy(changed(edit), keys.publicKey), false, name);
});

test("only the certificate's own holder key, for an open challenge, may answer", async () => {
  const stranger = await generateHolderKey();
  await assert.rejects(present(bundle, v.challenge, stranger, iat), { code: "other_key" });
  const hidden = redact(bundle, ["cnf"]);
  assert.equal(holderJwk(hidden), null);
  await assert.rejects(present(hidden, v.challenge, await vectorKeys(), iat), { code: "not_bound" });
  await assert.rejects(present(bundle, v.challenge, await vectorKeys(), v.challenge.expiresAt), { code: "expired" });
  assert.throws(() => readChallenge({ ...v.challenge, nonce: "0x12" }), { code: "bad_hex" });
  assert.throws(() => readChallenge({ ...v.challenge, version: 2 }), { code: "not_a_challenge" });
  const short = bindingFor(bundle, { ...v.challenge, expiresAt: iat + 10 }, iat);
  assert.equal(short.exp, iat + 10); // never outlives the bank's challenge
});

test("a generated holder key's private half cannot be exported, its public half is a bare JWK", async () => {
  const keys = await generateHolderKey();
  assert.equal(keys.privateKey.extractable, false);
  await assert.rejects(subtle.exportKey("jwk", keys.privateKey));
  const jwk = await publicJwk(keys.publicKey);
  assert.deepEqual(Object.keys(jwk), ["kty", "crv", "x", "y"]);
  assert.equal(jwk.x.length, 43);
});

test("the bound certificate's header flag is hashed: the page computes the vectors' digests and cannot hide it", () => {
  assert.equal(holderBound(bundle), true);
  assert.equal(text.decode(canonicalHeader(bundle.document)), v.document.headerCanonical);
  assert.equal(toHex(documentDigest(bundle)), v.document.documentDigest);
  assert.equal(toHex(documentDigest(redact(bundle, ["cnf"]))), v.document.documentDigest);
  for (const { bundle: bare, check } of v.mustRefuseBare) {
    assert.equal(leadsToRoot(bare), check !== "proof_leads_to_root", check);
  }
  const unflagged = { ...bundle.document };
  delete unflagged.holderBound;
  assert.equal(holderBound({ ...bundle, document: unflagged }), false);
  assert.notEqual(toHex(documentDigest({ ...bundle, document: unflagged })), v.document.documentDigest);
  assert.throws(() => canonicalHeader({ ...bundle.document, holderBound: false }), { code: "not_a_bundle" });
});

test("the page never signs past the bank's challenge; what is signed past it, the bank refuses", async () => {
  const keys = await vectorKeys();
  const [outliving] = v.mustRefuse.filter((c) => c.check === "presentation_within_challenge").map((c) => c.presentation);
  assert.ok(await signedBy(outliving, keys.publicKey)); // the holder's own signature: only the bank's stored challenge shows it
  assert.ok(outliving.binding.exp > v.challenge.expiresAt);
  const longest = await present(bundle, v.challenge, keys, iat, 900);
  assert.equal(longest.binding.exp, v.challenge.expiresAt);
  const shown = { ...v.challenge, expiresAt: outliving.binding.exp }; // a copy with a later expiresAt than the bank's
  const made = await present(bundle, shown, keys, iat, 900);
  assert.equal(dumps({ ...made, signature: outliving.signature }), JSON.stringify(outliving));
});
