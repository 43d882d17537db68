// Display metadata (docs/format.md, "Display metadata") on the resident's device: read a document type's labels
// and an issuer's name, check them against the digest the registry holds (keccak-256 of their RFC 8785 form; SM3
// in a deployment of the GM suite),
// and show claim values by their kind, as the Python library's format.metadata and format.display do. Runs in
// the browser and in Node.
import canonicalize from "canonicalize";

import { HASHERS, toHex } from "./bundle.js";

export const LANGUAGES = ["zh-Hant", "zh-Hans", "pt", "en"];
/** The CLDR locale each language formats numbers and dates in: Macao's. */
export const LOCALES = { "zh-Hant": "zh-Hant-MO", "zh-Hans": "zh-Hans-MO", pt: "pt-MO", en: "en-MO" };
export const DOC_TYPE_FORMAT = "crossverify-doc-type-display/1";
export const ISSUER_FORMAT = "crossverify-issuer-display/1";
const KINDS = ["text", "identifier", "amount", "number", "date", "yes-no"];
const YES_NO = { "zh-Hant": ["是", "否"], "zh-Hans": ["是", "否"], pt: ["Sim", "Não"], en: ["Yes", "No"] };
const MAX_LABEL = 120;
const MAX_CLAIMS = 200;
const SHOWN = 4;
export const MASK = "•";
const CODE = { docType: /^[A-Z0-9][A-Z0-9._-]{0,7}$/, issuer: /^[A-Z0-9][A-Z0-9._-]{0,10}$/ };

/** Metadata that is not in the agreed form (`pointer`: where), or not what the registry holds a digest of. */
export class MetadataError extends Error {
  constructor(code, detail, pointer = "") {
    super(`${code}: ${detail} (at ${pointer || "the top level"})`);
    this.code = code;
    this.pointer = pointer;
  }
}

/** The digest over the RFC 8785 form of a metadata object, as 0x-hex: keccak-256, or SM3 in the GM suite. */
export function metadataDigest(doc, suite = "standard") {
  return toHex(HASHERS[suite === "gm" ? "sm3" : "keccak256"](new TextEncoder().encode(canonicalize(doc))));
}

/** Check a parsed metadata object and return it with its `digest` (in the deployment's `suite`); a digest the
 * registry holds is `registered`. */
export function readMetadata(doc, registered, suite = "standard") {
  object(doc, "", ["format"], ["format", "docType", "issuer", "name", "claims"]);
  let read;
  if (doc.format === DOC_TYPE_FORMAT) {
    object(doc, "", ["format", "docType", "name", "claims"], []);
    code(doc.docType, CODE.docType, "/docType");
    read = { docType: doc.docType, name: words(doc.name, "/name"), claims: claims(doc.claims) };
  } else if (doc.format === ISSUER_FORMAT) {
    object(doc, "", ["format", "issuer", "name"], []);
    code(doc.issuer, CODE.issuer, "/issuer");
    read = { issuer: doc.issuer, name: words(doc.name, "/name") };
  } else {
    throw new MetadataError("MalformedMetadata", "unknown format", "/format");
  }
  read.digest = metadataDigest(doc, suite);
  if (registered !== undefined && read.digest !== registered.toLowerCase()) {
    throw new MetadataError("MetadataMismatch", `digest ${read.digest}, the registry holds ${registered}`);
  }
  return read;
}

/** The metadata's entry for claim `name`, or undefined. */
export function claimDisplay(type, name) {
  return type?.claims.find((c) => c.name === name);
}

/** Claim names in display order: those the type's metadata lists, as it lists them, then the others as given. */
export function displayOrder(type, names) {
  const known = (type?.claims ?? []).map((c) => c.name).filter((n) => names.includes(n));
  return [...known, ...names.filter((n) => !known.includes(n))];
}

/** A claim's value as it reads in `language` by its kind; identifiers stay masked unless `reveal`. */
export function claimValue(value, claim, language, reveal = false) {
  const locale = LOCALES[language];
  const kind = claim?.kind ?? "text";
  if (kind === "amount") {
    if (claim.currency && isNumber(value)) return amount(value, claim.currency, locale);
    if (!claim.currency && isCurrencies(value)) {
      return Object.entries(value).map(([currency, v]) => amount(v, currency, locale)).join(", ");
    }
  } else if (kind === "number" && isNumber(value)) {
    const text = decimal(value, locale);
    if (!claim.unit) return text;
    return `${text}${language.startsWith("zh") ? "" : " "}${claim.unit[language]}`;
  } else if (kind === "date" && typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const day = new Date(`${value}T00:00:00Z`);
    // a day of the years 1 to 9999, as the library reads them (Intl writes the year 0, 1 BC, as the year 1)
    const real = !Number.isNaN(day.getTime()) && day.toISOString().startsWith(value) && day.getUTCFullYear() >= 1;
    if (real) return calendarDate(day, language);
  } else if (kind === "identifier" && typeof value === "string" && !reveal) {
    return masked(value);
  }
  return plain(value, language);
}

/** Any JSON value as text: yes or no for booleans, grouped numbers, lists and objects spelled out. */
export function plain(value, language) {
  if (typeof value === "boolean") return YES_NO[language][value ? 0 : 1];
  if (isNumber(value)) return decimal(value, LOCALES[language]);
  if (value === null) return "—";
  if (Array.isArray(value)) return value.map((v) => plain(v, language)).join(", ");
  if (typeof value === "object") {
    return Object.entries(value).map(([k, v]) => `${k} ${plain(v, language)}`).join(", ");
  }
  return String(value);
}

