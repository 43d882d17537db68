// The resident's page: open a bundle, choose what to show, answer the bank's challenge, send, read the verdict.
// Redaction and the holder's signature happen here, on the device; only the redacted bundle (signed, when the
// certificate names its holder's key) is sent. Claims read through the display metadata the registry vouches for.
import { BundleError, dumps, holderBound, readBundle, redact } from "./bundle.js";
import { holderKeyFor } from "./keys.js";
import { LOCALES, claimDisplay, claimValue, displayOrder } from "./metadata.js";
import { HOLDER_CLAIM, dumps as dumpsPresentation, holderJwk, present, readChallenge } from "./presentation.js";
import {
  codeFromAddress, documentRows, element, fetchDisplay, fetchInstitution, offerLanguages, pickLanguage, translate,
} from "./ui.js";

const $ = (id) => document.getElementById(id);
$("unsupported").remove(); // the scripts run: this browser can use the page
const state = {
  language: pickLanguage(), bundle: null, fileName: "", withheld: new Set(), revealed: new Set(), verdict: null,
  error: null, display: null, institution: null, purpose: null,
};

// What goes to the bank is built by these steps, in order, from the bundle and the names to withhold: redact,
// then, for a certificate bound to its holder's key, read the bank's challenge by the clerk's code and sign.
const PRESENTATION_STEPS = [
  async (p) => ({ ...p, bundle: redact(p.bundle, [...p.withheld]), body: null }),
  async (p) => {
    const jwk = holderJwk(p.bundle);
    if (!jwk && holderBound(p.bundle)) throw new BundleError("not_bound", "the holder key is withheld");
    if (!jwk) return { ...p, body: dumps(p.bundle) };
    const code = $("code").value.trim();
    if (!code) throw new BundleError("no_code", "no code");
    const seen = state.purpose?.code === code ? state.purpose.purpose : null; // what the resident read, if anything
    const keys = await holderKeyFor(jwk);
    if (!keys) throw new BundleError("other_key", "no key on this device");
    const reply = await challengeFor(code);
    if (reply.status === 429) throw new BundleError("busy", "rate limited");
    if (reply.status >= 500) throw new BundleError("refused", "the bank could not read its challenges");
    if (!reply.ok) throw new BundleError("bad_code", "the bank refused the code");
    $("submit").textContent = t("send.signing");
    const challenge = readChallenge(await reply.json());
    state.purpose = { code, purpose: challenge.purpose };
    renderPurpose();
    if (challenge.purpose !== seen) { // never signed for a purpose the page did not show first
      throw Object.assign(new BundleError("purpose_unseen", "the purpose was not shown before sending"),
        { values: { purpose: purposeName(challenge.purpose) } });
    }
    const presentation = await present(p.bundle, challenge, keys, bankTime(reply));
    return { ...p, body: dumpsPresentation(presentation) };
  },
];

const t = (key, values) => translate(state.language, key, values);

/** The bank's answer to the clerk's `code`: the challenge the resident's signature answers. */
function challengeFor(code) {
  return fetch("challenges", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ code }),
  });
}

let purposeAsked = 0;

/** Read the challenge of the code typed (or given in the page's address) and say its purpose, before the resident
 * signs: what their signature consents to, as the bank's clerk chose it. A code the bank does not take says
 * nothing here: sending says why. */
async function askPurpose() {
  const code = $("code").value.trim();
  const asked = ++purposeAsked;
  state.purpose = null;
  renderPurpose();
  if (!code) return;
  try {
    const reply = await challengeFor(code);
    const purpose = reply.ok ? readChallenge(await reply.json()).purpose : null;
    if (asked === purposeAsked && purpose) state.purpose = { code, purpose };
  } catch (error) {
    if (!(error instanceof BundleError || error instanceof TypeError || error instanceof SyntaxError)) throw error;
  }
  if (asked === purposeAsked) renderPurpose();
}

/** A purpose code by its name in the page's language, as the bank's service gives it, else the code itself. */
const purposeName = (code) => state.institution?.purposes?.[code]?.[state.language] ?? code;

function renderPurpose() {
  const known = state.purpose?.code === $("code").value.trim() ? state.purpose.purpose : null;
  $("purpose").textContent = known ? t("consent.purpose", { purpose: purposeName(known) }) : "";
}

/** Unix seconds now by the bank's clock, as its `reply` is dated (the device's own when it is not): a phone's clock
 * a minute fast or five slow would time a consent that the bank finds not yet valid, or expired, every time. */
function bankTime(reply) {
  const dated = Date.parse(reply.headers.get("Date") ?? "");
  return Math.floor((Number.isNaN(dated) ? Date.now() : dated) / 1000);
}

