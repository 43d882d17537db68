// The regulator's console: sign in with the regulator's API key (exchanged for a short-lived session cookie the
// page cannot read), then an overview of a period, every figure a link to its rows (filtered, paged, exported as
// CSV), and a document's circulation from its file (hashed here, never uploaded) or its digest. Everything the page
// shows comes from /v1/regulator/..., in the language chosen here; nothing is stored in the browser.
import { documentDigest, readBundle, toHex } from "../shared/bundle.js";
import { LOCALES } from "../shared/metadata.js";
import { bars, columns, fitLabels } from "./charts.js";
import { LANGUAGES, STRINGS } from "./strings.js";

const $ = (id) => document.getElementById(id);
const VIEWS = ["overview", "anomalies", "receipts", "anchors", "revocations", "disputes", "document"];
/** The filters each table takes beside the period. */
const FILTERS = {
  receipts: ["issuer", "bank", "purpose", "docType", "consent"],
  anchors: ["issuer", "docType"],
  revocations: ["issuer", "reason"],
  anomalies: ["kind", "bank", "issuer"],
  disputes: ["bank", "issuer"],
};
const CHOICES = {
  consent: ["presentation", "in_person", "none"],
  reason: ["withdrawn", "superseded", "fraud", "issued_in_error"],
  kind: Object.keys(STRINGS.en).filter((k) => k.startsWith("kind.") && k.endsWith(".title"))
    .map((k) => k.slice(5, -6)),
};
const PAGE_ROWS = 50;

const state = { language: pickLanguage(), name: null, names: { banks: {}, issuers: {}, docTypes: {} }, known: {},
  shown: null, cursors: [null], asked: 0 };

class Halt extends Error {}

/** Stops drawing the view asked for as `asked` once another was asked for since: its answers came too late. */
function still(asked) {
  if (asked !== state.asked) throw new Halt();
}

function pickLanguage() {
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
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/** A figure as Macao writes it in the console's language (as the static report and the resident's pages do). */
const number = (n) => new Intl.NumberFormat(LOCALES[state.language]).format(n);
/** A time to the minute, in UTC (the tables say so in their headings, the timeline beside each time). */
const when = (seconds) => new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ");
const short = (hex) => (hex && hex.length > 18 ? `${hex.slice(0, 10)}…${hex.slice(-6)}` : hex ?? "");
const bank = (address) => state.names.banks[(address ?? "").toLowerCase()] ?? short(address);
/** An issuer or a document type by the name its registered display metadata gives, else by its code. */
const issuer = (id) => state.names.issuers[id]?.[state.language] ?? id ?? "";
const docType = (code) => state.names.docTypes[code]?.[state.language] ?? code ?? "";
const purpose = (code) => (STRINGS.en[`purpose.${code}`] ? t(`purpose.${code}`) : code);

function consentWords(consent, row) {
  if (consent === "in_person") return row.case ? t("consent.in_person", { case: row.case }) : t("consent.in_person.short");
  return t(`consent.${consent}`);
}

// -- the service ---------------------------------------------------------------------------------------------------

async function api(path, params = {}, init = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, value]) => value)).toString();
  let response;
  try {
    response = await fetch(path + (query ? `?${query}` : ""), {
      credentials: "same-origin", headers: { Accept: "application/json", "Content-Type": "application/json" },
      ...init,
    });
  } catch {
    throw new Error(t("error.network"));
  }
  if (response.status === 401 && !path.endsWith("/session")) {
    signedOut(t("login.ended"));
    throw new Halt();
  }
  if (response.status === 204) return null;
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw Object.assign(new Error(t("error.refused", { detail: body.detail ?? response.statusText })),
      { status: response.status });
  }
  return body;
}

// -- signing in and out --------------------------------------------------------------------------------------------

function signedOut(message = "") {
  state.name = null;
  state.shown = null;
  state.asked += 1;  // nothing asked for before is drawn
  for (const id of VIEWS.filter((v) => $(v)).concat(["rows"])) $(id).hidden = true;
  for (const id of ["cards", "kinds", "charts", "table", "timeline", "doc-anomalies"]) $(id).replaceChildren();
  for (const id of ["freshness", "who", "computed", "dispute-figures", "page"]) $(id).textContent = "";
  $("tabs").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("error").textContent = message;
  $("key").focus();
}

