import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { files: ["scripts/**"], languageOptions: { globals: { console: "readonly" } } },
  // The web UI's page scripts run in the browser, as ES modules.
  { files: ["webui/**/*.js"], languageOptions: { sourceType: "module", globals: globals.browser } },
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
);