/** A claim's label in the page's language: the metadata's, else its name as in the file, marked as such. */
function label(name) {
  if (name === HOLDER_CLAIM) return [t("claim.cnf"), false];
  const claim = claimDisplay(state.display?.type, name);
  return claim ? [claim.label[state.language], false] : [name, true];
}

function labelElement(name, className) {
  const [text, unlabelled] = label(name);
  return element("span", { className, lang: unlabelled ? "" : state.language }, text,
    ...(unlabelled ? [element("span", { className: "unlabelled" }, ` ${t("claim.unlabelled")}`)] : []));
}

function valueText(name, value) {
  if (name === HOLDER_CLAIM) return t("choose.key");
  return claimValue(value, claimDisplay(state.display?.type, name), state.language, state.revealed.has(name));
}

/** Show or hide an identifier's whole value (it is masked until the resident chooses to see it). */
function revealButton(name) {
  if (claimDisplay(state.display?.type, name)?.kind !== "identifier") return [];
  const shown = state.revealed.has(name);
  const button = element("button", { type: "button", className: "reveal secondary", ariaPressed: String(shown) },
    t(shown ? "claim.hide" : "claim.show"));
  button.addEventListener("click", () => {
    if (shown) state.revealed.delete(name);
    else state.revealed.add(name);
    render();
  });
  return [button];
}

function showError(key, values) {
  state.error = key ? [key, values] : null;
  $("error").textContent = key ? t(key, values) : "";
}

/** How many files were opened: a file's reading and labels that arrive after the next file was opened are its
 * own, never put on the next file's screen. */
let opened = 0;

async function open(file) {
  const mine = ++opened;
  showError(null);
  Object.assign(state, { bundle: null, verdict: null, display: null, withheld: new Set(), revealed: new Set() });
  let bundle = null;
  let fault = null;
  try {
    bundle = readBundle(await file.text());
  } catch (error) {
    if (!(error instanceof BundleError)) throw error;
    fault = error;
  }
  const { suite } = state.institution ?? await institutionKnown; // labels are checked by the consortium's hash
  const display = bundle ? await fetchDisplay("metadata", bundle.document, suite) : null;
  if (mine !== opened) return; // another file was opened meanwhile: the screen is that file's
  if (fault) showError(`error.${fault.code}`);
  Object.assign(state, { bundle, display, fileName: file.name });
  render();
}

function renderDocument() {
  const doc = state.bundle?.document;
  $("opened").textContent = doc ? t("open.ok", { file: state.fileName }) : "";
  $("document").hidden = !doc;
  $("labels-refused").hidden = !(doc && state.display?.refused);
  if (!doc) return;
  $("document").replaceChildren(...documentRows(doc, state.display, state.language, t));
}

function renderClaims() {
  const claims = state.bundle?.claims ?? [];
  const order = displayOrder(state.display?.type, claims.filter((c) => !("redacted" in c)).map((c) => c.name));
  const shown = order.map((name) => [claims.findIndex((c) => c.name === name), claims.find((c) => c.name === name)]);
  const hidden = claims.map((c, i) => [i, c]).filter(([, c]) => "redacted" in c);
  $("claims").replaceChildren(...[...shown, ...hidden].map(([i, claim]) => {
    const withheld = "redacted" in claim;
    const key = !withheld && claim.name === HOLDER_CLAIM;  // signing needs it shown
    const box = element("input", {
      type: "checkbox", id: `claim-${i}`, checked: !withheld && !state.withheld.has(claim.name),
      disabled: withheld || key,
    });
    box.addEventListener("change", () => {
      if (box.checked) state.withheld.delete(claim.name);
      else state.withheld.add(claim.name);
      renderChoice();
    });
    const name = withheld ? element("span", { className: "claim-name" }, "—") : labelElement(claim.name, "claim-name");
    const value = element("span", { className: "claim-value" },
      withheld ? t("choose.already") : valueText(claim.name, claim.value));
    const row = element("label", { htmlFor: box.id }, box, element("span", {}, name, value));
    return element("li", { className: box.checked ? "" : "withheld" }, row, ...(withheld ? [] : revealButton(claim.name)));
  }));
}

function renderChoice() {
  const open = (state.bundle?.claims ?? []).filter((c) => !("redacted" in c));
  const order = displayOrder(state.display?.type, open.map((c) => c.name));
  const sent = order.filter((name) => !state.withheld.has(name))
    .map((name) => (name === HOLDER_CLAIM ? t("send.key") : label(name)[0]));
  for (const box of $("claims").querySelectorAll("input")) box.closest("li").className = box.checked ? "" : "withheld";
  $("count").textContent = state.bundle ? t("choose.count", { shown: sent.length, total: open.length }) : "";
  const names = new Intl.ListFormat(LOCALES[state.language], { type: "conjunction" }).format(sent);
  $("summary").textContent = t("send.summary", { names: sent.length ? names : t("send.nothing") });
}

