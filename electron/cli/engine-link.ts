/**
 * The link between the `mirror` command and a resident engine (`mirror serve`,
 * issue 13): where its socket is, which commands go to it, and the frames both
 * sides exchange. Imported by the launcher (plain Node, before the CLI bundle
 * is loaded) and by the engine's server, so nothing heavy belongs here.
 *
 * Frames are one JSON object per line, both ways:
 *   client → engine: the request ({@link EngineRequest}), then {t:'abort'} on Ctrl-C;
 *   engine → client: {t:'ok'} or {t:'refused', reason, build}, then {t:'o'|'e', d} for what
 *   the command writes to stdout / stderr, then {t:'x', code} with its exit code.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { defaultWorkspaceDir } from '../services/workspace/default-dir';
import { workspaceLayout } from '../services/workspace/layout';

/** Version of the frames below; a client and an engine of another version do not talk. */
export const ENGINE_PROTOCOL = 1;

/**
 * What the resident engine runs for a client. Only `import`: it writes nothing
 * to the terminal that needs a prompt, reads no stdin, and is what a daily
 * delta runs. Other commands start their own process, as before.
 */
export const FORWARDED_COMMANDS: readonly string[] = ['import'];

/** Longest socket path Linux takes (sun_path is 108 bytes with its terminating NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/** A request frame's limit (argv, cwd and environment). */
export const MAX_REQUEST_BYTES = 1024 * 1024;

/** The socket of the engine serving a workspace: engine/sock inside it (the folder is 0700). */
export function engineSocketPath(workspaceDir: string): string {
  return `${workspaceLayout(workspaceDir).engine}/sock`;
}

/** The engine's pid file beside its socket: {pid, since, build}. */
export function enginePidPath(workspaceDir: string): string {
  return `${workspaceLayout(workspaceDir).engine}/pid`;
}

/**
 * The workspace a command line names, as the command itself resolves it:
 * the last `--workspace <dir>` or `--workspace=<dir>` before `--`, against
 * the cwd; else the default workspace of this environment.
 */
export function workspaceOfArgv(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): string {
  let given: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') break;
    if (a === '--workspace' && i + 1 < argv.length) given = argv[++i];
    else if (a.startsWith('--workspace=')) given = a.slice('--workspace='.length);
  }
  return given ? resolve(cwd, given) : defaultWorkspaceDir(env);
}

/** Who serves a workspace, from its engine's pid file; null when none has (or it stopped cleanly). */
export function readEngineHolder(workspaceDir: string): { pid: number; since: string; build: string; alive: boolean } | null {
  let v: { pid?: unknown; since?: unknown; build?: unknown };
  try {
    v = JSON.parse(readFileSync(enginePidPath(workspaceDir), 'utf8')) as typeof v;
  } catch {
    return null;
  }
  if (typeof v.pid !== 'number' || !Number.isInteger(v.pid) || v.pid <= 0) return null;
  let alive = true;
  try {
    process.kill(v.pid, 0);
  } catch (e) {
    alive = (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  return { pid: v.pid, since: typeof v.since === 'string' ? v.since : '?', build: typeof v.build === 'string' ? v.build : '?', alive };
}

export interface EngineRequest {
  t: 'run';
  v: number;
  /** The client's build ({@link buildIdOf}): an engine of another build refuses. */
  build: string;
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Whether the client's stdout / stderr are terminals (progress is drawn only on one). */
  tty: { stdout: boolean; stderr: boolean; columns?: number };
  /** The client's pid, for the engine's log line. */
  pid: number;
}

export type EngineFrame =
  | { t: 'ok' }
  | { t: 'refused'; reason: 'build' | 'protocol' | 'request'; build: string }
  | { t: 'o' | 'e'; d: string }
  | { t: 'x'; code: number };

export type ClientFrame = EngineRequest | { t: 'abort' };

/**
 * The build a process runs, as client and engine compare it: the file of the
 * running code (the CLI bundle, whose name carries its content hash; the
 * app's main.mjs in the packaged app), its size and modification time. An
 * upgrade changes it, so an engine started before one refuses the new
 * client's commands instead of running them with the old code.
 */
export function buildIdOf(file: string): string {
  const st = statSync(file);
  return `${basename(file)}:${st.size}:${Math.round(st.mtimeMs)}`;
}

/** One frame as a line. */
export function frame(value: EngineFrame | ClientFrame): string {
  return JSON.stringify(value) + '\n';
}

/**
 * Splits a byte stream into frames: each complete line parsed as JSON and
 * handed to `onFrame`. A line longer than `maxLine` bytes, or one that is not
 * JSON, ends the reading with `onBad` (the peer is not speaking this protocol).
 */
export function frameReader(maxLine: number, onFrame: (f: unknown) => void, onBad: (why: string) => void): (chunk: Buffer) => void {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let bad = false;
  return (chunk) => {
    if (bad) return;
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl >= 0; nl = chunk.indexOf(10, start)) {
      const part = chunk.subarray(start, nl);
      const line = pendingBytes ? Buffer.concat([...pending, part]).toString('utf8') : part.toString('utf8');
      pending = [];
      pendingBytes = 0;
      start = nl + 1;
      if (line.length > maxLine) {
        bad = true;
        return onBad('a frame over its size limit');
      }
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        bad = true;
        return onBad('a frame that is not JSON');
      }
      onFrame(value);
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
      if (pendingBytes > maxLine) {
        bad = true;
        onBad('a frame over its size limit');
      }
    }
  };
}
