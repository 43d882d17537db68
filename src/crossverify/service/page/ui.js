// What the resident's pages share: the language they speak, their words, and building elements.
import { LANGUAGES, STRINGS } from "./strings.js";

/** The language saved on this device, else the browser's first that the pages speak, else Traditional Chinese. */
export function pickLanguage() {
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

/** The hand-over code in the address's fragment (from a QR code): fragments are never sent to a server. */
export function codeFromAddress() {
  const found = /(?:^|&)code=([^&]+)/.exec(location.hash.slice(1));
  return found ? decodeURIComponent(found[1]) : "";
}

/** Fills the language `select`; a choice is kept on this device and the page rendered again in it. */
export function offerLanguages(select, state, render) {
  select.replaceChildren(...Object.entries(LANGUAGES).map(([tag, name]) =>
    element("option", { value: tag, lang: tag, selected: tag === state.language }, name)));
  select.addEventListener("change", (event) => {
    state.language = event.target.value;
    localStorage.setItem("language", state.language);
    render();
  });
}
