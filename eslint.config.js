// ESLint 9 flat config. Besides style, it enforces the layers drawn in docs/architecture.md:
//   electron/main → electron/ipc → electron/services → shared
//   electron/main → electron/cli (headless `mirror` mode only) ;  electron/cli → electron/services → shared
//   electron/browser (the Playwright shell) → electron/ipc, electron/main/renderer-files.ts → shared
//   electron/preload → shared ;  renderer → shared
// Paths are judged by the file an import resolves to (build/eslint-layers.mjs: layers/allowed-imports);
// package names (electron, react, Node built-ins) by no-restricted-imports. Every relative import names a
// module file, not a folder (layers/explicit-module). Import cycles: build/check-cycles.mjs (npm test).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import layers from './build/eslint-layers.mjs';

const nodeBuiltins = ['node:*', 'fs', 'path', 'os', 'crypto', 'child_process', 'stream', 'util', 'url', 'worker_threads', 'events', 'zlib', 'buffer'];

const packages = (patterns) => ['error', { patterns }];
const noElectron = (message) => ({ group: ['electron', 'electron/*'], message });
const noReact = (message) => ({ group: ['react', 'react-dom', 'react/*', 'react-dom/*'], message });
const noNode = (message) => ({ group: nodeBuiltins, message });

const TESTS = ['**/*.test.ts', '**/*.test.tsx'];
/** What a layer's tests may use besides the layer's own imports: the test helpers and package.json. */
const TEST_ALLOW = ['electron/services/testing', 'package.json'];

const rulesFor = ({ name, allow, deny, why, forbidPackages = [] }) => ({
  'layers/allowed-imports': ['error', { layer: name, allow, why, ...(deny ? { deny } : {}) }],
  ...(forbidPackages.length ? { 'no-restricted-imports': packages(forbidPackages) } : {}),
});

/**
 * One layer: which files, what they may import (repo-relative folders or files), why, and its
 * package rules. Two blocks: the layer's code, and its tests (which may also use TEST_ALLOW).
 */
function layer(def) {
  const { files, ignores = [], allow } = def;
  return [
    { files, ignores: [...ignores, ...TESTS], rules: rulesFor(def) },
    // A nested array in `files` means every pattern must match: the layer's files that are tests.
    { files: files.map((f) => [f, '**/*.test.{ts,tsx}']), ignores, rules: rulesFor({ ...def, allow: [...allow, ...TEST_ALLOW] }) },
  ];
}
const COMMANDS = 'electron/cli/commands';
const commandsDeny = (allowDynamic) => [
  {
    path: COMMANDS,
    allowDynamic,
    why: allowDynamic
      ? 'the command table loads each command with import() when it runs, so `mirror <cmd>` loads only that command; a static import would load them all.'
      : 'commands do not import each other (each is loaded on its own, lazily); put what two commands share in electron/cli/shared.ts, electron/cli/output.ts or the engine.',
  },
];
const cliAllow = ['electron/cli', 'electron/services', 'shared'];
const cliWhy = 'The CLI is a thin adapter over the engine (electron/services/engine.ts, the composition root); it never goes through the IPC handlers.';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'out/**', 'test-results/**', 'playwright-report/**', 'resources/demo-kit/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    plugins: { layers },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
      'layers/explicit-module': 'error',
    },
  },
  ...layer({
    files: ['shared/**/*.ts'],
    name: 'shared',
    allow: ['shared'],
    why: 'shared/ is pure: the contract, types and rules every layer uses; it depends on none of them.',
    forbidPackages: [noElectron('shared/ is pure: no electron.'), noNode('shared/ is pure: no Node built-ins.'), noReact('shared/ imports no UI.')],
  }),
  ...layer({
    files: ['electron/services/**/*.ts'],
    name: 'electron/services',
    allow: ['electron/services', 'shared'],
    why: 'The engine sits below main, ipc and cli and never imports the shell or the renderer.',
    forbidPackages: [noElectron('Services are plain Node: importing electron tries to download a binary here.'), noReact('Services never import the renderer.')],
  }),
  ...layer({
    files: ['electron/ipc/**/*.ts'],
    name: 'electron/ipc',
    allow: ['electron/ipc', 'electron/services', 'shared'],
    why: 'The IPC handler table is a thin adapter over the engine (electron/services/engine.ts); it never goes through the CLI and imports no shell code.',
    forbidPackages: [noElectron('The IPC handlers are plain Node (tests and the browser shell mount the same table): importing electron tries to download a binary here.'), noReact('The IPC handlers never import the renderer.')],
  }),
  ...layer({
    files: ['electron/cli/**/*.ts'],
    name: 'electron/cli',
    allow: cliAllow,
    why: cliWhy,
    forbidPackages: [noElectron('The CLI is plain Node: importing electron tries to download a binary here.'), noReact('The CLI never imports the renderer.')],
  }),
  ...layer({
    files: [`${COMMANDS}/*.ts`],
    ignores: [`${COMMANDS}/index.ts`, ...TESTS],
    name: `a command in ${COMMANDS}`,
    allow: cliAllow,
    deny: commandsDeny(false),
    why: cliWhy,
    forbidPackages: [noElectron('The CLI is plain Node: importing electron tries to download a binary here.'), noReact('The CLI never imports the renderer.')],
  }),
  ...layer({
    files: [`${COMMANDS}/index.ts`],
    name: `${COMMANDS}/index.ts`,
    allow: cliAllow,
    deny: commandsDeny(true),
    why: cliWhy,
    forbidPackages: [noElectron('The CLI is plain Node: importing electron tries to download a binary here.'), noReact('The CLI never imports the renderer.')],
  }),
  ...layer({
    files: ['electron/main/**/*.ts'],
    name: 'electron/main',
    allow: ['electron/main', 'electron/ipc', 'electron/cli/mirror.ts', 'electron/cli/help.ts', 'electron/cli/engine-client.ts', 'electron/cli/engine-link.ts', 'shared'],
    why: 'The shell registers the IPC handler table (which opens the engine through its composition root) and, in headless mode, runs the CLI entry (first handing an import to a resident engine, as the launcher does); it reaches the services only through them.',
    forbidPackages: [noReact('The shell never imports the renderer: it serves the built files.')],
  }),
  ...layer({
    files: ['electron/preload/**/*.ts'],
    name: 'electron/preload',
    allow: ['electron/preload', 'shared'],
    why: 'The preload only bridges the contract: it imports shared/ and electron.',
    forbidPackages: [noNode('A sandboxed preload cannot use Node built-ins.'), noReact('The preload never imports the renderer.')],
  }),
  ...layer({
    files: ['electron/browser/**/*.ts'],
    name: 'electron/browser',
    allow: ['electron/browser', 'electron/ipc', 'electron/main/renderer-files.ts', 'shared'],
    why: 'The browser shell (Playwright) mounts the same IPC handler table as the app and serves the renderer files the same way.',
    forbidPackages: [noElectron('The browser shell runs where no Electron exists: it never imports electron.'), noReact('The browser shell never imports the renderer.')],
  }),
  {
    files: ['renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: reactHooks.configs.recommended.rules,
  },
  ...layer({
    files: ['renderer/**/*.{ts,tsx}'],
    name: 'renderer',
    allow: ['renderer', 'shared'],
    why: 'The renderer talks to the engine only through the injected API (the IPC contract in shared/).',
    forbidPackages: [noElectron('The renderer talks to the engine only through the injected API.'), noNode('The renderer runs in a sandbox: no Node built-ins.')],
  }),
);
