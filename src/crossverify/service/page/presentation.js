// Presentations (docs/format.md "Presentations") on the resident's device: the holder answers one bank's challenge
// by signing, with ECDSA P-256 over SHA-256 in WebCrypto, the JCS of what they disclose, to whom, why and until
// when. Byte for byte what the Python library's `present` writes, but for the signature (WebCrypto's nonces are
// random; verifiers accept both). Runs unchanged in the browser and in Node.
//
// In the GM suite the holder key is SM2, which WebCrypto does not offer: the key pair is sm-crypto's (its browser
// build defines `globalThis.sm2`), `{ suite: "gm", privateKey, publicKey }` in hex, and it signs with SM2 over the
// same bytes (the default signer ID). Such a private key is extractable by nature: see docs/resident.md.
import canonicalize from "canonicalize";
import { BundleError, disclosedNames, documentDigest, fromHex, toHex } from "./bundle.js";

export const TYP = "crossverify-presentation/1";
export const HOLDER_CLAIM = "cnf";
/** Seconds a presentation lives by default, and at most (the format's DEFAULT_LIFETIME and MAX_LIFETIME). */
export const DEFAULT_LIFETIME = 300;
export const MAX_LIFETIME = 900;
const ECDSA = { name: "ECDSA", hash: "SHA-256" };
const P256 = { name: "ECDSA", namedCurve: "P-256" };
const utf8 = new TextEncoder();

/** The names in UTF-8 byte order, as the format sorts disclosed names. */
function byteOrder(names) {
  const key = (name) => Array.from(utf8.encode(name), (b) => b.toString(16).padStart(2, "0")).join("");
  return [...names].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** A challenge as the bank's service sends it, checked for shape; `challenge` is the parsed JSON. */
export function readChallenge(challenge) {
  const shaped = challenge && challenge.version === 1 && typeof challenge.aud === "string" &&
    typeof challenge.purpose === "string" && Number.isSafeInteger(challenge.expiresAt);
  if (!shaped) throw new BundleError("not_a_challenge", "not a crossverify challenge of version 1");
  fromHex(challenge.nonce, 32);
  return challenge;
}

/** The exact bytes the holder signs for `binding` over the document `digest` (32 bytes). */
export function signingInput(binding, digest) {
  return utf8.encode(canonicalize({
    aud: binding.aud, digest: toHex(digest), disclosed: binding.disclosed, exp: binding.exp, iat: binding.iat,
    nonce: binding.nonce, purpose: binding.purpose, typ: TYP,
  }));
}

/** The holder's public key as the certificate's disclosed `cnf` claim names it (a JWK), or null. */
export function holderJwk(bundle) {
  const claim = bundle.claims.find((c) => !("redacted" in c) && c.name === HOLDER_CLAIM);
  return claim?.value?.jwk ?? null;
}

/** sm-crypto's SM2 (its browser build defines `globalThis.sm2`), or an error the page can show. */
function sm2() {
  if (typeof globalThis.sm2?.doSignature !== "function") throw new BundleError("unsupported_key", "SM2 is not loaded");
  return globalThis.sm2;
}

const b64url = (bytes) => {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
};

/**
 * A public key as the JWK the format uses: kty, crv, x, y and nothing else, in that order. `publicKey` is a WebCrypto
 * key, or an SM2 key pair's public half in hex (`04 || x || y`, as sm-crypto writes it).
 */
export async function publicJwk(publicKey, subtle = globalThis.crypto.subtle) {
  if (typeof publicKey === "string") {
    const point = fromHex(`0x${publicKey.slice(-128)}`, 64);
    return { kty: "EC", crv: "SM2", x: b64url(point.slice(0, 32)), y: b64url(point.slice(32)) };
  }
  const { kty, crv, x, y } = await subtle.exportKey("jwk", publicKey);
  return { kty, crv, x, y };
}

/** Whether two JWKs name the same P-256 point. */
export function sameKey(a, b) {
  return Boolean(a && b) && a.kty === b.kty && a.crv === b.crv && a.x === b.x && a.y === b.y;
}

/** What the holder binds to the bank's `challenge`: the (already redacted) bundle's disclosed names and times. */
export function bindingFor(bundle, challenge, now, lifetime = DEFAULT_LIFETIME) {
  if (!(lifetime > 0 && lifetime <= MAX_LIFETIME)) {
    throw new BundleError("expired", `a presentation lives 1 to ${MAX_LIFETIME} seconds`);
  }
  if (challenge.expiresAt <= now) throw new BundleError("expired", "the bank's challenge has expired");
  return {
    aud: challenge.aud, nonce: challenge.nonce.toLowerCase(), purpose: challenge.purpose,
    disclosed: byteOrder(disclosedNames(bundle)), iat: now, exp: Math.min(now + lifetime, challenge.expiresAt),
  };
}

/**
 * Answer `challenge` with `bundle` (redacted as the resident chose), signed by `keys` (a WebCrypto ECDSA P-256
 * key pair whose private half may be non-extractable). The bundle must disclose the `cnf` claim of this very key.
 */
export async function present(bundle, challenge, keys, now, lifetime = DEFAULT_LIFETIME,
  subtle = globalThis.crypto.subtle) {
  const named = holderJwk(bundle);
  if (!named) throw new BundleError("not_bound", "the certificate does not disclose its holder key");
  if (!sameKey(named, await publicJwk(keys.publicKey, subtle))) {
    throw new BundleError("other_key", "the certificate is bound to another holder key than this device's");
  }
  const binding = bindingFor(bundle, challenge, now, lifetime);
  const input = signingInput(binding, documentDigest(bundle));
  if (keys.suite === "gm") {
    const signature = sm2().doSignature(Array.from(input), keys.privateKey, { hash: true, publicKey: keys.publicKey });
    return { version: 1, bundle, binding, signature: `0x${signature}` };
  }
  const signature = await subtle.sign(ECDSA, keys.privateKey, input);
  return { version: 1, bundle, binding, signature: toHex(new Uint8Array(signature)) };
}

/** Whether `presentation` carries a valid signature of `publicKey` (WebCrypto, or SM2 hex) over its binding. */
export async function signedBy(presentation, publicKey, subtle = globalThis.crypto.subtle) {
  const message = signingInput(presentation.binding, documentDigest(presentation.bundle));
  const signature = fromHex(presentation.signature, 64);
  if (typeof publicKey === "string") {
    return sm2().doVerifySignature(Array.from(message), toHex(signature).slice(2), publicKey, { hash: true });
  }
  return subtle.verify(ECDSA, publicKey, signature, message);
}

/**
 * A new holder key pair. The standard suite's is WebCrypto's P-256, whose private half can sign but never be
 * exported; the GM suite's is an SM2 pair from sm-crypto, `{ suite: "gm", privateKey, publicKey }` in hex.
 */
export async function generateHolderKey(suite = "standard", subtle = globalThis.crypto.subtle) {
  if (suite === "gm") return { suite: "gm", ...sm2().generateKeyPairHex() };
  return subtle.generateKey(P256, false, ["sign", "verify"]);
}

/** The presentation file's text, compact, as the Python library writes it. */
export function dumps(presentation) {
  return JSON.stringify(presentation);
}
