// Every word the console shows, in its four languages: the regulator's words (src/crossverify/regulator/words.json,
// which the static report reads too; the same keys in each language, a test checks). `kind.*` are the anomaly kinds
// as docs/regulator.md explains them, `purpose.*` the purpose codes banks use.
export const LANGUAGES = { "zh-Hant": "繁體中文", "zh-Hans": "简体中文", pt: "Português", en: "English" };

const answer = await fetch(new URL("../words.json", import.meta.url));
if (!answer.ok) throw new Error(`the console's words could not be read (${answer.status})`);
export const STRINGS = await answer.json();
