// The resident's holder keys, kept in this browser's IndexedDB as WebCrypto key pairs whose private halves cannot
// be exported: script on this origin may ask them to sign, nothing can read them out. Only a key's public JWK
// ever leaves the device (at pickup, and inside the certificate's `cnf` claim).
import { BundleError } from "./bundle.js";
import { sameKey } from "./presentation.js";

const DATABASE = "crossverify-holder";
const STORE = "keys";

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function database() {
  const opening = indexedDB.open(DATABASE, 1);
  opening.onupgradeneeded = () => opening.result.createObjectStore(STORE, { keyPath: "x" });
  return request(opening);
}

/** `act` on the key store; a browser that refuses the page its IndexedDB (a private window, site data blocked, a
 * store full) raises BundleError "no_key_store", which the pages explain. */
async function inStore(mode, act) {
  if (!globalThis.indexedDB) throw new BundleError("no_key_store", "this browser offers no IndexedDB here");
  let db;
  try {
    db = await database();
    const tx = db.transaction(STORE, mode);
    const result = await request(act(tx.objectStore(STORE)));
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
    });
    return result;
  } catch (error) {
    if (!(error instanceof DOMException)) throw error;
    throw new BundleError("no_key_store", `this browser refused its key store: ${error.name}`);
  } finally {
    db?.close();
  }
}

/** Keep a key pair (made by `generateHolderKey`) whose public key is `jwk`, once the issuer has enrolled it. */
export async function keepHolderKey(keys, jwk) {
  await inStore("readwrite", (store) => store.put({ x: jwk.x, jwk, keys, created: Date.now() }));
}

/** The stored key pair whose public key is `jwk`, or null. */
export async function holderKeyFor(jwk) {
  if (!jwk || typeof jwk.x !== "string") return null;
  const found = await inStore("readonly", (store) => store.get(jwk.x));
  return found && sameKey(found.jwk, jwk) ? found.keys : null;
}
