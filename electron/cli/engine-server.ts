/**
 * The resident engine's server (`mirror serve`, issue 13): a Unix socket in
 * the workspace (engine/sock, in a folder only its owner may enter) on which
 * the `mirror` launcher hands over an `import`. The command runs here, in a
 * process that has the engine loaded and compiled already, through the same
 * `runCli` and the same services as in its own process: the workspace lock,
 * the journal, the audit log and the output are exactly as they would be.
 * What this saves is the process around the command (Node's start, loading
 * and compiling the engine, its first cold runs): ~0.3 s of a ~0.6 s daily delta.
 *
 * The server holds no policy: it checks who is asking (the folder's
 * permissions: only the owner's processes, and root, can connect), that the
 * client runs the same build, and forwards bytes. A client that goes away
 * (killed, its terminal closed) aborts its command as Ctrl-C would.
 */
import { chmodSync, lstatSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { z } from 'zod';
import { OpsError } from '../../shared/errors';
import { workspaceLayout } from '../services/workspace/layout';
import type { CliIo } from './command';
import { ENGINE_PROTOCOL, enginePidPath, engineSocketPath, FORWARDED_COMMANDS, frame, frameReader, MAX_REQUEST_BYTES, MAX_SOCKET_PATH_BYTES, readEngineHolder, type EngineFrame } from './engine-link';
import { guardedStream } from './output';

const RequestSchema = z.object({
  t: z.literal('run'),
  v: z.number().int(),
  build: z.string().max(256),
  argv: z.array(z.string()).min(1).max(10_000),
  cwd: z.string().min(1),
  env: z.record(z.string(), z.string()),
  tty: z.object({ stdout: z.boolean(), stderr: z.boolean(), columns: z.number().int().positive().optional() }),
  pid: z.number().int(),
});

/** How long a connection may stay silent before its request: a client sends it at once. */
const REQUEST_WAIT_MS = 10_000;

export interface EngineServerOptions {
  workspaceDir: string;
  /** This engine's build (buildIdOf its code's file); a client of another build is refused. */
  build: string;
  /** Runs one command (the CLI's runCli). */
  run: (argv: string[], io: CliIo) => Promise<number>;
  /** Called when a command served has ended. */
  onServed?: (e: ServedCommand) => void;
}

export interface ServedCommand {
  at: string;
  command: string;
  /** The client's pid. */
  pid: number;
  exitCode: number;
  seconds: number;
  cancelled: boolean;
}

export interface EngineServer {
  readonly socket: string;
  /** Commands running now. */
  readonly running: number;
  /** Stops taking commands, cancels the running ones (as Ctrl-C would) and waits for them, then removes the socket. */
  close(): Promise<void>;
}

/** Whether something answers on the socket (a live engine) or not (a stale file, or none). */
function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(socket);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** engine/: made 0700 by its owner; anything else there (a symlink, another user's folder) is refused. */
function prepareFolder(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const st = lstatSync(dir);
  if (!st.isDirectory() || (process.getuid && st.uid !== process.getuid())) {
    throw new OpsError('ERR_WORKSPACE_INVALID', `${dir} is not a folder of this user (${st.isSymbolicLink() ? 'a symbolic link' : st.isDirectory() ? `owned by uid ${st.uid}` : 'not a folder'}): the engine's socket goes only in a folder its owner alone can enter. Remove it and start mirror serve again.`, { path: dir });
  }
  if ((st.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
}

/** A stream whose writes go to the client as frames of one kind, in order (no buffering of its own). */
function frameStream(conn: Socket, t: 'o' | 'e', isTTY: boolean, columns: number | undefined): Writable & { isTTY?: boolean; columns?: number } {
  const w = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _enc, cb) {
      if (!conn.destroyed && conn.writable) conn.write(frame({ t, d: typeof chunk === 'string' ? chunk : chunk.toString('utf8') }));
      cb();
    },
  });
  return Object.assign(w, isTTY ? { isTTY: true, columns } : { isTTY: false });
}

/** The socket a workspace's engine listens on; ERR_USAGE when its path is too long for a Unix socket. */
export function socketFor(workspaceDir: string): string {
  const socket = engineSocketPath(workspaceDir);
  const bytes = Buffer.byteLength(socket);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new OpsError('ERR_USAGE', `The workspace path is too long for the engine's socket (${socket}: ${bytes} bytes, Linux takes at most ${MAX_SOCKET_PATH_BYTES}). Serve it through a shorter path, such as a symbolic link (ln -s ${workspaceDir} /srv/mirror-ws), and give that same path to mirror import.`, { path: workspaceDir });
  }
  return socket;
}

