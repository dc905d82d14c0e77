import { findElectronBinary, MISSING_MESSAGE } from './electron-binary';

/** Prints the one skip message (once per run, not per test). */
export default function globalSetup(): void {
  if (!findElectronBinary()) process.stdout.write(`\n${MISSING_MESSAGE}\n\n`);
}
