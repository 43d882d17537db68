// The resident page's bundle module against the format's published vectors (docs/vectors/v1.1.json).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { test } from "node:test";

import {
  BundleError, HASHERS, canonicalClaim, canonicalHeader, claimLeaf, documentDigest, dumps, fromHex, headerDigest,
  leadsToRoot, readBundle, redact, rootFromProof, toHex,
} from "../../../src/crossverify/service/page/bundle.js";

globalThis.sm3 = createRequire(import.meta.url)("sm-crypto/dist/sm3.js"); // as the page's classic script does
const vectors = JSON.parse(readFileSync(new URL("../../../docs/vectors/v1.1.json", import.meta.url), "utf8"));
const text = new TextDecoder();

for (const [alg, v] of Object.entries(vectors.hashAlgorithms)) {
  const hasher = HASHERS[alg];

  test(`${alg}: canonical JSON, claim leaves, header and document digests`, () => {
    for (const doc of v.documents) {
      assert.equal(text.decode(canonicalHeader(doc.header)), doc.headerCanonical);
      assert.equal(toHex(headerDigest(doc.header, hasher)), doc.headerDigest);
      for (const c of doc.claims) {
        assert.equal(toHex(canonicalClaim(c.name, c.value)), c.canonical, c.name);
        assert.equal(toHex(claimLeaf(c, hasher)), c.leaf, c.name);
      }
      const bundle = { document: doc.header, claims: doc.claims, proof: { hashAlg: alg } };
      assert.equal(toHex(documentDigest(bundle)), doc.documentDigest);
    }
  });

  test(`${alg}: inclusion proofs lead to each batch's root`, () => {
    for (const batch of v.batches) {
      batch.proofs.forEach((path, index) => {
        const leaf = fromHex(v.documents[index].documentDigest);
        const root = rootFromProof(leaf, index, batch.leafCount, path.map((h) => fromHex(h)), hasher);
        assert.equal(toHex(root), batch.root, `batch of ${batch.size}, leaf ${index}`);
      });
    }
    for (const { bundle } of v.bundles) assert.ok(readBundle(JSON.stringify(bundle)));
  });

  test(`${alg}: redaction keeps the digest and leaves no value or salt behind`, () => {
    for (const { bundle } of v.bundles) {
      const open = bundle.claims.filter((c) => !("redacted" in c));
      const withheld = open.filter((_, i) => i % 2 === 0);
      const redacted = redact(bundle, withheld.map((c) => c.name));
      assert.equal(toHex(documentDigest(redacted)), toHex(documentDigest(bundle)));
      assert.ok(leadsToRoot(redacted));
      const sent = dumps(redacted);
      for (const c of withheld) {
        assert.ok(sent.includes(`{"redacted":"${toHex(claimLeaf(c, hasher))}"}`), c.name);
        assert.ok(!sent.includes(c.salt.slice(2)), c.name);
        assert.ok(!sent.includes(JSON.stringify(c.name)), c.name);
      }
      assert.deepEqual(redact(redacted, []), redacted); // withholding nothing more changes nothing
      if (withheld.length) assert.throws(() => redact(redacted, [withheld[0].name]), { code: "unknown_claim" });
      assert.equal(bundle.claims.filter((c) => !("redacted" in c)).length, open.length); // input untouched
    }
  });
}

test("a changed claim, proof or root is refused on the device", () => {
  const bundle = vectors.hashAlgorithms.keccak256.bundles.find((b) => b.batchSize === 5).bundle;
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
  assert.throws(() => readBundle(changed((b) => { b.version = 2; return b; })), { code: "not_a_bundle" });
  assert.throws(() => readBundle("{"), { code: "not_json" });
  // a file of the right outline but the wrong inner shapes is named as such, never a TypeError the page cannot say
  const misshapen = {
    claimNull: [(b) => { b.claims = [null]; return b; }, "not_a_bundle"],
    claimText: [(b) => { b.claims[0] = "x"; return b; }, "not_a_bundle"],
    headerText: [(b) => { b.document = "x"; return b; }, "not_a_bundle"],
    noSalt: [(b) => { delete b.claims[0].salt; return b; }, "bad_hex"],
    pathNumber: [(b) => { b.proof.path = [1]; return b; }, "bad_hex"],
    redactedNumber: [(b) => { b.claims[0] = { redacted: 5 }; return b; }, "bad_hex"],
    hashAlgProto: [(b) => { b.proof.hashAlg = "__proto__"; return b; }, "unsupported_hash"],
    hashAlgToString: [(b) => { b.proof.hashAlg = "toString"; return b; }, "unsupported_hash"],
  };
  for (const [name, [edit, code]] of Object.entries(misshapen)) {
    assert.throws(() => readBundle(changed(edit)), { code }, name);
  }
  // nor a header whose times are not the registry's (a file made to lead to its own root: no date to show)
  const rooted = (edit) => changed((b) => {
    edit(b.document);
    b.proof = { ...b.proof, index: 0, leafCount: 1, path: [] };
    b.proof.batchRoot = toHex(documentDigest(b));
    return b;
  });
  assert.ok(readBundle(rooted(() => {})));
  for (const edit of [(d) => { d.issuedAt = "today"; }, (d) => { d.notAfter = 2 ** 40; }, (d) => { d.asOf = -1; },
    (d) => { d.issuer = 7; }]) {
    assert.throws(() => readBundle(rooted(edit)), { code: "not_a_bundle" }, String(edit));
  }
  assert.throws(() => canonicalClaim("name", "\ud800"), { code: "not_canonical" });
  assert.ok(new BundleError("damaged", "x") instanceof Error);
});

test("format 1.0 bundles the format's readers must accept are read too", () => {
  const reading = JSON.parse(readFileSync(new URL("../../../docs/vectors/v1.1-reading.json", import.meta.url), "utf8"));
  const accepted = reading.mustAccept.filter((v) => "text" in v);
  assert.ok(accepted.length >= 5);
  for (const v of accepted) assert.ok(readBundle(v.text), v.name);
});
