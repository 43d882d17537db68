// What the resident's pages share: the language they speak, their words, and building elements.
import { MetadataError, moment, readMetadata } from "./metadata.js";
import { LANGUAGES, STRINGS } from "./strings.js";

/** What the pages keep on this device (localStorage), by key: nothing in a browser set to keep no site data,
 * where every use of its storage throws. */
export const kept = {
  get: (key) => stored(() => localStorage.getItem(key), null),
  set: (key, value) => stored(() => localStorage.setItem(key, value)),
  remove: (key) => stored(() => localStorage.removeItem(key)),
};

function stored(use, otherwise) {
  try {
    return use();
  } catch (error) {
    if (!(error instanceof DOMException)) throw error;
    return otherwise;
  }
}

/** The language saved on this device, else the browser's first that the pages speak, else Traditional Chinese. */
export function pickLanguage() {
  const saved = kept.get("language");
  if (saved && Object.hasOwn(STRINGS, saved)) return saved;
  for (const tag of navigator.languages ?? [navigator.language]) {
    const lower = tag.toLowerCase();
    if (lower.startsWith("zh")) return /hans|cn|sg/.test(lower) ? "zh-Hans" : "zh-Hant";
    if (lower.startsWith("pt")) return "pt";
    if (lower.startsWith("en")) return "en";
  }
  return "zh-Hant";
}

/** The words for `key` in `language` (English if missing), with `{name}` filled from `values`. */
export function translate(language, key, values = {}) {
  const text = STRINGS[language][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "");
}

export function element(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** The hand-over code in the address's fragment (from a QR code): fragments are never sent to a server. One that is
 * not valid percent-encoding is given as written, for the service to refuse. */
export function codeFromAddress() {
  const found = /(?:^|&)code=([^&]+)/.exec(location.hash.slice(1));
  if (!found) return "";
  try {
    return decodeURIComponent(found[1]);
  } catch (error) {
    if (!(error instanceof URIError)) throw error;
    return found[1];
  }
}

/** Fills the language `select`; a choice is kept on this device and the page rendered again in it. */
export function offerLanguages(select, state, render) {
  select.replaceChildren(...Object.entries(LANGUAGES).map(([tag, name]) =>
    element("option", { value: tag, lang: tag, selected: tag === state.language }, name)));
  select.addEventListener("change", (event) => {
    state.language = event.target.value;
    kept.set("language", state.language);
    render();
  });
}

/** Whose page this is: `{name, issuer, suite}`, the service's own name in each language ([display] name), on an
 * issuer's service the issuer's name as registered (checked here against its digest), null for either unknown, and
 * the consortium's crypto suite ("standard" or "gm"; null when the service could not be asked: not a guess). */
export async function fetchInstitution(url) {
  let suite = null;
  try {
    const reply = await fetch(url);
    if (!reply.ok) return { name: null, issuer: null, suite, purposes: {} };
    const found = await reply.json();
    suite = found.suite === "gm" ? "gm" : "standard";
    const issuer = found.issuer?.metadata ? readMetadata(found.issuer.metadata, found.issuer.digest, suite).name : null;
    return { name: found.name ?? null, issuer, suite, purposes: found.purposes ?? {} };
  } catch (error) {
    if (!(error instanceof MetadataError || error instanceof TypeError || error instanceof SyntaxError)) throw error;
    return { name: null, issuer: null, suite, purposes: {} };
  }
}

/** The display metadata of a document's issuer and type, each checked here against the digest the service read
 * from the registry: `{issuer, type, refused}`. Metadata that does not match, or that the service could not have,
 * is not used: the page shows the names in the file, and says so (`refused`). */
export async function fetchDisplay(url, doc, suite = "standard") {
  const display = { issuer: null, type: null, refused: false };
  try {
    const query = new URLSearchParams({ issuer: doc.issuer, docType: doc.docType });
    const reply = await fetch(`${url}?${query}`);
    if (!reply.ok) return { ...display, refused: true };
    const found = await reply.json();
    for (const [part, key] of [["issuer", "issuer"], ["docType", "type"]]) {
      const { digest, metadata, problem } = found[part] ?? {};
      if (problem === "MetadataMismatch") display.refused = true; // (unavailable: nobody here publishes it)
      if (!metadata) continue;
      const read = readMetadata(metadata, digest, suite);
      if ((part === "issuer" ? read.issuer : read.docType) !== doc[part]) throw new MetadataError("MetadataMismatch");
      display[key] = read;
    }
    return display;
  } catch (error) {
    if (!(error instanceof MetadataError || error instanceof TypeError || error instanceof SyntaxError)) throw error;
    return { issuer: null, type: null, refused: true };
  }
}

/** The document's issuer, type and dates as description list rows, named by their metadata where there is one. */
export function documentRows(doc, display, language, t) {
  const named = (name, code) => (name ? element("span", { lang: language }, name[language]) : code);
  const rows = [["doc.issuer", named(display?.issuer?.name, doc.issuer)],
    ["doc.type", named(display?.type?.name, doc.docType)], ["doc.issued", moment(doc.issuedAt, language)],
    ["doc.asOf", moment(doc.asOf, language)], ["doc.until", moment(doc.notAfter, language)]];
  return rows.flatMap(([key, value]) => [element("dt", {}, t(key)), element("dd", {}, value)]);
}
