// The resident page's bundle module against the format's published vectors (docs/vectors/v1.json).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { test } from "node:test";

import {
  BundleError, HASHERS, canonicalClaim, canonicalHeader, claimLeaf, documentDigest, dumps, headerDigest,
  leadsToRoot, readBundle, redact, rootFromProof, fromHex, toHex,
} from "../../../src/crossverify/service/page/bundle.js";

globalThis.sm3 = createRequire(import.meta.url)("sm-crypto/dist/sm3.js"); // as the page's classic script does
const vectors = JSON.parse(readFileSync(new URL("../../../docs/vectors/v1.json", import.meta.url), "utf8"));
const text = new TextDecoder();

for (const [alg, v] of Object.entries(vectors.hashAlgorithms)) {
  const hasher = HASHERS[alg];

  test(`${alg}: canonical JSON, claim leaves and the header digest`, () => {
    assert.equal(text.decode(canonicalHeader(v.header)), v.headerCanonical);
    assert.equal(toHex(headerDigest(v.header, hasher)), v.headerDigest);
    for (const doc of v.documents) {
      for (const c of doc.claims) {
        assert.equal(toHex(canonicalClaim(c.name, c.value)), c.canonical, c.name);
        assert.equal(toHex(claimLeaf(c, hasher)), c.leaf, c.name);
      }
    }
  });

  test(`${alg}: document digests and inclusion proofs lead to the batch root`, () => {
    for (const doc of v.documents) {
      assert.equal(toHex(documentDigest(doc.bundle)), doc.documentDigest);
      const p = doc.bundle.proof;
      const root = rootFromProof(fromHex(doc.documentDigest), p.index, p.leafCount, doc.proof.map((h) => fromHex(h)),
        hasher);
      assert.equal(toHex(root), v.batchRoot);
      assert.ok(readBundle(JSON.stringify(doc.bundle)));
    }
  });

  test(`${alg}: redaction keeps the digest and leaves no value or salt behind`, () => {
    for (const doc of v.documents) {
      const withheld = doc.claims.filter((_, i) => i % 2 === 0);
      const redacted = redact(doc.bundle, withheld.map((c) => c.name));
      assert.equal(toHex(documentDigest(redacted)), doc.documentDigest);
      assert.ok(leadsToRoot(redacted));
      const sent = dumps(redacted);
      for (const c of withheld) {
        assert.ok(sent.includes(`{"redacted":"${c.leaf}"}`), c.name);
        assert.ok(!sent.includes(c.salt.slice(2)), c.name);
        assert.ok(!sent.includes(`"${c.name}"`), c.name);
      }
      assert.deepEqual(redact(redacted, []), redacted); // withholding nothing more changes nothing
      assert.throws(() => redact(redacted, [withheld[0].name]), { code: "unknown_claim" });
      assert.deepEqual(doc.bundle.claims.map((c) => c.name), doc.claims.map((c) => c.name)); // input untouched
    }
  });
}

test("a changed claim, proof or root is refused on the device", () => {
  const bundle = vectors.hashAlgorithms.keccak256.documents[0].bundle;
  const changed = (edit) => JSON.stringify(edit(structuredClone(bundle)));
  const cases = {
    value: (b) => { b.claims[0].value = "9-101-000000-0"; return b; },
    root: (b) => { b.proof.batchRoot = "0x" + "11".repeat(32); return b; },
    shortProof: (b) => { b.proof.path.pop(); return b; },
    longProof: (b) => { b.proof.path.push("0x" + "22".repeat(32)); return b; },
    index: (b) => { b.proof.index = b.proof.leafCount; return b; },
  };
  for (const [name, edit] of Object.entries(cases)) {
    assert.throws(() => readBundle(changed(edit)), { code: "damaged" }, name);
  }
  assert.throws(() => readBundle(changed((b) => { b.claims[0].salt = "0x12"; return b; })), { code: "bad_hex" });
  assert.throws(() => readBundle(changed((b) => { b.proof.hashAlg = "md5"; return b; })),
    { code: "unsupported_hash" });
  assert.throws(() => readBundle("{"), { code: "not_json" });
  assert.throws(() => readBundle('{"version": 2}'), { code: "not_a_bundle" });
  assert.throws(() => canonicalClaim("name", "\ud800"), { code: "not_canonical" });
  assert.ok(new BundleError("damaged", "x") instanceof Error);
});
