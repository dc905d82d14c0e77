/** The shape every `mirror` sub-command module exports. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { OpsError } from '../../shared/errors';

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Aborted on SIGINT; every long operation honours it. */
  signal: AbortSignal;
}

export interface Command {
  name: string;
  /** One line for `mirror --help`. */
  summary: string;
  /** Full usage text for `mirror <name> --help`. */
  usage: string;
  /** Returns the process exit code. */
  run(argv: string[], io: CliIo): Promise<number>;
}

/** parseArgs with strict checking, turning its errors into ERR_USAGE. */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  allowPositionals = true,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    throw new OpsError('ERR_USAGE', (e as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

/** Parses a non-negative integer flag (bytes, counts). Accepts suffixes K, M, G, T (binary). */
export function parseSize(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)([KMGT]i?B?)?$/i.exec(value.trim());
  if (!m) throw new OpsError('ERR_USAGE', `${flag} expects a number of bytes (for example 512M or 8G), got "${value}".`);
  const mult: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };
  const unit = m[2] ? m[2][0].toUpperCase() : '';
  return Number(m[1]) * (unit ? mult[unit] : 1);
}
