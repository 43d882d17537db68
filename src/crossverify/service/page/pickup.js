// The resident's pickup page: enter the issuer's one-time code; this browser makes the holder key (its private half
// never leaves the device, and cannot be exported even here), enrols the public half, waits for the certificate
// to be anchored, checks it on the device and offers it to save.
import { BundleError, readBundle } from "./bundle.js";
import { keepHolderKey } from "./keys.js";
import { generateHolderKey, holderJwk, publicJwk, sameKey } from "./presentation.js";
import {
  codeFromAddress, documentRows, fetchDisplay, fetchInstitution, kept, offerLanguages, pickLanguage, translate,
} from "./ui.js";

const $ = (id) => document.getElementById(id);
$("unsupported").remove(); // the scripts run: this browser can use the page
const state = { language: pickLanguage(), step: "enter", error: null, bundle: null, display: null, institution: null };
const t = (key, values) => translate(state.language, key, values);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** Where this device keeps its last enrolled pickup: code, reference, collection token and the key's public JWK;
 * once the certificate is saved, only its code and reference, marked `saved`. */
const ENROLLED = "pickup";

function showError(key, values) {
  state.error = key ? [key, values] : null;
  $("error").textContent = key ? t(key, values) : "";
}

function render() {
  document.documentElement.lang = state.language;
  document.title = t("pickup.title");
  for (const node of document.querySelectorAll("[data-text]")) node.textContent = t(node.dataset.text);
  for (const id of ["enter", "wait", "save"]) $(id).hidden = state.step !== id;
  const issuer = state.institution?.issuer?.[state.language];
  $("issuer").hidden = !issuer;
  $("issuer").textContent = issuer ? t("issuer.named", { issuer }) : "";
  const doc = state.bundle?.document;
  $("labels-refused").hidden = !(doc && state.display?.refused);
  if (doc) $("document").replaceChildren(...documentRows(doc, state.display, state.language, t));
  if (state.error) showError(...state.error);
}

async function refused(reply) {
  if (reply.status === 429) return showError("pickup.error.busy");
  const problem = await reply.json().catch(() => ({}));
  const key = `pickup.error.${problem.title}`;
  showError(translate("en", key) === key ? "pickup.error.refused" : key);
}

async function collect() {
  showError(null);
  const code = $("code").value.trim();
  if (!code) return showError("pickup.error.PickupCodeInvalid");
  const enrolled = enrolledWith(code);
  if (enrolled?.saved) return showError("pickup.saved", { file: `${enrolled.reference}.json` }); // not "used: call"
  $("collect").disabled = true;
  try {
    const pickup = enrolled ?? await enrol(code);
    if (!pickup) return;
    state.step = "wait";
    render();
    $("wait-title").focus();
    const text = await waitForBundle(pickup.collectToken);
    if (text === null) {
      kept.remove(ENROLLED); // refused: the token is of no more use
      return;
    }
    const bundle = readBundle(text);
    if (!sameKey(holderJwk(bundle), pickup.jwk)) throw new BundleError("other_key", "not bound to this device's key");
    state.bundle = bundle;
    state.display = await fetchDisplay("../metadata", bundle.document, state.institution?.suite);
    const link = $("download");
    link.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    link.download = `${pickup.reference}.json`;
    state.step = "save";
    render();
    $("save-title").focus();
  } catch (error) {
    showError(error instanceof BundleError ? `error.${error.code}` : "pickup.error.network");
  } finally {
    $("collect").disabled = false;
  }
}

/** Make a key of the consortium's suite, keep it, and enrol it with `code`: the pickup (kept on this device, see
 * `enrolledWith`), or nothing when the suite could not be learnt or the issuer refused (the page says why). */
async function enrol(code) {
  if (!state.institution?.suite) state.institution = await fetchInstitution("../institution");
  if (!state.institution.suite) return void showError("pickup.error.network"); // the key's suite is not guessed
  const keys = await generateHolderKey(state.institution.suite); // SM2 when the consortium is of the GM suite
  const jwk = await publicJwk(keys.publicKey);
  await keepHolderKey(keys, jwk); // before enrolling: a key the issuer knows is never lost by this page
  const reply = await fetch("../pickups/enrol", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ code, jwk }),
  });
  if (!reply.ok) return void await refused(reply);
  const { reference, collectToken } = await reply.json();
  const pickup = { code: normalCode(code), reference, collectToken, jwk };
  kept.set(ENROLLED, JSON.stringify(pickup)); // (a browser that keeps nothing: collected while the page is open)
  return pickup;
}

/** The pickup this device enrolled with `code` and has not been refused yet, or null. The code is spent once
 * enrolled, so a page reloaded while it waits (a phone drops background tabs), or the link opened again, collects
 * with what it kept. */
function enrolledWith(code) {
  const pickup = JSON.parse(kept.get(ENROLLED) ?? "null");
  return pickup?.code === normalCode(code) ? pickup : null;
}

/** A code as the issuer reads it: any case, no spaces or dashes, O for 0, I or L for 1. */
const normalCode = (code) => code.toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");

/** The bundle's text, asking every two seconds (as the service's Retry-After says) until it is anchored. The code
 * is spent, so a lost connection or a busy or unavailable service only delays the next ask (the page says so); null
 * once the issuer refuses the token. */
async function waitForBundle(collectToken) {
  for (;;) {
    const reply = await askForBundle(collectToken);
    if (typeof reply === "string") {
      showError(null);
      return reply;
    }
    const away = !reply || reply.status === 429 || reply.status >= 500;
    if (!away && reply.status !== 409) {
      await refused(reply);
      return null;
    }
    showError(away ? "pickup.retrying" : null);
    const seconds = Number(reply?.headers.get("Retry-After")); // none, or a date as a gateway may give it: 2
    await sleep(1000 * (seconds > 0 ? seconds : 2));
  }
}

/** One ask: the bundle's text, the service's reply when it has none, or null when the connection failed. */
async function askForBundle(collectToken) {
  try {
    const reply = await fetch("../pickups/collect", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ collectToken }),
    });
    return reply.ok ? await reply.text() : reply;
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    return null;
  }
}

offerLanguages($("language"), state, render);
$("code").value = codeFromAddress();
addEventListener("hashchange", () => { $("code").value = codeFromAddress(); }); // a new code, same page
$("code").addEventListener("keydown", (event) => event.key === "Enter" && $("collect").click()); // not while disabled
$("collect").addEventListener("click", collect);
$("download").addEventListener("click", () => { // saved: the token may go; the code is known as collected here
  const { code, reference } = JSON.parse(kept.get(ENROLLED) ?? "{}");
  if (code) kept.set(ENROLLED, JSON.stringify({ code, reference, saved: true }));
});
render(); // the page's words at once: the service may be slow to say whose page it is
state.institution = await fetchInstitution("../institution");
// WebCrypto, which makes the standard suite's key, exists only in a secure context (https, or this device itself)
if (state.institution.suite !== "gm" && !globalThis.crypto?.subtle) {
  showError("pickup.error.insecure");
  $("collect").disabled = true;
}
render();
if (enrolledWith($("code").value)) $("collect").click(); // this link's certificate is enrolled here already: collect it
document.body.dataset.ready = "true";
