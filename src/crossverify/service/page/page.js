// The resident's page: open a bundle, choose what to show, answer the bank's challenge, send, read the verdict.
// Redaction and the holder's signature happen here, on the device; only the redacted bundle (signed, when the
// certificate names its holder's key) is sent.
import { BundleError, dumps, holderBound, readBundle, redact } from "./bundle.js";
import { holderKeyFor } from "./keys.js";
import { HOLDER_CLAIM, dumps as dumpsPresentation, holderJwk, present, readChallenge } from "./presentation.js";
import { codeFromAddress, element, offerLanguages, pickLanguage, translate } from "./ui.js";

const $ = (id) => document.getElementById(id);
const state = {
  language: pickLanguage(), bundle: null, fileName: "", withheld: new Set(), verdict: null, error: null,
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
    const keys = await holderKeyFor(jwk);
    if (!keys) throw new BundleError("other_key", "no key on this device");
    const reply = await fetch("challenges", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ code }),
    });
    if (reply.status === 429) throw new BundleError("busy", "rate limited");
    if (!reply.ok) throw new BundleError("bad_code", "the bank refused the code");
    $("submit").textContent = t("send.signing");
    const challenge = readChallenge(await reply.json());
    const presentation = await present(p.bundle, challenge, keys, Math.floor(Date.now() / 1000));
    return { ...p, body: dumpsPresentation(presentation) };
  },
];

const t = (key, values) => translate(state.language, key, values);

const pretty = (name) => (name === HOLDER_CLAIM ? t("claim.cnf") : name.replaceAll("_", " "));
function shown(value) {
  if (Array.isArray(value)) return value.map(shown).join(", ");
  if (value !== null && typeof value === "object") {
    return Object.entries(value).map(([key, item]) => `${key} ${shown(item)}`).join(", ");
  }
  return String(value);
}

function date(seconds) {
  return new Intl.DateTimeFormat(state.language, { dateStyle: "long" }).format(new Date(seconds * 1000));
}

function showError(key, values) {
  state.error = key ? [key, values] : null;
  $("error").textContent = key ? t(key, values) : "";
}

async function open(file) {
  showError(null);
  state.bundle = null;
  state.verdict = null;
  try {
    state.bundle = readBundle(await file.text());
  } catch (error) {
    if (!(error instanceof BundleError)) throw error;
    showError(`error.${error.code}`);
  }
  state.fileName = file.name;
  state.withheld = new Set();
  render();
}

function renderDocument() {
  const doc = state.bundle?.document;
  $("opened").textContent = doc ? t("open.ok", { file: state.fileName }) : "";
  $("document").hidden = !doc;
  if (!doc) return;
  const rows = [["doc.issuer", doc.issuer], ["doc.type", doc.docType], ["doc.issued", date(doc.issuedAt)],
    ["doc.asOf", date(doc.asOf)], ["doc.until", date(doc.notAfter)]];
  $("document").replaceChildren(...rows.flatMap(([key, value]) =>
    [element("dt", {}, t(key)), element("dd", {}, value)]));
}

function renderClaims() {
  const claims = state.bundle?.claims ?? [];
  $("claims").replaceChildren(...claims.map((claim, i) => {
    const hidden = "redacted" in claim;
    const key = !hidden && claim.name === HOLDER_CLAIM;  // signing needs it shown
    const box = element("input", {
      type: "checkbox", id: `claim-${i}`, checked: !hidden && !state.withheld.has(claim.name), disabled: hidden || key,
    });
    box.addEventListener("change", () => {
      if (box.checked) state.withheld.delete(claim.name);
      else state.withheld.add(claim.name);
      renderChoice();
    });
    const name = element("span", { className: "claim-name" }, hidden ? "—" : pretty(claim.name));
    const value = element("span", { className: "claim-value" },
      hidden ? t("choose.already") : key ? t("choose.key") : shown(claim.value));
    const label = element("label", { htmlFor: box.id }, box, element("span", {}, name, value));
    return element("li", { className: box.checked ? "" : "withheld" }, label);
  }));
}

function renderChoice() {
  const open = (state.bundle?.claims ?? []).filter((c) => !("redacted" in c));
  const sent = open.filter((c) => !state.withheld.has(c.name)).map((c) => pretty(c.name));
  for (const box of $("claims").querySelectorAll("input")) box.closest("li").className = box.checked ? "" : "withheld";
  $("count").textContent = state.bundle ? t("choose.count", { shown: sent.length, total: open.length }) : "";
  $("summary").textContent = t("send.summary", { names: sent.length ? sent.join(", ") : t("send.nothing") });
}

function renderVerdict() {
  const v = state.verdict;
  $("verdict").hidden = !v;
  if (!v) return;
  $("outcome").textContent = t(v.valid ? "verdict.valid" : "verdict.invalid");
  $("outcome").className = v.valid ? "valid" : "invalid";
  const marks = { passed: "✓", failed: "✗", "not applicable": "–" };
  $("checks").replaceChildren(...v.checks.map((c) => element("li", { className: c.outcome.replace(" ", "-") },
    element("span", { className: "mark", ariaHidden: "true" }, marks[c.outcome] ?? "?"),
    element("span", {}, t(`check.${c.name}`),
      element("span", { className: "check-outcome" }, t(`outcome.${c.outcome}`)),
      ...(c.outcome === "failed" ? [element("span", { className: "check-detail", lang: "en" }, c.detail)] : [])))));
  const disclosed = Object.entries(v.disclosed ?? {});
  $("shown").replaceChildren(...(disclosed.length ? disclosed.flatMap(([name, value]) =>
    [element("dt", {}, pretty(name)), element("dd", {}, name === HOLDER_CLAIM ? t("choose.key") : shown(value))])
    : [element("dd", {}, t("send.nothing"))]));
}

function render() {
  document.documentElement.lang = state.language;
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-text]")) node.textContent = t(node.dataset.text);
  const loaded = Boolean(state.bundle);
  for (const step of document.querySelectorAll(".step:not(#open):not(#verdict)")) step.hidden = !loaded;
  $("consent").hidden = !(loaded && holderJwk(state.bundle));
  renderDocument();
  renderClaims();
  renderChoice();
  renderVerdict();
  if (state.error) showError(...state.error);
}

async function submit() {
  showError(null);
  const button = $("submit");
  button.disabled = true;
  button.textContent = t("send.sending");
  try {
    let presentation = { bundle: state.bundle, withheld: state.withheld };
    for (const step of PRESENTATION_STEPS) presentation = await step(presentation);
    const reply = await fetch("verifications", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: presentation.body,
    });
    if (reply.status === 429) showError("error.busy");
    else if (!reply.ok) {
      const problem = await reply.json().catch(() => ({}));
      showError("error.refused", { detail: problem.detail ?? reply.status });
    }
    else state.verdict = await reply.json();
  } catch (error) {
    if (error instanceof BundleError) showError(`error.${error.code}`);
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
addEventListener("hashchange", () => { $("code").value = codeFromAddress(); }); // a new code, same page
$("file").addEventListener("change", (event) => event.target.files[0] && open(event.target.files[0]));
$("all").addEventListener("click", () => setAll(true));
$("none").addEventListener("click", () => setAll(false));
$("submit").addEventListener("click", submit);
$("again").addEventListener("click", () => {
  Object.assign(state, { bundle: null, verdict: null, withheld: new Set() });
  $("file").value = "";
  showError(null);
  render();
  $("file").focus();
});
render();
document.body.dataset.ready = "true";
