// Flat config: the recommended JS and TypeScript rules; tests may use non-null assertions.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.aetherlens/**', 'coverage/**', 'tmp/**', '**/*.tmp.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  { files: ['test/**'], rules: { '@typescript-eslint/no-non-null-assertion': 'off' } },
  // Operators' job scripts run with zx's globals, as under the zx command.
  { files: ['ops/jobs/examples/**'], languageOptions: { globals: { $: 'readonly', fs: 'readonly', path: 'readonly', which: 'readonly' } } },
);