async function signIn(event) {
  event.preventDefault();
  const key = $("key").value.trim();
  $("key").value = "";
  try {
    const who = await api("/regulator/session", {}, { method: "POST", body: JSON.stringify({ key }) });
    started(who.name);
  } catch (error) {
    if (!(error instanceof Halt)) $("error").textContent = error.status === 401 ? t("login.refused") : error.message;
  }
}

async function signOut() {
  try {
    await api("/regulator/session", {}, { method: "DELETE" });
  } catch (error) {
    $("error").textContent = error.message;  // the service may still hold the session: still signed in
    return;
  }
  history.replaceState(null, "", location.pathname);
  signedOut();
}

function started(name) {
  state.name = name;
  $("login").hidden = true;
  $("tabs").hidden = false;
  $("logout").hidden = false;
  $("error").textContent = "";
  $("who").textContent = t("signedIn", { name });
  const { view } = parsed();
  if (view === "overview") {
    route();
    return;
  }
  api("/v1/regulator/overview").then(learn).catch(() => null).finally(route);  // names for any first view
}

// -- navigation: the view and its filters live in the address's fragment -----------------------------------------

function parsed() {
  const [view, query] = location.hash.slice(1).split("?");
  return { view: VIEWS.includes(view) ? view : "overview", params: Object.fromEntries(new URLSearchParams(query)) };
}

function link(view, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, value]) => value)).toString();
  return `#${view}${query ? `?${query}` : ""}`;
}

