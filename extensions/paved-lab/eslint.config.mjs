// ESLint (flat config): JavaScript's and typescript-eslint's recommended rules, React's and the rules of hooks,
// for the extension's sources and its tests. `npm run lint`; `make test` runs it.
import js from '@eslint/js';
import react from 'eslint-plugin-react';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['lib/', 'paved_lab/', 'node_modules/', 'tsconfig.tsbuildinfo'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.{ts,tsx}'],
    ...react.configs.flat.recommended,
    plugins: { react, 'react-hooks': reactHooks },
    languageOptions: { ...react.configs.flat.recommended.languageOptions, globals: globals.browser },
    settings: { react: { version: 'detect' } },
    rules: {
      ...react.configs.flat.recommended.rules,
      ...reactHooks.configs.recommended.rules,
      // JupyterLab's token namespaces (`StatusCommandIDs`) are namespaces by convention.
      '@typescript-eslint/no-namespace': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }]
    }
  },
  {
    files: ['scripts/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    // CommonJS scripts: `const crypto = require('crypto')` names the module as Node's global does.
    rules: { '@typescript-eslint/no-require-imports': 'off', 'no-redeclare': 'off' }
  }
);
