// `node --import ./register-fake-electron.mjs dist/main/main.mjs`: runs the real main bundle against a fake Electron.
import { register } from 'node:module';

register('./electron-hooks.mjs', import.meta.url);