async function route() {
  if (!state.name) return;
  const asked = ++state.asked;
  const { view, params } = parsed();
  for (const a of $("tabs").querySelectorAll("a")) {
    if (a.dataset.view === view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  $("overview").hidden = view !== "overview";
  $("rows").hidden = !(view in FILTERS) && view !== "anomalies";
  $("document").hidden = view !== "document";
  $("error").textContent = "";
  try {
    if (view === "overview") await showOverview(params, asked);
    else if (view === "document") await showDocument(params, asked);
    else await showRows(view, params, asked);
  } catch (error) {
    if (!(error instanceof Halt) && asked === state.asked) $("error").textContent = error.message;
  }
}

function freshness(f) {
  if (!f || f.indexedBlock === null) return t("fresh.never");
  const block = number(f.indexedBlock);
  if (f.behind === null) return t("fresh.unknown", { block });
  return f.behind === 0 ? t("fresh.current", { block }) : t("fresh.behind", { block, behind: number(f.behind) });
}

// -- the overview --------------------------------------------------------------------------------------------------

/** The names and the values the filters offer, from an overview (of the whole index, or of a period). */
function learn(data) {
  for (const view of ["receipts", "disputes", "document"]) {  // opened with the regulator's keys only
    $("tabs").querySelector(`[data-view="${view}"]`).hidden = !data.keyed;
  }
  state.names = { ...data.names,
    banks: Object.fromEntries(Object.entries(data.names.banks).map(([a, n]) => [a.toLowerCase(), n])) };
  state.known = {
    bank: (data.receiptsByBank ?? []).map((r) => r.value),
    issuer: (data.issuedByIssuer ?? []).map((r) => r.value),
    purpose: (data.receiptsByPurpose ?? []).map((r) => r.value),
    docType: (data.issuedByDocType ?? []).map((r) => r.value),
  };
}

/** Where the index's history came from: the registries of a succession, and when each was recorded. */
function succession(held) {
  const steps = held.map((r, i) => (i === 0
    ? t("history.first", { registry: r.registry, chain: r.chainId, genesis: short(r.genesis) })
    : t("history.next", { registry: r.registry, chain: r.chainId, genesis: short(r.genesis),
      recorded: when(held[i - 1].recordedAsPredecessorAt),
      batches: number(r.reanchoredBatches), revocations: number(r.restoredRevocations) })));
  return t("history.from", { count: held.length, steps: steps.join("; ") });
}

async function showOverview(params, asked) {
  const data = await api("/v1/regulator/overview", { from: params.from, to: params.to });
  still(asked);
  learn(data);
  state.shown = { view: "overview", params, data };
  drawOverview();
}

function drawOverview() {
  const { params, data } = state.shown;
  const period = { from: params.from, to: params.to };
  $("freshness").textContent = freshness(data.freshness);
  $("history").hidden = !(data.registries?.length > 1);
  $("history").textContent = $("history").hidden ? "" : succession(data.registries);
  $("period").replaceChildren(
    el("label", {}, t("period.from"), " ", el("input", { type: "date", name: "from", value: params.from ?? "" })),
    el("label", {}, t("period.to"), " ", el("input", { type: "date", name: "to", value: params.to ?? "" })),
    el("button", { type: "submit" }, t("period.apply")),
    el("a", { href: "#overview", className: "button secondary" }, t("period.all")));
  const totals = data.totals;
  const card = (key, value, href) => el("a", { className: "card", href }, el("b", {}, number(value)), el("span", {}, t(key)));
  const cards = [card("card.issued", totals.issued, link("anchors", period)),
    card("card.revoked", totals.revoked, link("revocations", period))];
  if (data.keyed) {
    cards.push(card("card.verified", totals.verified, link("receipts", period)),
      card("card.receipts", totals.receipts, link("receipts", period)),
      card("card.withoutConsent", totals.withoutConsent, link("receipts", { ...period, consent: "none" })),
      card("card.disputes", data.disputes.count, link("disputes", period)));
  } else {
    cards.push(card("card.sealed", totals.sealed, link("anomalies", period)));
  }
  cards.push(card("card.anomalies", totals.anomalies, link("anomalies", period)));
  $("cards").replaceChildren(...cards);
  $("kinds").replaceChildren(...(data.anomalies.length ? data.anomalies.map((a) => el("article",
    { className: `kind ${a.severity}` },
    el("h4", {}, el("a", { href: link("anomalies", { ...period, kind: a.kind }) }, t(`kind.${a.kind}.title`)), " ",
      el("span", { className: "count" }, t("anomalies.count", { count: number(a.count) })), " ",
      el("span", { className: `severity ${a.severity}` }, t(`severity.${a.severity}`))),
    el("p", {}, t(`kind.${a.kind}.meaning`)),
    el("p", {}, el("b", {}, t("anomalies.next")), " ", t(`kind.${a.kind}.next`)))) : [el("p", {}, t("anomalies.none"))]));
  const receipts = data.keyed ? "receipts" : "anomalies";
  const figure = (title, chart) => el("figure", {}, el("figcaption", {}, title),
    chart ?? el("p", { className: "hint" }, t("chart.none")));
  const charts = [
    figure(t("chart.byDay"), data.receiptsByDay.length ? columns(t("chart.byDay"), data.receiptsByDay.map((r) => ({
      label: r.value, amount: r.amount, href: link(receipts, { from: r.value, to: r.value }) })), number,
    (value) => t("report.chart.max", { value })) : null),
    figure(t("chart.byBank"), data.receiptsByBank.length ? bars(t("chart.byBank"), data.receiptsByBank.map((r) => ({
      label: bank(r.value), amount: r.amount, href: link(receipts, { ...period, bank: r.value }) })), number) : null),
  ];
  if (data.keyed) {
    for (const [key, rows, filter, name] of [
      ["chart.byPurpose", data.receiptsByPurpose, "purpose", purpose],
      ["chart.byConsent", data.receiptsByConsent, "consent", (v) => t(v === "none" ? "consent.none" : `consent.${v}.short`)],
      ["chart.byIssuer", data.receiptsByIssuer, "issuer", issuer],
      ["chart.byDocType", data.receiptsByDocType, "docType", docType]]) {
      charts.push(figure(t(key), rows.length ? bars(t(key), rows.map((r) => ({
        label: name(r.value), amount: r.amount, href: link("receipts", { ...period, [filter]: r.value }) })), number)
        : null));
    }
  }
  charts.push(
    figure(t("chart.issuedByIssuer"), data.issuedByIssuer.length ? bars(t("chart.issuedByIssuer"),
      data.issuedByIssuer.map((r) => ({ label: issuer(r.value), amount: r.amount,
        href: link("anchors", { ...period, issuer: r.value }) })), number) : null),
    figure(t("chart.revokedByReason"), data.revokedByReason.length ? bars(t("chart.revokedByReason"),
      data.revokedByReason.map((r) => ({ label: t(`reason.${r.value}`), amount: r.amount,
        href: link("revocations", { ...period, reason: r.value }) })), number) : null));
  $("charts").replaceChildren(...charts);
  fitLabels($("charts"));
  if (data.keyed) {
    const open = data.disputes.openByAge;
    const states = Object.entries(data.disputes.byState).map(([s, n]) => `${t(`state.${s}`)}: ${number(n)}`);
    const ages = data.disputes.byState.open ? [t("disputes.open", { under1: number(open["under 1 day"] ?? 0),
      under5: number(open["1 to 5 days"] ?? 0), over5: number(open["over 5 days"] ?? 0) })] : [];
    $("dispute-figures").replaceChildren(data.disputes.count ? el("a", { href: link("disputes", period) },
      [...states, ...ages].join(" · ")) : t("disputes.none"));
  } else {
    $("dispute-figures").textContent = "";
  }
}

// -- rows of a table -----------------------------------------------------------------------------------------------

async function showRows(view, params, asked) {
  const table = view;
  const key = JSON.stringify([view, params]);
  if (state.rowsKey !== key) {
    state.rowsKey = key;
    state.cursors = [null];
  }
  const after = state.cursors.at(-1);
  const [data, fresh] = await Promise.all([
    table === "disputes" ? api("/v1/regulator/disputes", params)
      : api(`/v1/regulator/tables/${table}`, { ...params, after, limit: PAGE_ROWS }),
    api("/v1/regulator/freshness")]);
  still(asked);
  state.shown = { view, params, data, fresh };
  drawRows();
}

function drawRows() {
  const { view, params, data, fresh } = state.shown;
  $("freshness").textContent = freshness(fresh);
  $("rows-title").textContent = t(`nav.${view}`);
  const fields = [
    el("label", {}, t("period.from"), " ", el("input", { type: "date", name: "from", value: params.from ?? "" })),
    el("label", {}, t("period.to"), " ", el("input", { type: "date", name: "to", value: params.to ?? "" })),
  ];
  for (const name of FILTERS[view]) {
    const label = t(`filter.${name}`);
    if (name in CHOICES) {
      const words = (v) => (name === "kind" ? t(`kind.${v}.title`)
        : name === "consent" ? t(v === "none" ? "consent.none" : `consent.${v}.short`) : t(`reason.${v}`));
      fields.push(el("label", {}, label, " ", el("select", { name },
        el("option", { value: "" }, t("filter.any")),
        ...CHOICES[name].map((v) => el("option", { value: v, selected: params[name] === v }, words(v))))));
    } else {
      const list = `known-${name}`;
      fields.push(el("label", {}, label, " ", el("input", { name, value: params[name] ?? "", spellcheck: false,
        autocomplete: "off", size: name === "bank" ? 44 : 12 }, ), el("datalist", { id: list },
        ...(state.known[name] ?? []).map((v) => el("option", { value: v },
          { bank, purpose, issuer, docType }[name](v))))));
      fields.at(-1).querySelector("input").setAttribute("list", list);
    }
  }
  fields.push(el("button", { type: "submit" }, t("filter.apply")),
    el("a", { href: `#${view}`, className: "button secondary" }, t("filter.clear")));
  $("filters").replaceChildren(...fields);
  const query = new URLSearchParams(Object.entries(params).filter(([, value]) => value)).toString();
  const exported = view === "disputes" ? "/v1/regulator/disputes/csv" : `/v1/regulator/tables/${view}/csv`;
  $("export").href = `${exported}${query ? `?${query}` : ""}`;
  const rows = view === "disputes" ? data : data.rows;
  const spec = TABLES[view];
  $("table").replaceChildren(
    el("thead", {}, el("tr", {}, ...spec.map(([name]) => el("th", { scope: "col" }, t(`column.${name}`))))),
    el("tbody", {}, ...(rows.length ? rows.map((row) => el("tr", {}, ...spec.map(([, cell]) => el("td", {}, cell(row)))))
      : [el("tr", {}, el("td", { colSpan: spec.length }, t("table.empty")))])));
  const paged = view !== "disputes";
  $("previous").hidden = !paged || state.cursors.length < 2;
  $("next").hidden = !paged || !data.after;
  $("page").textContent = paged ? t("table.page", { page: state.cursors.length }) : "";
}

const documentLink = (digest) => (digest ? el("a", { href: link("document", { digest }), className: "digest" },
  short(digest)) : "");

/** How an anomaly's detail reads, by its name: codes in words, banks by name, times (Unix seconds) as the table's. */
const worded = (prefix) => (v) => (STRINGS.en[`${prefix}.${v}`] ? t(`${prefix}.${v}`) : v);
const DETAIL_VALUES = { scope: worded("scope"), reason: worded("reason"), purpose, firstPurpose: purpose, firstBy: bank };

/** An anomaly's details, each named in the console's language (by its own name where the words have none). */
function details(values) {
  const name = (k) => (STRINGS.en[`detail.${k}`] ? t(`detail.${k}`) : k);
  const value = (k, v) => (typeof v === "string" && /^0x[0-9a-f]{64}$/i.test(v) ? short(v)
    : /At$|^notAfter$/.test(k) && Number.isSafeInteger(v) ? `${when(v)} UTC`
      : typeof v === "string" && k in DETAIL_VALUES ? DETAIL_VALUES[k](v) : String(v));
  return el("dl", { className: "details" }, ...Object.entries(values).flatMap(([k, v]) => [el("dt", {}, name(k)),
    el("dd", {}, value(k, v))]));
}

/** Each table's columns: a name (column.*) and how a row fills its cell. */
const TABLES = {
  receipts: [
    ["when", (r) => when(r.recordedAt)], ["bank", (r) => bank(r.bank)], ["issuer", (r) => issuer(r.issuer)],
    ["docType", (r) => docType(r.docType)], ["purpose", (r) => purpose(r.purpose)],
    ["consent", (r) => el("span", { className: `consent ${r.consent}` }, consentWords(r.consent, r))],
    ["document", (r) => documentLink(r.documentDigest)]],
  anchors: [
    ["when", (r) => when(r.anchoredAt)], ["issuer", (r) => issuer(r.issuer)], ["docType", (r) => docType(r.docType)],
    ["documents", (r) => number(r.documents)], ["validUntil", (r) => when(r.notAfter)],
    ["batch", (r) => short(r.batchRoot)]],
  revocations: [
    ["when", (r) => when(r.revokedAt)], ["issuer", (r) => issuer(r.issuer)], ["scope", (r) => t(`scope.${r.scope}`)],
    ["reason", (r) => t(`reason.${r.reason}`)], ["documents", (r) => number(r.documents)],
    ["counts", (r) => (r.counted ? t("yes") : t("no"))],
    ["document", (r) => (r.scope === "document" ? documentLink(r.target) : short(r.target))]],
  anomalies: [
    ["when", (r) => when(r.raisedAt)],
    ["severity", (r) => el("span", { className: `severity ${r.severity}` }, t(`severity.${r.severity}`))],
    ["kind", (r) => t(`kind.${r.kind}.title`)], ["bank", (r) => bank(r.bank)], ["issuer", (r) => issuer(r.issuer)],
    ["document", (r) => documentLink(r.documentDigest)], ["details", (r) => details(r.details)]],
  disputes: [
    ["when", (r) => when(r.openedAt)], ["bank", (r) => bank(r.verifier)], ["issuer", (r) => issuer(r.issuer)],
    ["reason", (r) => t(`reason.${r.reason}`)], ["state", (r) => t(`state.${r.state}`)],
    ["age", (r) => number(r.ageDays)], ["document", (r) => documentLink(r.documentDigest)]],
};

function filtered(event) {
  event.preventDefault();
  const values = Object.fromEntries([...new FormData(event.target)].filter(([, value]) => value));
  location.hash = link(parsed().view, values);
}

// -- one document --------------------------------------------------------------------------------------------------

async function showDocument(params, asked) {
  $("digest").value = params.digest ?? "";
  if (!params.digest) {
    const fresh = await api("/v1/regulator/freshness");
    still(asked);
    state.shown = { view: "document", params, data: null, fresh };
    drawDocument();
    return;
  }
  if (!/^0x[0-9a-fA-F]{64}$/.test(params.digest)) throw new Error(t("error.bad_digest"));
  const [data, fresh] = await Promise.all([api(`/v1/regulator/documents/${params.digest}`),
    api("/v1/regulator/freshness")]);
  still(asked);
  state.shown = { view: "document", params, data, fresh };
  drawDocument();
}

function drawDocument() {
  const { data, fresh, params } = state.shown;
  $("freshness").textContent = freshness(fresh);
  $("computed").textContent = state.computed && state.computed.digest === params.digest
    ? t("doc.computed", { file: state.computed.file, digest: state.computed.digest }) : "";
  if (!data) {
    $("timeline").replaceChildren();
    $("doc-anomalies").replaceChildren();
    return;
  }
  const said = data.events.map((e) => el("li", { className: `event ${e.event}` },
    el("time", { dateTime: new Date(e.at * 1000).toISOString() }, `${when(e.at)} UTC`), " ",
    el("span", {}, sentence(e))));
  const nothing = !data.events.some((e) => e.event === "verified" || e.event === "disputed");
  $("timeline").replaceChildren(...said, ...(nothing ? [el("li", { className: "event none" }, t("doc.none"))] : []));
  $("doc-anomalies").replaceChildren(...(data.anomalies.length ? [el("h3", {}, t("doc.anomalies")),
    ...data.anomalies.map((a) => el("article", { className: `kind ${a.severity}` },
      el("h4", {}, t(`kind.${a.kind}.title`), " ", el("span", { className: `severity ${a.severity}` },
        t(`severity.${a.severity}`))),
      el("p", {}, t(`kind.${a.kind}.meaning`)),
      el("p", {}, el("b", {}, t("anomalies.next")), " ", t(`kind.${a.kind}.next`))))] : []));
}

function sentence(e) {
  switch (e.event) {
    case "anchored":
      return t("event.anchored", { issuer: issuer(e.issuer), docType: docType(e.docType), documents: number(e.documents),
        until: when(e.notAfter) });
    case "verified":
      return t("event.verified", { bank: bank(e.verifier), purpose: purpose(e.purpose),
        consent: consentWords(e.consent, e) });
    case "revoked":
      return t(e.counted ? "event.revoked" : "event.revoked.void", { issuer: issuer(e.issuer),
        scope: t(`scope.${e.scope}`),
        reason: t(`reason.${e.reason}`) });
    case "disputed":
      return t("event.disputed", { bank: bank(e.verifier), reason: t(`reason.${e.reason}`),
        state: t(`state.${e.state}`) });
    default:
      return t(e.signedByIssuer ? "event.answered" : "event.answered.forged", { state: t(`state.${e.answer}`) });
  }
}

async function dropped(file) {
  if (!file) return;
  try {
    const parsedFile = JSON.parse(await file.text());
    const text = parsedFile && parsedFile.binding && parsedFile.bundle ? JSON.stringify(parsedFile.bundle)
      : JSON.stringify(parsedFile);
    const digest = toHex(documentDigest(readBundle(text)));
    state.computed = { file: file.name, digest };
    location.hash = link("document", { digest });
  } catch (error) {
    const code = error instanceof SyntaxError ? "not_json" : error.code;
    $("error").textContent = STRINGS.en[`error.${code}`] ? t(`error.${code}`) : error.message;
  }
}

// -- the page ------------------------------------------------------------------------------------------------------

function translate() {
  document.documentElement.lang = state.language;
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-text]")) node.textContent = t(node.dataset.text);
  $("login-hint").textContent = t("login.hint", { minutes: 15 });
  if (state.name) $("who").textContent = t("signedIn", { name: state.name });
  if (!state.shown) return;
  if (state.shown.view === "overview") drawOverview();
  else if (state.shown.view === "document") drawDocument();
  else drawRows();
}

function start() {
  $("language").replaceChildren(...Object.entries(LANGUAGES).map(([tag, name]) =>
    el("option", { value: tag, lang: tag, selected: tag === state.language }, name)));
  $("language").addEventListener("change", (event) => {
    state.language = event.target.value;
    translate();
  });
  $("login-form").addEventListener("submit", signIn);
  $("logout").addEventListener("click", signOut);
  $("period").addEventListener("submit", filtered);
  $("filters").addEventListener("submit", filtered);
  $("next").addEventListener("click", () => {
    state.cursors.push(state.shown.data.after);
    route();
  });
  $("previous").addEventListener("click", () => {
    state.cursors.pop();
    route();
  });
  $("digest-form").addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = link("document", { digest: $("digest").value.trim() });
  });
  $("file").addEventListener("change", (event) => {
    dropped(event.target.files[0]);
    event.target.value = "";  // choosing the same file again reads it again
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    dropped(event.dataTransfer.files[0]);
  });
  window.addEventListener("hashchange", route);
  translate();
  api("/regulator/session").then((who) => (who.name ? started(who.name) : signedOut())).catch(() => signedOut());
}

start();
