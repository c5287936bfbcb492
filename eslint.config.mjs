// Flat config: typescript-eslint's recommended type-aware rules, with prettier owning formatting.
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: ["node_modules/", "cdktf.out/", ".tools/", "**/dist/", "coverage/", "**/fixtures/"],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "no-restricted-imports": [
        "error",
        {
          paths: [
            {
              name: "@cdktf/provider-aws",
              message: "Import provider classes by path: @cdktf/provider-aws/lib/<resource>.",
            },
            {
              name: "@cdktf/provider-helm",
              message: "Import provider classes by path: @cdktf/provider-helm/lib/<resource>.",
            },
            {
              name: "@cdktf/provider-kubernetes",
              message:
                "Import provider classes by path: @cdktf/provider-kubernetes/lib/<resource>.",
            },
          ],
        },
      ],
    },
  },
  prettier,
);
