// SPDX-License-Identifier: Apache-2.0
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bpf/**', 'release/**', 'renderer/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
    },
  },
  {
    // The renderer is untrusted browser code: browser globals only, and no reaching into the
    // privileged side. It may bundle the pure policy modules and import the contract's types.
    files: ['renderer/src/**/*.{ts,tsx}'],
    languageOptions: {
      globals: {
        ...Object.fromEntries(
          Object.keys(globals.node)
            .filter((k) => !(k in globals.browser))
            .map((k) => [k, 'off']),
        ),
        ...globals.browser,
      },
    },
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'electron', message: 'The renderer talks to main only through window.netTcFilter.' },
            { name: 'koffi', message: 'Native code belongs to the main process.' },
          ],
          patterns: [
            { group: ['node:*'], message: 'The renderer is sandboxed: no Node modules.' },
            {
              regex: '(^|/)electron/(engine|backend|main|cli|demo|preload)(/|$)',
              message:
                'Only electron/policy/{doc,fields,addr,types,diagnostics,advice,when,units} and the IPC contract types are for the renderer.',
            },
            {
              regex:
                '(^|/)electron/policy/(?!(doc|fields|addr|types|diagnostics|advice|when|units)(\\.js)?$)',
              message:
                'Only electron/policy/{doc,fields,addr,types,diagnostics,advice,when,units} are pure enough for the renderer.',
            },
            {
              regex: '(^|/)electron/ipc/contract(\\.js)?$',
              allowTypeImports: true,
              message: 'Use `import type` from the contract (its schemas need zod, which stays in main).',
            },
            {
              regex: '(^|/)electron/ipc/(?!(contract|channels)(\\.js)?$)',
              message: 'The gateway and handlers run in main.',
            },
          ],
        },
      ],
    },
  },
);
