/**
 * The launcher's side of the resident engine (`mirror serve`, issue 13): an
 * `import` on a workspace an engine serves is handed to it over its socket,
 * before the CLI bundle is loaded. The engine runs the command and sends back
 * what it writes and its exit code; this process prints them and exits with it.
 *
 * It falls back to running the command here, as if there were no engine,
 * whenever the engine has not taken the command: no socket (the usual case:
 * one lstat), a socket of another user, nobody answering on it (an engine
 * that was killed), an engine of another build or one that is stopping, or
 * no answer within 10 s. Once the
 * engine has taken it, Ctrl-C is sent on to it (the import is cancelled and
 * rolled back there, exit 130), and an engine that dies meanwhile is reported
 * as ERR_ENGINE_LOST (exit 1): the command is not run a second time here.
 *
 * `OKC_ENGINE=off` never forwards; `OKC_ENGINE=trace` says on stderr what happened.
 */
import { lstatSync } from 'node:fs';
import { net } from '../services/lazy-builtins';
import { exitWhenFlushed, onCtrlC, stopQuietlyOnEpipe } from './process-end';
import { ENGINE_PROTOCOL, engineSocketPath, FORWARDED_COMMANDS, frame, frameReader, workspaceOfArgv, type EngineRequest } from './engine-link';

/** How long the engine has to take a command before it runs here instead. */
const ANSWER_WAIT_MS = 10_000;
/** Largest frame taken from the engine (what one write of the command can be). */
const MAX_FRAME = 256 * 1024 * 1024;

/** Whether this command line may go to an engine at all (before any file is looked at). */
export function forwardable(argv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  return env.OKC_ENGINE !== 'off' && FORWARDED_COMMANDS.includes(argv[0] ?? '') && !argv.includes('--help') && !argv.includes('-h');
}

/**
 * Hands the command to the engine serving its workspace. Resolves false when
 * the command is to run in this process (no engine took it); true when the
 * engine took it, in which case this module prints its output and ends the process.
 */
export function runThroughEngine(argv: string[], buildOf: () => string, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Promise<boolean> {
  const mode = env.OKC_ENGINE;
  const trace = mode === 'trace' ? (msg: string): void => void process.stderr.write(`engine: ${msg}\n`) : (): void => {};
  if (!forwardable(argv, env)) return Promise.resolve(false);
  const workspace = workspaceOfArgv(argv.slice(1), env, cwd);
  const socket = engineSocketPath(workspace);
  try {
    const st = lstatSync(socket);
    if (!st.isSocket()) return Promise.resolve(false);
    // Only an engine of this same user runs this user's import (root's included): the files it
    // writes, and what it may read, are then the same as in a process of the operator's own.
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) {
      trace(`${socket} belongs to uid ${st.uid}, not to this user (uid ${uid}); running here`);
      return Promise.resolve(false);
    }
  } catch {
    trace(`none at ${socket}`);
    return Promise.resolve(false);
  }
  let build: string;
  try {
    build = buildOf();
  } catch {
    return Promise.resolve(false); // the bundle cannot be read: running here says so
  }
  const json = argv.includes('--json');
  return new Promise((resolve) => {
    const conn = net().connect(socket);
    let taken = false;
    let ended = false;
    let interrupted = (): boolean => false;
    const fallback = (why: string, note?: string): void => {
      if (taken || ended) return;
      ended = true;
      clearTimeout(timer);
      conn.destroy();
      trace(`${why}; running here`);
      if (note) process.stderr.write(`note: ${note}\n`);
      resolve(false);
    };
    const timer = setTimeout(() => fallback('no answer in 10 s', `the engine serving ${workspace} (mirror serve) did not answer within 10 s; the import runs in this process instead.`), ANSWER_WAIT_MS);
    const lost = (): void => {
      if (ended) return;
      ended = true;
      const message = `The engine serving ${workspace} (mirror serve) stopped before the import finished.`;
      const action = 'Run the import again: the next command finishes or rolls back the interrupted apply first; staging keeps its last good generation meanwhile.';
      if (json) process.stdout.write(JSON.stringify({ ok: false, code: 'ERR_ENGINE_LOST', message, action, path: null }, null, 2) + '\n');
      else process.stderr.write(`error [ERR_ENGINE_LOST]: ${message}\n  what to do: ${action}\n`);
      exitWhenFlushed(interrupted() ? 130 : 1);
    };
    conn.on('connect', () => {
      const request: EngineRequest = {
        t: 'run',
        v: ENGINE_PROTOCOL,
        build,
        argv,
        cwd,
        env: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string')),
        tty: { stdout: !!process.stdout.isTTY, stderr: !!process.stderr.isTTY, ...(process.stderr.isTTY && process.stderr.columns ? { columns: process.stderr.columns } : {}) },
        pid: process.pid,
      };
      conn.write(frame(request));
    });
    conn.on('error', (e: NodeJS.ErrnoException) => {
      if (!taken) fallback(`not reachable at ${socket} (${e.code ?? e.message})`);
    });
    conn.on('close', () => {
      if (!taken) fallback('the connection closed before the engine took the command');
      else lost();
    });
    conn.on(
      'data',
      frameReader(
        MAX_FRAME,
        (value) => {
          const f = value as { t?: unknown; d?: unknown; code?: unknown; reason?: unknown; build?: unknown };
          if (!taken) {
            if (f.t === 'ok') {
              taken = true;
              clearTimeout(timer);
              trace(`forwarded to ${socket}`);
              onTaken();
              resolve(true);
            } else if (f.t === 'refused' && f.reason === 'build') {
              fallback(`refused: the engine runs ${String(f.build)}, this is ${build}`, `the engine serving ${workspace} (mirror serve) runs another build of mirror; the import runs in this process. Restart mirror serve after an upgrade.`);
            } else fallback(`refused (${String(f.reason)})`);
            return;
          }
          if (ended) return;
          if (f.t === 'o' && typeof f.d === 'string') process.stdout.write(f.d);
          else if (f.t === 'e' && typeof f.d === 'string') process.stderr.write(f.d);
          else if (f.t === 'x' && typeof f.code === 'number') {
            ended = true;
            conn.end();
            exitWhenFlushed(interrupted() && f.code !== 0 ? 130 : f.code);
          }
        },
        () => {
          if (!taken) fallback('the engine does not speak this protocol');
          else {
            conn.destroy();
            lost();
          }
        },
      ),
    );
    function onTaken(): void {
      stopQuietlyOnEpipe(); // the engine then sees the connection close and cancels the import
      interrupted = onCtrlC(() => conn.write(frame({ t: 'abort' })));
    }
  });
}