function checkItem(check) {
  const marks = { passed: "✓", failed: "✗", "not applicable": "–" };
  return element("li", { className: check.outcome.replace(" ", "-") },
    element("span", { className: "mark", ariaHidden: "true" }, marks[check.outcome] ?? "?"),
    element("span", {}, t(`check.${check.name}`), element("span", { className: "check-outcome" },
      t(`outcome.${check.outcome}`))));
}

function renderVerdict() {
  const v = state.verdict;
  $("verdict").hidden = !v;
  if (!v) return;
  $("outcome").textContent = t(v.valid ? "verdict.valid" : "verdict.invalid");
  $("outcome").className = v.valid ? "valid" : "invalid";
  const failed = v.checks.filter((c) => c.outcome === "failed");
  $("why").hidden = !failed.length;
  // What went wrong, in words: a check's name says what it holds when it passes, so it is not repeated here
  // (it stays in the full list, marked failed).
  $("failed").replaceChildren(...failed.map((c) => element("li", { className: "reason" }, t(`reason.${c.name}`))));
  $("all-checks-summary").textContent = t("verdict.all", { count: v.checks.length });
  $("checks").replaceChildren(...v.checks.map(checkItem));
  const names = displayOrder(state.display?.type, Object.keys(v.disclosed ?? {}));
  $("shown").replaceChildren(...(names.length ? names.flatMap((name) =>
    [element("dt", {}, labelElement(name, "")), element("dd", {}, valueText(name, v.disclosed[name]))])
    : [element("dd", {}, t("send.nothing"))]));
  $("receipt").hidden = !v.receipt;
  if (v.receipt) $("reference").textContent = v.receipt.commitment;
}

function render() {
  document.documentElement.lang = state.language;
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-text]")) node.textContent = t(node.dataset.text);
  const bank = state.institution?.name?.[state.language];
  $("bank").hidden = !bank;
  $("bank").textContent = bank ? t("bank.named", { bank }) : "";
  const loaded = Boolean(state.bundle);
  for (const step of document.querySelectorAll(".step:not(#open):not(#verdict)")) step.hidden = !loaded;
  $("consent").hidden = !(loaded && holderJwk(state.bundle));
  renderPurpose();
  renderDocument();
  renderClaims();
  renderChoice();
  renderVerdict();
  if (state.error) showError(...state.error);
}

async function submit() {
  showError(null);
  state.verdict = null; // an earlier answer is not this send's: never shown for one that fails
  renderVerdict();
  const button = $("submit");
  button.disabled = true;
  button.textContent = t("send.sending");
  try {
    let presentation = { bundle: state.bundle, withheld: state.withheld };
    for (const step of PRESENTATION_STEPS) presentation = await step(presentation);
    const reply = await fetch("verifications", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: presentation.body,
    }).catch((error) => { // sent, perhaps: the bank may have it, and its code may be spent
      throw error instanceof TypeError ? new BundleError("lost_sending", "the connection was lost while sending") : error;
    });
    if (reply.status === 429) showError("error.busy");
    else if (!reply.ok) showError("error.refused");
    else state.verdict = await reply.json();
  } catch (error) {
    if (error instanceof BundleError) showError(`error.${error.code}`, error.values);
    else if (error instanceof DOMException) showError("error.other_key");
    else showError("error.network");
  } finally {
    button.disabled = false;
    render();
  }
  if (state.verdict) {
    $("verdict").scrollIntoView({ behavior: "smooth", block: "start" });
    $("verdict-title").focus({ preventScroll: true });
  }
}

function setAll(show) {
  for (const claim of state.bundle?.claims ?? []) {
    if (!("redacted" in claim) && claim.name !== HOLDER_CLAIM) show ? state.withheld.delete(claim.name) : state.withheld.add(claim.name);
  }
  renderClaims();
  renderChoice();
}

offerLanguages($("language"), state, render);
$("code").value = codeFromAddress();
addEventListener("hashchange", () => { // a new code, same page
  $("code").value = codeFromAddress();
  askPurpose();
});
let typing = 0;
$("code").addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(askPurpose, 300);
});
$("file").addEventListener("change", (event) => event.target.files[0] && open(event.target.files[0]));
$("all").addEventListener("click", () => setAll(true));
$("none").addEventListener("click", () => setAll(false));
$("submit").addEventListener("click", submit);
$("again").addEventListener("click", () => {
  Object.assign(state, { bundle: null, verdict: null, display: null, withheld: new Set(), revealed: new Set() });
  $("file").value = "";
  showError(null);
  render();
  $("file").focus();
});
render(); // the page's words at once: the service may be slow to say whose page it is
const institutionKnown = fetchInstitution("institution");
state.institution = await institutionKnown;
render();
askPurpose();
document.body.dataset.ready = "true";
