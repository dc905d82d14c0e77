/**
 * Finds an Electron binary WITHOUT require('electron') (which would try to
 * download one): ELECTRON_OVERRIDE_DIST_PATH, or node_modules/electron/path.txt
 * + node_modules/electron/dist/. Same rules as build/start.mjs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../electron/services/testing/fixtures';

export const ELECTRON_PIN = '38.4.0';

function binaryName(): string {
  if (process.platform === 'darwin') return 'Electron.app/Contents/MacOS/Electron';
  if (process.platform === 'win32') return 'electron.exe';
  return 'electron';
}

export function findElectronBinary(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.ELECTRON_OVERRIDE_DIST_PATH) {
    const bin = join(env.ELECTRON_OVERRIDE_DIST_PATH, binaryName());
    if (existsSync(bin)) return bin;
  }
  const pathTxt = join(REPO_ROOT, 'node_modules', 'electron', 'path.txt');
  if (existsSync(pathTxt)) {
    const bin = join(REPO_ROOT, 'node_modules', 'electron', 'dist', readFileSync(pathTxt, 'utf8').trim());
    if (existsSync(bin)) return bin;
  }
  return null;
}

export const MISSING_MESSAGE =
  `Electron e2e skipped: no Electron binary on this machine (looked at $ELECTRON_OVERRIDE_DIST_PATH/${binaryName()} and node_modules/electron/path.txt + dist/). ` +
  `To run it: on a networked machine \`npm install electron@${ELECTRON_PIN}\`, or set ELECTRON_OVERRIDE_DIST_PATH to an unpacked Electron ${ELECTRON_PIN} folder.`;