export async function startEngineServer(opts: EngineServerOptions): Promise<EngineServer> {
  const socket = socketFor(opts.workspaceDir);
  prepareFolder(workspaceLayout(opts.workspaceDir).engine);
  const pidFile = enginePidPath(opts.workspaceDir);
  try {
    lstatSync(socket);
    if (await answers(socket)) {
      const holder = readEngineHolder(opts.workspaceDir);
      throw new OpsError('ERR_WORKSPACE_BUSY', `An engine already serves ${opts.workspaceDir} (${holder ? `pid ${holder.pid} since ${holder.since}` : 'pid unknown'}). Use that one, or stop it first (Ctrl-C where it runs, or kill that pid).`, { path: opts.workspaceDir });
    }
    rmSync(socket, { force: true }); // left by an engine that was killed
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }

  const active = new Set<{ controller: AbortController; done: Promise<void> }>();
  let stopping = false;
  const server = createServer((conn) => serve(conn));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new OpsError('ERR_WORKSPACE_BUSY', `Another engine started serving ${opts.workspaceDir} at the same moment.`, { path: opts.workspaceDir }) : e),
    );
    server.listen(socket, () => resolve());
  });
  chmodSync(socket, 0o600);
  writeFileSync(pidFile, JSON.stringify({ pid: process.pid, since: new Date().toISOString(), build: opts.build }) + '\n', { mode: 0o600 });

  function send(conn: Socket, f: EngineFrame): void {
    if (!conn.destroyed && conn.writable) conn.write(frame(f));
  }

  function serve(conn: Socket): void {
    let started = false;
    let controller: AbortController | null = null;
    conn.on('error', () => {
      /* 'close' follows */
    });
    const silent = setTimeout(() => conn.destroy(), REQUEST_WAIT_MS);
    conn.on('close', () => {
      clearTimeout(silent);
      controller?.abort(new OpsError('ERR_CANCELLED', 'The command was cancelled: its client went away (killed, or its terminal closed).'));
    });
    const read = frameReader(
      MAX_REQUEST_BYTES,
      (f) => {
        if (started) {
          if (f && typeof f === 'object' && (f as { t?: unknown }).t === 'abort') controller?.abort(new OpsError('ERR_CANCELLED', 'Cancelled by the operator (SIGINT).'));
          return;
        }
        started = true;
        clearTimeout(silent);
        const parsed = RequestSchema.safeParse(f);
        const refuse = (reason: 'build' | 'protocol' | 'request'): void => {
          send(conn, { t: 'refused', reason, build: opts.build });
          conn.end();
        };
        if (!parsed.success) return refuse('request');
        const req = parsed.data;
        if (req.v !== ENGINE_PROTOCOL) return refuse('protocol');
        if (req.build !== opts.build) return refuse('build');
        if (!FORWARDED_COMMANDS.includes(req.argv[0]) || stopping) return refuse('request');
        controller = new AbortController();
        const c = controller;
        const entry = { controller: c, done: run(conn, req, c) };
        active.add(entry);
        void entry.done.finally(() => active.delete(entry));
      },
      () => conn.destroy(),
    );
    conn.on('data', read);
  }

  async function run(conn: Socket, req: z.infer<typeof RequestSchema>, controller: AbortController): Promise<void> {
    send(conn, { t: 'ok' });
    const stdin = new PassThrough();
    stdin.end();
    const io: CliIo = {
      stdout: guardedStream(frameStream(conn, 'o', req.tty.stdout, req.tty.columns)),
      stderr: guardedStream(frameStream(conn, 'e', req.tty.stderr, req.tty.columns)),
      stdin,
      env: req.env,
      cwd: req.cwd,
      signal: controller.signal,
    };
    const t0 = process.hrtime.bigint();
    let code: number;
    try {
      code = await opts.run(req.argv, io);
    } catch (e) {
      // runCli reports every error itself; this is a defect of the server's own.
      io.stderr.write(`error [ERR_INTERNAL]: Unexpected internal error in the engine: ${(e as Error).message}\n`);
      code = 1;
    }
    if (controller.signal.aborted && code !== 0) code = 130;
    send(conn, { t: 'x', code });
    conn.end();
    opts.onServed?.({ at: new Date().toISOString(), command: req.argv[0], pid: req.pid, exitCode: code, seconds: Number(process.hrtime.bigint() - t0) / 1e9, cancelled: controller.signal.aborted });
  }

  return {
    socket,
    get running() {
      return active.size;
    },
    async close() {
      if (stopping) return;
      stopping = true;
      // New clients find no socket and run their command in their own process.
      rmSync(socket, { force: true });
      rmSync(pidFile, { force: true });
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const a of active) a.controller.abort(new OpsError('ERR_CANCELLED', 'The engine is stopping (mirror serve was stopped): the command was cancelled.'));
      await Promise.all([...active].map((a) => a.done));
      await closed;
    },
  };
}
