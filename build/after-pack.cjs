/* eslint-disable @typescript-eslint/no-require-imports -- electron-builder loads this hook as CommonJS */
// electron-builder afterPack hook: sets the Electron fuses of the packaged
// binary (before any signing), so the package cannot be turned into a plain
// Node runtime or loaded with code from outside its asar:
//   RunAsNode off                       (ELECTRON_RUN_AS_NODE ignored; `<app> mirror …` is the headless entry)
//   EnableNodeOptionsEnvironmentVariable off  (NODE_OPTIONS ignored)
//   EnableNodeCliInspectArguments off   (--inspect… ignored)
//   EnableEmbeddedAsarIntegrityValidation on (app.asar checked against the hash in the binary where Electron supports it)
//   OnlyLoadAppFromAsar on              (no app/ folder or loose files instead of app.asar)
//   EnableCookieEncryption on
//   GrantFileProtocolExtraPrivileges off (the app is served from app://, never file://)
// Only Linux is packaged today (Windows/macOS: not yet, see README).
const { join } = require('node:path');
const { flipFuses, getCurrentFuseWire, FuseVersion, FuseV1Options } = require('@electron/fuses');

/** The fuses, by @electron/fuses option name. Checked by build/packaging.test.ts. */
const FUSES = {
  RunAsNode: false,
  EnableCookieEncryption: true,
  EnableNodeOptionsEnvironmentVariable: false,
  EnableNodeCliInspectArguments: false,
  EnableEmbeddedAsarIntegrityValidation: true,
  OnlyLoadAppFromAsar: true,
  GrantFileProtocolExtraPrivileges: false,
};

function fuseConfig() {
  const config = { version: FuseVersion.V1 };
  for (const [name, value] of Object.entries(FUSES)) {
    if (FuseV1Options[name] === undefined) throw new Error(`Unknown Electron fuse ${name}`);
    config[FuseV1Options[name]] = value;
  }
  return config;
}

/** Flips the fuses of one Electron binary and reads them back; throws when one did not take. */
async function setFuses(binary) {
  await flipFuses(binary, fuseConfig());
  const wire = await getCurrentFuseWire(binary);
  for (const [name, value] of Object.entries(FUSES)) {
    const got = wire[FuseV1Options[name]];
    const want = (value ? '1' : '0').charCodeAt(0); // the wire holds ASCII '0' (off) / '1' (on)
    if (got !== want) throw new Error(`Electron fuse ${name} is ${String.fromCharCode(got)} after flipping, expected ${String.fromCharCode(want)}`);
  }
}

async function afterPack(context) {
  if (context.electronPlatformName !== 'linux') {
    throw new Error(`Packaging for ${context.electronPlatformName} is not supported yet (the atomic staging switch and case-insensitive paths are not handled there).`);
  }
  await setFuses(join(context.appOutDir, context.packager.executableName));
}

module.exports = afterPack;
module.exports.default = afterPack;
module.exports.FUSES = FUSES;
module.exports.setFuses = setFuses;
