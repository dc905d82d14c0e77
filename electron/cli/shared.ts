/**
 * Helpers every `mirror` command shares (one place, so commands never import
 * each other and keep their lazy loading): which workspace a command runs in,
 * opening it through the composition root, and turning trust flags into the
 * engine's TrustInput.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { OpsError } from '../../shared/errors';
import { createEngine, type Engine, type TrustInput } from '../services/engine';
import { readInputFile } from '../services/trust';
import { defaultWorkspaceDir, isWorkspaceDir } from '../services/workspace/index';
import type { CliIo } from './command';

/** `--workspace <dir>` resolved against the cwd, else the default workspace. */
export function workspaceDirFrom(io: CliIo, given: string | undefined): string {
  return given ? resolve(io.cwd, given) : defaultWorkspaceDir(io.env);
}

/**
 * A command that creates its workspace (import, settings set) refuses a folder
 * that exists, is not a workspace and is not empty: it never writes into someone else's data.
 */
export function refuseForeignFolder(dir: string): void {
  if (!isWorkspaceDir(dir) && existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)) {
    throw new OpsError('ERR_WORKSPACE_INVALID', `${dir} exists and is not a workspace (no workspace.json) and not empty: refusing to create a workspace there. Give a new or empty folder, or the right --workspace.`, { path: dir });
  }
}

/**
 * Opens the command's workspace through the engine (recovery of an
 * interrupted apply included), runs `fn`, closes it.
 */
export async function withWorkspace<T>(io: CliIo, given: string | undefined, fn: (e: Engine) => Promise<T> | T, opts: { create?: boolean } = {}): Promise<T> {
  const engine = createEngine(workspaceDirFrom(io, given), opts);
  try {
    return await fn(engine);
  } finally {
    engine.close();
  }
}

/** The trust flags (`--key`, `--keyring`, `--identity`, `--tenant`) as the engine's TrustInput. */
export function trustFlags(io: CliIo, values: { key?: string[]; keyring?: string; identity?: string[]; tenant?: string }): TrustInput {
  return {
    keyFiles: values.key ?? [],
    keyringDir: values.keyring,
    identityFiles: values.identity ?? [],
    tenant: values.tenant,
    cwd: io.cwd,
    labels: { key: '--key', keyring: '--keyring', identity: '--identity' },
  };
}

/** The first line of `--passphrase-file` (an empty one is a usage error). */
export function readPassphrase(io: CliIo, file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  const passphrase = readInputFile(resolve(io.cwd, file), '--passphrase-file').split(/\r?\n/)[0];
  if (!passphrase) throw new OpsError('ERR_USAGE', `--passphrase-file ${file} is empty.`);
  return passphrase;
}

/** Reads an input file named by a flag (ERR_INPUT_NOT_FOUND naming the flag). */
export function readFlagFile(io: CliIo, flag: string, file: string): string {
  return readInputFile(resolve(io.cwd, file), flag);
}
