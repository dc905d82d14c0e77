// Runs the Electron e2e: under xvfb-run when there is no display, directly
// otherwise (and directly when no Electron binary exists: the tests skip with
// one message naming the missing binary).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = process.platform === 'win32' ? 'electron.exe' : process.platform === 'darwin' ? 'Electron.app/Contents/MacOS/Electron' : 'electron';
const pathTxt = join(root, 'node_modules', 'electron', 'path.txt');
const haveElectron =
  (process.env.ELECTRON_OVERRIDE_DIST_PATH && existsSync(join(process.env.ELECTRON_OVERRIDE_DIST_PATH, bin))) ||
  (existsSync(pathTxt) && existsSync(join(root, 'node_modules', 'electron', 'dist', readFileSync(pathTxt, 'utf8').trim())));

const pw = [join(root, 'node_modules', '@playwright', 'test', 'cli.js'), 'test', '-c', 'e2e/electron/playwright.config.ts', ...process.argv.slice(2)];
const needXvfb = haveElectron && process.platform === 'linux' && !process.env.DISPLAY;
if (needXvfb && spawnSync('sh', ['-c', 'command -v xvfb-run'], { stdio: 'ignore' }).status !== 0) {
  process.stderr.write('The Electron e2e needs a display: install xvfb (apt-get install -y xvfb) or set DISPLAY.\n');
  process.exit(1);
}
const [cmd, args] = needXvfb ? ['xvfb-run', ['-a', '--server-args=-screen 0 1280x960x24', process.execPath, ...pw]] : [process.execPath, pw];
const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env });
process.exit(r.status ?? 1);
