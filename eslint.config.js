// ESLint 9 flat config. Besides style, it enforces the layers:
//   main → ipc → services → shared;  browser shell → ipc, main/renderer-files;  cli → services;  preload → shared;  renderer → shared.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

const nodeBuiltins = ['node:*', 'fs', 'path', 'os', 'crypto', 'child_process', 'stream', 'util', 'url', 'worker_threads', 'events', 'zlib', 'buffer'];

const layer = (patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'out/**', 'test-results/**', 'playwright-report/**', 'resources/demo-kit/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['shared/**/*.ts'],
    rules: layer([
      { group: ['electron', 'electron/*'], message: 'shared/ is pure: no electron.' },
      { group: nodeBuiltins, message: 'shared/ is pure: no Node built-ins.' },
      { group: ['**/electron/**', '**/renderer/**', 'react', 'react-dom'], message: 'shared/ imports neither the engine nor the renderer.' },
    ]),
  },
  {
    files: ['electron/services/**/*.ts', 'electron/cli/**/*.ts', 'electron/ipc/**/*.ts'],
    rules: layer([
      { group: ['electron', 'electron/*'], message: 'The engine, CLI and IPC handlers are plain Node: importing electron tries to download a binary here.' },
      { group: ['**/renderer/**', 'react', 'react-dom'], message: 'The engine never imports the renderer.' },
      { group: ['**/main/**', '**/preload/**'], message: 'The engine never imports the Electron shell.' },
    ]),
  },
  {
    files: ['electron/services/**/*.ts'],
    rules: layer([
      { group: ['electron', 'electron/*'], message: 'Services are plain Node: importing electron tries to download a binary here.' },
      { group: ['**/renderer/**', 'react', 'react-dom'], message: 'Services never import the renderer.' },
      { group: ['**/main/**', '**/preload/**', '**/ipc/**', '**/cli/**'], message: 'Services sit below main, ipc and cli.' },
    ]),
  },
  {
    files: ['electron/browser/**/*.ts'],
    rules: layer([
      { group: ['electron', 'electron/*'], message: 'The browser shell runs where no Electron exists: it never imports electron.' },
      { group: ['**/renderer/**', 'react', 'react-dom'], message: 'The browser shell never imports the renderer.' },
    ]),
  },
  {
    files: ['electron/preload/**/*.ts'],
    rules: layer([
      { group: ['**/services/**', '**/ipc/**', '**/main/**', '**/renderer/**'], message: 'The preload only bridges the contract: it imports shared/ and electron.' },
      { group: nodeBuiltins, message: 'A sandboxed preload cannot use Node built-ins.' },
    ]),
  },
  {
    files: ['renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      ...layer([
        { group: ['electron', 'electron/*'], message: 'The renderer talks to the engine only through the injected API.' },
        { group: nodeBuiltins, message: 'The renderer runs in a sandbox: no Node built-ins.' },
        { group: ['**/electron/**'], message: 'The renderer never imports the engine, IPC or shell.' },
      ]),
    },
  },
);
