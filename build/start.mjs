// `npm start`: opens the desktop console, in Electron when a binary exists,
// else in the installed Chromium / Chrome / Edge (the browser shell,
// electron/browser/shell.ts). `OKC_SHELL=electron|browser` forces one; the
// first line says which shell opened and why.
// Finds an Electron binary WITHOUT require('electron') (which tries to download
// one on machines without it): ELECTRON_OVERRIDE_DIST_PATH, or
// node_modules/electron/path.txt + node_modules/electron/dist/. With neither an
// Electron nor a browser it says so plainly and exits non-zero. Otherwise it
// builds (main, preload, browser shell, CLI, renderer), prepares an
// Electron-ABI better-sqlite3 when it can (Electron only), and launches.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CHROMIUM_CANDIDATES, which } from './preflight.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ELECTRON_PIN = '38.4.0';

function binaryName(platform = process.platform) {
  if (platform === 'darwin') return 'Electron.app/Contents/MacOS/Electron';
  if (platform === 'win32') return 'electron.exe';
  return 'electron';
}

/**
 * Where an Electron binary is, or why there is none.
 * @returns {{ binary: string, source: string } | { binary: null, tried: string[] }}
 */
export function findElectron(env = process.env, base = root) {
  const tried = [];
  if (env.ELECTRON_OVERRIDE_DIST_PATH) {
    const bin = join(env.ELECTRON_OVERRIDE_DIST_PATH, binaryName());
    if (existsSync(bin)) return { binary: bin, source: 'ELECTRON_OVERRIDE_DIST_PATH' };
    tried.push(`${bin} (from ELECTRON_OVERRIDE_DIST_PATH): missing`);
  }
  const pkgDir = join(base, 'node_modules', 'electron');
  const pathTxt = join(pkgDir, 'path.txt');
  if (existsSync(pathTxt)) {
    const bin = join(pkgDir, 'dist', readFileSync(pathTxt, 'utf8').trim());
    if (existsSync(bin)) return { binary: bin, source: 'node_modules/electron' };
    tried.push(`${bin} (from node_modules/electron/path.txt): missing`);
  } else {
    tried.push(`${pathTxt}: missing (the optional electron package did not install its binary)`);
  }
  return { binary: null, tried };
}

export function noElectronMessage(tried) {
  return [
    'No Electron binary is available on this machine, so the desktop console cannot open here.',
    '',
    'Looked at:',
    ...tried.map((t) => `  - ${t}`),
    '',
    'To get one, on a machine with internet access:',
    `  npm install electron@${ELECTRON_PIN}    # its install script downloads the binary into node_modules/electron/dist`,
    'or point ELECTRON_OVERRIDE_DIST_PATH at an unpacked Electron release folder (the one holding the electron executable):',
    '  ELECTRON_OVERRIDE_DIST_PATH=/opt/electron-v38.4.0-linux-x64 npm start',
    '',
    'Everything the console does is also available without Electron, from the command line:',
    '  npx --no -- mirror --help',
    '',
  ].join('\n');
}

/** The installed Chromium-family browser (OKC_CHROMIUM wins), or null. */
export function findBrowser(env = process.env, find = (c) => which(c, env)) {
  if (env.OKC_CHROMIUM) return find(env.OKC_CHROMIUM);
  for (const c of CHROMIUM_CANDIDATES) {
    const p = find(c);
    if (p) return p;
  }
  return null;
}

/**
 * Which shell opens, and why (pure).
 * @param {{ env: Record<string, string|undefined>, electron: { binary: string|null, source?: string, tried?: string[] }, browser: string|null }} facts
 * @returns {{ shell: 'electron'|'browser'|null, reason: string }}
 */
export function chooseShell({ env, electron, browser }) {
  const forced = env.OKC_SHELL;
  if (forced !== undefined && forced !== '' && forced !== 'electron' && forced !== 'browser') {
    return { shell: null, reason: `OKC_SHELL=${forced} is not a shell: use OKC_SHELL=electron or OKC_SHELL=browser.` };
  }
  if (forced === 'electron') {
    return electron.binary ? { shell: 'electron', reason: `forced by OKC_SHELL=electron (${electron.binary})` } : { shell: null, reason: 'OKC_SHELL=electron, but no Electron binary is available.' };
  }
  if (forced === 'browser') {
    return browser ? { shell: 'browser', reason: `forced by OKC_SHELL=browser (${browser})` } : { shell: null, reason: `OKC_SHELL=browser, but no Chromium, Chrome or Edge was found (looked for OKC_CHROMIUM, ${CHROMIUM_CANDIDATES.join(', ')} on PATH).` };
  }
  if (electron.binary) return { shell: 'electron', reason: `an Electron binary was found (${electron.source}: ${electron.binary})` };
  if (browser) return { shell: 'browser', reason: `no Electron binary on this machine; using the installed Chromium-family browser ${browser} as an app window` };
  return { shell: null, reason: 'neither an Electron binary nor a Chromium, Chrome or Edge is available.' };
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env });
  if (r.status !== 0) {
    process.stderr.write(`\n${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal}).\n`);
    process.exit(r.status ?? 1);
  }
}

