// `npm run dist`: builds the app and packages it with electron-builder
// (build/electron-builder.yml): AppImage, deb and dir for Linux x64 and arm64.
// Extra arguments go to electron-builder (e.g. `npm run dist -- --x64 --dir`).
// Needs the Electron 38.4.0 release zips and headers: downloaded on a networked
// host; offline, from the caches and zips carried over (README "Packaging":
// -c.electronDist=<folder of zips>, ELECTRON_BUILDER_CACHE). Never part of `npm install`.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env });
  if (r.status !== 0) {
    process.stderr.write(`\n${[cmd, ...args].join(' ')} failed (exit ${r.status ?? r.signal}).\n`);
    process.exit(r.status ?? 1);
  }
};
run(process.execPath, [join(root, 'build', 'build.mjs'), 'all']);
run(process.execPath, [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'renderer/vite.config.ts', '--logLevel', 'warn']);
const extra = process.argv.slice(2);
run(process.execPath, [join(root, 'node_modules', 'electron-builder', 'cli.js'), '--config', 'build/electron-builder.yml', '--linux', ...extra]);
