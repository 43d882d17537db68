// The resident page's SM2 holder keys (the GM suite) against the GM vectors (docs/vectors/gm-v1.json): sm-crypto's
// browser builds stand where the page's classic scripts put them.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { test } from "node:test";

import { documentDigest, toHex } from "../../../src/crossverify/service/page/bundle.js";
import {
  generateHolderKey, present, publicJwk, readChallenge, signedBy, signingInput,
} from "../../../src/crossverify/service/page/presentation.js";

const require = createRequire(import.meta.url);
globalThis.sm3 = require("sm-crypto/dist/sm3.js");
globalThis.sm2 = require("sm-crypto/dist/sm2.js");
const v = JSON.parse(readFileSync(new URL("../../../docs/vectors/gm-v1.json", import.meta.url), "utf8")).holder;
const text = new TextDecoder();
const publicHex = (jwk) => `04${Buffer.from(jwk.x, "base64url").toString("hex")}${
  Buffer.from(jwk.y, "base64url").toString("hex")}`;
const vectorKeys = () => ({ suite: "gm", privateKey: v.privateKey.slice(2), publicKey: publicHex(v.jwk) });

test("the vector's presentation, signed by Tongsuo, verifies here", async () => {
  assert.equal(toHex(documentDigest(v.presentation.bundle)), v.documentDigest);
  assert.ok(await signedBy(v.presentation, publicHex(v.jwk)));
  const forged = { ...v.presentation, binding: { ...v.presentation.binding, aud: "BKCHCNBJ45A" } };
  assert.equal(await signedBy(forged, publicHex(v.jwk)), false);
});

test("the page signs the same bytes with the holder's SM2 key", async () => {
  const keys = vectorKeys();
  assert.deepEqual(await publicJwk(keys.publicKey), v.jwk);
  const p = await present(v.presentation.bundle, readChallenge(v.challenge), keys, v.presentation.binding.iat);
  assert.deepEqual(p.binding, v.presentation.binding);
  assert.equal(text.decode(signingInput(p.binding, documentDigest(p.bundle))), v.signingInput);
  assert.match(p.signature, /^0x[0-9a-f]{128}$/);
  assert.ok(await signedBy(p, keys.publicKey));
});

test("a GM key pair is SM2, and only its own key signs for its certificate", async () => {
  const keys = await generateHolderKey("gm");
  assert.equal(keys.suite, "gm");
  assert.equal((await publicJwk(keys.publicKey)).crv, "SM2");
  await assert.rejects(
    present(v.presentation.bundle, readChallenge(v.challenge), keys, v.presentation.binding.iat),
    (error) => error.code === "other_key",
  );
});
