// The bundle format (docs/format.md) on the resident's device: RFC 8785 canonical JSON, the three hash
// algorithms, claim leaves, the document digest, the inclusion proof, and redaction exactly as the Python
// library's Bundle.redact does it. Runs unchanged in the browser (through the page's import map) and in Node.
import canonicalize from "canonicalize";
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";

const CLAIM_PREFIX = 0x00;
const NODE_PREFIX = 0x01;
const DOCUMENT_PREFIX = 0x02;
const HEADER_PREFIX = 0x03;
const HEADER_MEMBERS = ["asOf", "docType", "issuedAt", "issuer", "notAfter"];
/** The header member of a certificate bound to its holder's key: present only as `true`, hashed with the header. */
export const HOLDER_BOUND = "holderBound";
/** Format 1.0 bundles carry `"version": 1`; later ones `"version": "1.1"` or `"1.2"`. */
const READABLE_VERSIONS = [1, "1.1", "1.2"];
/** The latest time a header may name: the registry's times are uint40s. */
const MAX_TIME = 2 ** 40 - 1;

/** A fault in a bundle file; `code` names it for the page's strings table. */
export class BundleError extends Error {
  constructor(code, detail) {
    super(`${code}: ${detail}`);
    this.code = code;
  }
}

/** SM3 comes from sm-crypto's browser build, a classic script that defines `globalThis.sm3` (hex in, hex out). */
function sm3(data) {
  if (typeof globalThis.sm3 !== "function") throw new BundleError("unsupported_hash", "SM3 is not loaded");
  return fromHex(globalThis.sm3(data));
}

/** Hash functions by the label bundles use: bytes in, 32 bytes out. */
export const HASHERS = { keccak256: keccak_256, sha256, sm3 };

export function toHex(bytes) {
  return "0x" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function fromHex(text, length) {
  const digits = typeof text === "string" && text.startsWith("0x") ? text.slice(2) : text;
  if (typeof digits !== "string" || !/^([0-9a-fA-F]{2})*$/.test(digits) ||
      (length !== undefined && digits.length !== 2 * length)) {
    throw new BundleError("bad_hex", `expected ${length ?? "whole"} bytes of hex, got ${JSON.stringify(text)}`);
  }
  return Uint8Array.from(digits.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** JCS([name, value]) as UTF-8: the bytes a claim leaf hashes (lone surrogates are refused). */
export function canonicalClaim(name, value) {
  return jcs([name, value]);
}

function jcs(value) {
  try {
    return new TextEncoder().encode(canonicalize(value));
  } catch (error) {
    throw new BundleError("not_canonical", error.message);
  }
}

/** JCS(header) as UTF-8; `holderBound` takes part only when the header carries it (as `true`). */
export function canonicalHeader(header) {
  const members = HEADER_MEMBERS.map((m) => [m, header[m]]);
  if (HOLDER_BOUND in header) {
    if (header[HOLDER_BOUND] !== true) throw new BundleError("not_a_bundle", "holderBound, when present, is true");
    members.push([HOLDER_BOUND, true]);
  }
  return jcs(Object.fromEntries(members));
}

/** Whether the certificate is bound to its holder's key: it then verifies only as a signed presentation. */
export function holderBound(bundle) {
  return bundle.document[HOLDER_BOUND] === true;
}

function hasherOf(bundle) {
  const hasher = Object.hasOwn(HASHERS, bundle.proof.hashAlg) ? HASHERS[bundle.proof.hashAlg] : null;
  if (!hasher) throw new BundleError("unsupported_hash", `unknown hash algorithm ${bundle.proof.hashAlg}`);
  return hasher;
}

/** H(0x00 || salt || JCS([name, value])) for a disclosed claim; the stored hash for a withheld one. */
export function claimLeaf(claim, hasher) {
  if ("redacted" in claim) return fromHex(claim.redacted, 32);
  return hasher(concat([CLAIM_PREFIX], fromHex(claim.salt, 16), canonicalClaim(claim.name, claim.value)));
}

export function headerDigest(header, hasher) {
  return hasher(concat([HEADER_PREFIX], canonicalHeader(header)));
}

/** H(0x02 || header digest || every claim's leaf, in order). */
export function documentDigest(bundle) {
  const hasher = hasherOf(bundle);
  return hasher(concat([DOCUMENT_PREFIX], headerDigest(bundle.document, hasher),
    ...bundle.claims.map((c) => claimLeaf(c, hasher))));
}

/** The root the proof leads to from `leaf` (RFC 9162, 2.1.3.2), or null when the proof has the wrong length. */
export function rootFromProof(leaf, index, size, path, hasher) {
  if (!(index >= 0 && index < size)) return null;
  let fn = index;
  let sn = size - 1;
  let node = leaf;
  for (const sibling of path) {
    if (sn === 0) return null;
    if (fn & 1 || fn === sn) {
      node = hasher(concat([NODE_PREFIX], sibling, node));
      while (!(fn & 1) && fn) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      node = hasher(concat([NODE_PREFIX], node, sibling));
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 ? node : null;
}

/** Whether the bundle's claims and proof lead to the batch root it names. */
export function leadsToRoot(bundle) {
  const p = bundle.proof;
  const root = rootFromProof(documentDigest(bundle), p.index, p.leafCount, p.path.map((h) => fromHex(h, 32)),
    hasherOf(bundle));
  return root !== null && toHex(root) === p.batchRoot.toLowerCase();
}

/** Parse a bundle file and check, on the device, that it is whole: it leads to the root it names. */
export function readBundle(text) {
  let bundle;
  try {
    bundle = JSON.parse(text);
  } catch (error) {
    throw new BundleError("not_json", error.message);
  }
  const shaped = bundle && READABLE_VERSIONS.includes(bundle.version) && isHeader(bundle.document) &&
    Array.isArray(bundle.claims) && bundle.claims.every(isObject) && bundle.proof && Array.isArray(bundle.proof.path) &&
    typeof bundle.proof.batchRoot === "string";
  if (!shaped) throw new BundleError("not_a_bundle", "not a crossverify bundle of format 1.0, 1.1 or 1.2");
  if (!leadsToRoot(bundle)) throw new BundleError("damaged", "the claims and proof do not lead to the batch root");
  return bundle;
}

const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
/** A header whose codes are text and whose times are the registry's (whole seconds, 0 to MAX_TIME). */
const isHeader = (header) => isObject(header) && typeof header.docType === "string" &&
  typeof header.issuer === "string" &&
  ["issuedAt", "asOf", "notAfter"].every((m) => Number.isInteger(header[m]) && header[m] >= 0 && header[m] <= MAX_TIME);

/** The disclosed claims' names, in order. */
export function disclosedNames(bundle) {
  return bundle.claims.filter((c) => !("redacted" in c)).map((c) => c.name);
}

/** A copy with the named claims replaced by their leaf hashes: value and salt stay behind. */
export function redact(bundle, names) {
  const withheld = new Set(names);
  const unknown = [...withheld].filter((n) => !disclosedNames(bundle).includes(n));
  if (unknown.length) throw new BundleError("unknown_claim", `no disclosed claim named ${unknown.sort().join(", ")}`);
  const hasher = hasherOf(bundle);
  const claims = bundle.claims.map((c) =>
    !("redacted" in c) && withheld.has(c.name) ? { redacted: toHex(claimLeaf(c, hasher)) } : c);
  return { ...bundle, claims };
}

/** The bundle file's text, compact, as the Python library writes it. */
export function dumps(bundle) {
  return JSON.stringify(bundle);
}