function electronVersion(binary) {
  const versionFile = join(dirname(binary), binaryName() === 'electron' || process.platform === 'win32' ? '' : '../../..', 'version');
  if (existsSync(versionFile)) return readFileSync(versionFile, 'utf8').trim().replace(/^v/, '');
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8', env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
  return (r.stdout ?? '').trim().replace(/^v/, '') || null;
}

/**
 * better-sqlite3 for Electron's ABI, in a folder of its own (.electron-native/),
 * so node_modules keeps the Node build the CLI and tests use. Best effort: needs
 * @electron/rebuild and Electron headers (internet) the first time.
 */
function prepareNativeSqlite(version) {
  if (!version) return;
  const outDir = join(root, '.electron-native', `electron-${version}`);
  const out = join(outDir, 'better_sqlite3.node');
  if (existsSync(out)) return;
  const work = join(root, '.electron-native', 'src', 'better-sqlite3');
  process.stdout.write(`Building better-sqlite3 for Electron ${version} into ${outDir} (once)…\n`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(dirname(work), { recursive: true });
  cpSync(join(root, 'node_modules', 'better-sqlite3'), work, { recursive: true, filter: (src) => !src.includes(`${join('better-sqlite3', 'build')}`) });
  const r = spawnSync('npx', ['--yes', '@electron/rebuild', '--version', version, '--module-dir', work, '--force', '--only', 'better-sqlite3'], { cwd: root, stdio: 'inherit' });
  const built = join(work, 'build', 'Release', 'better_sqlite3.node');
  if (r.status === 0 && existsSync(built)) {
    mkdirSync(outDir, { recursive: true });
    copyFileSync(built, out);
  } else {
    process.stderr.write(
      `Could not build better-sqlite3 for Electron ${version} (needs internet the first time). The console will report the database as unavailable.\n` +
        'Retry on a networked machine, or set OKC_SQLITE_NATIVE_BINDING to an Electron-ABI better_sqlite3.node.\n',
    );
  }
}

function buildAll() {
  // The e2e of the browser shell runs after `npm test` built everything and skips this step.
  if (process.env.OKC_START_SKIP_BUILD === '1') return;
  run(process.execPath, [join(root, 'build', 'build.mjs'), 'all']);
  run(process.execPath, [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'renderer/vite.config.ts', '--logLevel', 'warn']);
}

/** Forwards Ctrl-C / SIGTERM to the shell and leaves with its exit code once it has closed. */
function follow(child) {
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
}

async function main() {
  const found = findElectron();
  const browser = findBrowser();
  const choice = chooseShell({ env: process.env, electron: found, browser });
  if (!choice.shell) {
    process.stderr.write(`npm start: ${choice.reason}\n\n`);
    if (!found.binary) process.stderr.write(noElectronMessage(found.tried));
    if (!browser) process.stderr.write('Without Electron the console opens in an installed Chromium, Chrome or Edge: install one (Debian: apt-get install chromium) or set OKC_CHROMIUM=/path/to/chromium.\n');
    process.exit(1);
  }
  process.stdout.write(`npm start: opening the ${choice.shell === 'electron' ? 'Electron' : 'browser'} shell, because ${choice.reason}.\n`);
  if (choice.shell === 'browser') {
    buildAll();
    const child = spawn(process.execPath, [join(root, 'dist', 'browser', 'shell.mjs')], { cwd: root, stdio: 'inherit', env: { ...process.env, OKC_BROWSER_EXECUTABLE: browser } });
    follow(child);
    return;
  }
  buildAll();
  if (!process.env.OKC_SQLITE_NATIVE_BINDING) prepareNativeSqlite(electronVersion(found.binary));
  if (process.getuid?.() === 0 && !process.argv.includes('--no-sandbox')) {
    process.stderr.write('Note: Electron does not start as root. Run the console as a normal user (or, knowingly, `npm start -- --no-sandbox`).\n');
  }
  const env = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE;
  follow(spawn(found.binary, [root, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit', env }));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
