// The resident's page: open a bundle, choose what to show, send the redacted bundle, read the bank's verdict.
// Redaction happens here, on the device; only the redacted bundle is sent.
import { BundleError, dumps, readBundle, redact } from "./bundle.js";
import { LANGUAGES, STRINGS } from "./strings.js";

const $ = (id) => document.getElementById(id);
const state = {
  language: pickLanguage(), bundle: null, fileName: "", withheld: new Set(), verdict: null, error: null,
};

// What goes to the bank is built by these steps, in order, from the bundle and the names to withhold.
// A consent step (the holder's signature over the bank's challenge) belongs after "redact".
const PRESENTATION_STEPS = [
  async (p) => ({ ...p, bundle: redact(p.bundle, [...p.withheld]) }),
];

function pickLanguage() {
  const saved = localStorage.getItem("language");
  if (saved && Object.hasOwn(STRINGS, saved)) return saved;
  for (const tag of navigator.languages ?? [navigator.language]) {
    const lower = tag.toLowerCase();
    if (lower.startsWith("zh")) return /hans|cn|sg/.test(lower) ? "zh-Hans" : "zh-Hant";
    if (lower.startsWith("pt")) return "pt";
    if (lower.startsWith("en")) return "en";
  }
  return "zh-Hant";
}

function t(key, values = {}) {
  const text = STRINGS[state.language][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "");
}

function element(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

const pretty = (name) => name.replaceAll("_", " ");
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
    const box = element("input", {
      type: "checkbox", id: `claim-${i}`, checked: !hidden && !state.withheld.has(claim.name), disabled: hidden,
    });
    box.addEventListener("change", () => {
      if (box.checked) state.withheld.delete(claim.name);
      else state.withheld.add(claim.name);
      renderChoice();
    });
    const name = element("span", { className: "claim-name" }, hidden ? "—" : pretty(claim.name));
    const value = element("span", { className: "claim-value" }, hidden ? t("choose.already") : shown(claim.value));
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
    [element("dt", {}, pretty(name)), element("dd", {}, shown(value))]) : [element("dd", {}, t("send.nothing"))]));
}

function render() {
  document.documentElement.lang = state.language;
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-text]")) node.textContent = t(node.dataset.text);
  const loaded = Boolean(state.bundle);
  for (const step of document.querySelectorAll(".step:not(#open):not(#verdict)")) step.hidden = !loaded;
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
      method: "POST", headers: { "Content-Type": "application/json" }, body: dumps(presentation.bundle),
    });
    if (reply.status === 429) showError("error.busy");
    else if (!reply.ok) {
      const problem = await reply.json().catch(() => ({}));
      showError("error.refused", { detail: problem.detail ?? reply.status });
    }
    else state.verdict = await reply.json();
  } catch (error) {
    if (error instanceof BundleError) showError(`error.${error.code}`);
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
    if (!("redacted" in claim)) show ? state.withheld.delete(claim.name) : state.withheld.add(claim.name);
  }
  renderClaims();
  renderChoice();
}

$("language").replaceChildren(...Object.entries(LANGUAGES).map(([tag, name]) =>
  element("option", { value: tag, lang: tag, selected: tag === state.language }, name)));
$("language").addEventListener("change", (event) => {
  state.language = event.target.value;
  localStorage.setItem("language", state.language);
  render();
});
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
