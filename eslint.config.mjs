// ESLint over the project's JavaScript: the resident pages and the regulator's console (browser modules), their tests under Node and the
// Hardhat node's configuration. The recommended rules, among them no-undef, so a name used without its import
// fails the test command (tests/service/test_page_lint.py).
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["src/crossverify/service/page/vendor/", "node_modules/", ".venv/", ".venv-slither/", "build/",
    "test-output/", "demo-out/"] },
  js.configs.recommended,
  { rules: { "no-unused-vars": ["error", { ignoreRestSiblings: true }] } }, // `{ dropped, ...kept } = object`
  {
    files: ["src/crossverify/service/page/**/*.js", "src/crossverify/service/console/**/*.js"],
    languageOptions: { ecmaVersion: 2024, sourceType: "module", globals: globals.browser },
  },
  {
    files: ["**/*.mjs"],
    languageOptions: { ecmaVersion: 2024, sourceType: "module", globals: globals.node },
  },
  {
    files: ["tests/node/*.js"],
    languageOptions: { ecmaVersion: 2024, sourceType: "commonjs", globals: globals.node },
  },
];
