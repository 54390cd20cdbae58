import effectPlugin from "@effect/eslint-plugin"
import tseslint from "typescript-eslint"

export default tseslint.config(
  {
    ignores: [
      "**/build/**",
      "**/node_modules/**",
      "**/dist/**",
      "**/coverage/**",
      "**/*.md",
      "**/*.tmp.*",
      "**/*.tmp/**"
    ]
  },
  ...tseslint.configs.recommended,
  ...effectPlugin.configs.dprint,
  {
    languageOptions: { parser: tseslint.parser },
    rules: {
      "@effect/dprint": ["error", {
        config: {
          indentWidth: 2,
          lineWidth: 120,
          semiColons: "asi",
          quoteStyle: "alwaysDouble",
          trailingCommas: "never",
          operatorPosition: "maintain",
          "arrowFunction.useParentheses": "force"
        }
      }],
      // TypeScript's analogue of forbid(unsafe_code)
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-non-null-assertion": "error",
      "no-eval": "error",
      "no-implied-eval": "error",
      "no-new-func": "error",
      "no-restricted-properties": ["error", {
        object: "JSON",
        property: "parse",
        message: "Wire data never goes through JSON.parse: use Json.parse (lossless integers)."
      }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/array-type": ["error", { default: "generic", readonly: "generic" }]
    }
  },
  {
    // no floating point in the kernel's decision arithmetic: integers only (exact doubles below
    // 2^53 on the proven fast path, bigints elsewhere); Math.floor of an exact quotient is the
    // one rounding allowed (see Kernel.div)
    files: [
      "packages/core/src/Kernel.ts",
      "packages/core/src/internal/compile.ts",
      "packages/budget/src/LedgerState.ts"
    ],
    rules: {
      "no-restricted-syntax": ["error", {
        selector: "Literal[raw=/^[0-9_]*\\.[0-9]|^[0-9_.]+[eE]-/]",
        message: "No fractional literals in decision arithmetic."
      }, {
        selector: "MemberExpression[object.name='Math'][property.name=/^(round|ceil|fround|random|sqrt|pow|log|exp)$/]",
        message: "No floating-point rounding or transcendental functions in decision arithmetic."
      }, {
        selector:
          "CallExpression[callee.name='parseFloat'], MemberExpression[property.name=/^(parseFloat|toFixed|toPrecision)$/]",
        message: "No float parsing or formatting in decision arithmetic."
      }]
    }
  },
  {
    // wire data is decoded with Schemas, never cast; test files may build fixtures freely
    files: ["packages/*/src/**/*.ts"],
    rules: {
      "no-restricted-globals": ["error", { name: "eval", message: "No eval." }]
    }
  }
)
