// Flat config. TypeScript is linted with type information (projectService reads tsconfig.json);
// plain JS (bin/, bench/, this file) is linted without it. The import rules below keep
// STYLE §2 true: http and cli → services → store, crypto, ports.
import js from '@eslint/js'
import pluginVue from 'eslint-plugin-vue'
import tseslint from 'typescript-eslint'

// `globals` is only a transitive dependency, so the few Node globals plain JS uses are listed here.
const nodeGlobals = Object.fromEntries(
  [
    'AbortController',
    'AbortSignal',
    'Buffer',
    'URL',
    'URLSearchParams',
    'TextDecoder',
    'TextEncoder',
    'clearImmediate',
    'clearInterval',
    'clearTimeout',
    'console',
    'fetch',
    'global',
    'globalThis',
    'performance',
    'process',
    'queueMicrotask',
    'setImmediate',
    'setInterval',
    'setTimeout',
    'structuredClone',
  ].map((name) => [name, 'readonly']),
)

const fastifyImports = {
  group: ['fastify', 'fastify/*', '@fastify/*'],
  message: 'Only http/ (and app.ts, container.ts) know Fastify (STYLE §2).',
}
const httpOrCliImports = {
  group: ['**/http', '**/http/**', '**/cli', '**/cli/**'],
  message: 'Dependencies point inward: http and cli call services, never the reverse (STYLE §2).',
}

// Rule options replace each other instead of merging, so every folder's no-restricted-syntax
// list starts from the one for all of src/.
const processEnvRead = {
  selector: "MemberExpression[object.name='process'][property.name='env']",
  message:
    'Only src/serve.ts and src/cli/index.ts read process.env; take a Config slice instead (STYLE §1, §5).',
}

// InnoDB picks deadlock victims among ordinary concurrent writes; inTransaction runs them again,
// and runs what must follow the commit (afterCommit) on the transaction object it opened: a
// copy made with a plugin or another schema, or a connection of its own, would lose both.
const directTransaction = {
  selector:
    'CallExpression[callee.property.name=/^(transaction|startTransaction|connection|withPlugin|withoutPlugins|withSchema)$/][arguments.length<=1]',
  message:
    'Open transactions with inTransaction (store/transactions.ts), which retries deadlock victims and runs afterCommit hooks; use the Db it hands you as it is.',
}

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'web/dist/',
      'coverage/',
      'data/',
      'web/src/api/openapi.ts',
    ],
  },

  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // A dropped promise in a server is a lost error and an unhandled rejection.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },

  // Plain JavaScript: Node scripts, no type information.
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      sourceType: 'module',
      globals: nodeGlobals,
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'off',
    },
  },

  // The web app (STYLE §9): single-file components parsed by vue-eslint-parser with the
  // TypeScript parser for <script lang="ts">; vue-tsc type-checks them (npm run typecheck),
  // so the type-aware rules stay on the .ts files, which web/tsconfig.json covers.
  ...pluginVue.configs['flat/recommended'].map((config) => ({
    ...config,
    files: ['web/**/*.vue'],
  })),
  {
    files: ['web/**/*.vue'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.vue'] },
    },
    rules: {
      // Prettier owns layout.
      'vue/max-attributes-per-line': 'off',
      'vue/singleline-html-element-content-newline': 'off',
      'vue/multiline-html-element-content-newline': 'off',
      'vue/html-self-closing': 'off',
      'vue/html-indent': 'off',
      'vue/html-closing-bracket-newline': 'off',
      'vue/first-attribute-linebreak': 'off',
      // Page names are single words by design (LoginPage.vue is "Login" + "Page").
      'vue/multi-word-component-names': 'off',
    },
  },
  {
    files: ['web/**/*.ts', 'web/**/*.vue'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/src/**', '../../src/**'],
              message: 'The web app talks to the server only over HTTP (STYLE §11).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['web/src/**/*.ts', 'web/src/**/*.vue'],
    languageOptions: {
      globals: {
        window: 'readonly',
        document: 'readonly',
        navigator: 'readonly',
        fetch: 'readonly',
        atob: 'readonly',
        Blob: 'readonly',
        URL: 'readonly',
        URLSearchParams: 'readonly',
        TextDecoder: 'readonly',
        Response: 'readonly',
        HTMLElement: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
      },
    },
  },

  // Layer boundaries (STYLE §1–§2).
  {
    files: ['src/**/*.ts'],
    ignores: ['src/serve.ts', 'src/cli/index.ts'],
    rules: {
      'no-restricted-syntax': ['error', processEnvRead, directTransaction],
    },
  },
  {
    files: ['src/store/transactions.ts'],
    rules: {
      'no-restricted-syntax': ['error', processEnvRead],
    },
  },
  {
    files: ['src/services/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'node:crypto',
              importNames: ['randomBytes', 'randomInt', 'randomUUID', 'getRandomValues'],
              message: 'Services take randomness from the Random port (STYLE §3).',
            },
          ],
          patterns: [fastifyImports, httpOrCliImports],
        },
      ],
    },
  },
  {
    files: ['src/services/**/*.ts'],
    // ports.ts defines the Clock port and holds systemClock, its one production reading of time.
    ignores: ['src/services/ports.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        processEnvRead,
        directTransaction,
        {
          selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
          message: 'Services read time from the Clock port (STYLE §3).',
        },
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'Services read time from the Clock port (STYLE §3).',
        },
      ],
    },
  },
  {
    files: ['src/app.ts', 'src/http/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              // problem.ts still asks the store whether an error means the database is down.
              group: ['**/store/**', '!**/store/errors.js'],
              message:
                'Dependencies point inward: the app and routes call services, not the store (STYLE §2).',
            },
            {
              group: ['kysely', 'kysely/*'],
              message: 'Routes run no SQL: a service or a store function does (STYLE §2).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/store/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            fastifyImports,
            httpOrCliImports,
            {
              group: ['**/services/**', '!**/services/errors.js', '!**/services/ports.js'],
              message:
                'store knows Kysely and the tables, not services; only services/errors.js and services/ports.js (STYLE §2).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/crypto/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['fs', 'fs/*', 'node:fs', 'node:fs/*'],
              message: 'crypto/ does no I/O (STYLE §1).',
            },
            fastifyImports,
            {
              group: ['kysely', 'kysely/*', '**/store', '**/store/**'],
              message: 'crypto/ knows no storage (STYLE §1).',
            },
          ],
        },
      ],
    },
  },

  // Tests poke at parsed JSON and known-present values; the unsafe-* rules only add noise there.
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
)