/** Every letter and digit but the last four replaced by the mask; punctuation stays. */
export function masked(text) {
  let hide = [...text].filter(isAlnum).length - SHOWN;
  return [...text].map((ch) => (isAlnum(ch) && hide-- > 0 ? MASK : ch)).join("");
}

/** A calendar day (a Date at UTC midnight) in `language`'s long form. */
export function calendarDate(day, language) {
  return new Intl.DateTimeFormat(LOCALES[language], { dateStyle: "long", timeZone: "UTC" }).format(day);
}

/** A time on chain (UNIX seconds) as the calendar date it falls on in Macao. */
export function moment(seconds, language) {
  return new Intl.DateTimeFormat(LOCALES[language], { dateStyle: "long", timeZone: "Asia/Macau" })
    .format(new Date(seconds * 1000));
}

/** `value` in `currency` with every decimal it holds, and at least the currency's (never rounded to them); -0 reads
 * as 0, as RFC 8785 writes it (the digest does not tell them apart). */
function amount(value, currency, locale) {
  const format = new Intl.NumberFormat(locale, { style: "currency", currency });
  if (decimals(value) <= format.resolvedOptions().maximumFractionDigits) return format.format(value + 0);
  return new Intl.NumberFormat(locale, { style: "currency", currency, maximumSignificantDigits: 21 }).format(value);
}

/** A number with every digit it holds (a double's shortest form has at most 17), grouped; -0 reads as 0. */
function decimal(value, locale) {
  return new Intl.NumberFormat(locale, { maximumSignificantDigits: 21 }).format(value + 0);
}

/** How many digits `value` has after the point, written out. */
function decimals(value) {
  const [digits, exponent] = Math.abs(value).toExponential().split("e");
  return Math.max(0, (digits.split(".")[1] ?? "").length - Number(exponent));
}

const isNumber = (v) => typeof v === "number" && Number.isFinite(v);
const isAlnum = (ch) => /[\p{L}\p{N}]/u.test(ch);
const isCurrencies = (v) => v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 0 &&
  Object.entries(v).every(([k, n]) => /^[A-Z]{3}$/.test(k) && isNumber(n));

function object(value, pointer, required, allowed) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new MetadataError("MalformedMetadata", "expected a JSON object", pointer);
  }
  for (const name of [...required].sort()) {
    if (!Object.hasOwn(value, name)) throw new MetadataError("MalformedMetadata", `missing member ${name}`, pointer);
  }
  for (const name of Object.keys(value).sort()) {
    if (!required.includes(name) && !allowed.includes(name)) {
      throw new MetadataError("MalformedMetadata", `unexpected member ${name}`, `${pointer}/${escape(name)}`);
    }
  }
}

function code(value, pattern, pointer) {
  if (typeof value !== "string" || !pattern.test(value)) {
    throw new MetadataError("MalformedMetadata", "not a registry code", pointer);
  }
}

function text(value, pointer) {
  const length = typeof value === "string" ? [...value].length : 0;
  if (!length || length > MAX_LABEL || value !== value.trim()) {
    throw new MetadataError("MalformedMetadata", `expected 1-${MAX_LABEL} characters`, pointer);
  }
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(value)) {
    throw new MetadataError("MalformedMetadata", "control, format and line separator characters are not allowed",
      pointer);
  }
  return value;
}

function words(value, pointer) {
  object(value, pointer, LANGUAGES, []);
  return Object.fromEntries(LANGUAGES.map((lang) => [lang, text(value[lang], `${pointer}/${lang}`)]));
}

function claims(value) {
  if (!Array.isArray(value) || !value.length || value.length > MAX_CLAIMS) {
    throw new MetadataError("MalformedMetadata", `expected a list of 1-${MAX_CLAIMS} claims`, "/claims");
  }
  const seen = new Set();
  return value.map((claim, i) => {
    const pointer = `/claims/${i}`;
    object(claim, pointer, ["name", "kind", "label"], ["currency", "unit"]);
    const { name, kind, currency } = claim;
    if (typeof name !== "string" || !name.length || [...name].length > 64 || seen.has(name)) {
      throw new MetadataError("MalformedMetadata", "expected a claim name, named once", `${pointer}/name`);
    }
    seen.add(name);
    if (!KINDS.includes(kind)) throw new MetadataError("MalformedMetadata", "unknown kind", `${pointer}/kind`);
    if (currency !== undefined && (kind !== "amount" || typeof currency !== "string" || !/^[A-Z]{3}$/.test(currency))) {
      throw new MetadataError("MalformedMetadata", "not an ISO 4217 currency", `${pointer}/currency`);
    }
    if (claim.unit !== undefined && kind !== "number") {
      throw new MetadataError("MalformedMetadata", "only a number has a unit", `${pointer}/unit`);
    }
    return { name, kind, label: words(claim.label, `${pointer}/label`), currency,
      unit: claim.unit === undefined ? undefined : words(claim.unit, `${pointer}/unit`) };
  });
}

function escape(name) {
  return name.replaceAll("~", "~0").replaceAll("/", "~1");
}
