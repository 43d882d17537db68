// The resident page's metadata module against the published vectors (docs/vectors/display-v1.json): digests,
// refusals, and each claim value as every language reads it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { test } from "node:test";

import {
  MetadataError, claimDisplay, claimValue, metadataDigest, readMetadata,
} from "../../../src/crossverify/service/page/metadata.js";

globalThis.sm3 = createRequire(import.meta.url)("sm-crypto/dist/sm3.js"); // as the page's classic script does

const vectors = JSON.parse(readFileSync(new URL("../../../docs/vectors/display-v1.json", import.meta.url), "utf8"));

test("metadata digests are keccak-256 of the RFC 8785 form", () => {
  for (const v of vectors.documents) {
    assert.equal(metadataDigest(v.metadata), v.digest);
    assert.equal(readMetadata(v.metadata, v.digest).digest, v.digest);
  }
});

test("in the GM suite the digests are SM3 of the same form, and a keccak-256 digest is refused", () => {
  for (const v of vectors.documents) {
    assert.equal(metadataDigest(v.metadata, "gm"), v.sm3Digest);
    assert.equal(readMetadata(v.metadata, v.sm3Digest, "gm").digest, v.sm3Digest);
    assert.throws(() => readMetadata(v.metadata, v.digest, "gm"),
      (error) => error instanceof MetadataError && error.code === "MetadataMismatch");
  }
});

test("altered metadata is refused against the registered digest", () => {
  const { altered } = vectors;
  assert.equal(metadataDigest(altered.metadata), altered.digest);
  assert.throws(() => readMetadata(altered.metadata, altered.registered),
    (error) => error instanceof MetadataError && error.code === altered.error);
});

test("malformed metadata is refused where the fault is", () => {
  for (const v of vectors.mustReject) {
    assert.throws(() => readMetadata(v.metadata),
      (error) => error instanceof MetadataError && error.code === v.error && error.pointer === v.pointer, v.name);
  }
});

test("claim values read in each language as the library reads them", () => {
  const types = Object.fromEntries(vectors.documents.filter((v) => v.metadata.docType)
    .map((v) => [v.metadata.docType, readMetadata(v.metadata)]));
  for (const v of vectors.values) {
    const claim = claimDisplay(types[v.docType], v.claim);
    assert.equal(claimValue(v.value, claim, v.language), v.text, `${v.claim} in ${v.language}`);
  }
});
