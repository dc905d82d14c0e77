// Builds native/okc-fs (the engine's syncfs and parallel fsync, electron/services/native-fs.ts)
// with node-gyp: run by `npm install` (package.json "install"), like better-sqlite3's own build.
// Node-API only, so the same file serves Node and the packaged Electron. The engine works without
// it (it falls back to `sync -f` and one fsync at a time), but an install that cannot build it
// fails here, loudly, as better-sqlite3's does: a machine that cannot build one cannot build the other.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'native', 'okc-fs');
const require = createRequire(import.meta.url);

// npm hands its own node-gyp to install scripts; run directly, the project's copy is used.
let gyp = process.env.npm_config_node_gyp;
if (!gyp || !existsSync(gyp)) {
  try {
    gyp = require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    gyp = undefined;
  }
}
if (!gyp) {
  console.error('native/okc-fs: node-gyp was not found (npm bundles one for install scripts). Run `npm install` again from the project folder.');
  process.exit(1);
}
const env = { ...process.env };
// Node's headers: npm's nodedir setting, else those installed beside this Node (Debian's /usr/include/node),
// never a download (air-gapped hosts).
if (!env.npm_config_nodedir) {
  const prefix = dirname(dirname(process.execPath));
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) env.npm_config_nodedir = prefix;
}
const r = spawnSync(process.execPath, [gyp, 'rebuild', '--release', '--directory', dir], { stdio: ['ignore', 'ignore', 'pipe'], env, encoding: 'utf8' });
if (r.status !== 0) {
  console.error(r.stderr);
  console.error('native/okc-fs could not be built (see above): it needs python3, make, a C compiler and Node\'s headers, as better-sqlite3 does.');
  process.exit(1);
}
console.log(`native/okc-fs built: ${join('native', 'okc-fs', 'build', 'Release', 'okc_fs.node')}`);
