/**
 * `mirror serve --workspace <dir>`: keeps the engine loaded for one workspace,
 * so that `mirror import … --workspace <dir>` runs in this process instead of
 * starting its own (electron/cli/engine-server.ts, issue 13).
 */
import { fileURLToPath } from 'node:url';
import { createEngine } from '../../services/engine';
import { parseCommandArgs, type CliIo, type Command } from '../command';
import { buildIdOf } from '../engine-link';
import { socketFor, startEngineServer } from '../engine-server';
import { runCli } from '../mirror';
import { reportError } from '../output';
import { refuseForeignFolder, workspaceDirFrom } from '../shared';

const USAGE = `Usage: mirror serve [--workspace <dir>]

Keeps the engine loaded for one workspace. While it runs, \`mirror import\` on
that workspace hands its work to it instead of starting the engine in a
process of its own: a daily delta then costs about half as long. Everything
else is as without it: the same checks, the same workspace lock (one import
at a time), the same audit log, output and exit codes. Ctrl-C on the import
cancels it as before. Other commands always run in their own process.

The socket is <dir>/engine/sock, in a folder only this user can enter; only
this user's (and root's) commands are served. An import from another build
of mirror (after an upgrade) runs in its own process: restart serve then.
Set OKC_ENGINE=off for an import that must not use it.

Runs in the foreground (start it from a service manager or a terminal
multiplexer); prints one line per import served. Ctrl-C or SIGTERM stops it:
an import still running is cancelled and rolled back, as Ctrl-C on it would.

Options:
  --workspace <dir>   the workspace to serve (created if new; default ${'$'}XDG_DATA_HOME/export-center-console/workspace)
  --json              one JSON object per line and event on stdout: {event: "serving", workspace, pid, socket},
                      {event: "served", command, pid, exitCode, seconds, cancelled} per import,
                      {event: "stopping", cancelling}, {event: "stopped"}; an error is one {ok: false, code, …}
Exit codes: 0 stopped; 1 workspace busy (another engine serves it) or invalid; 4 usage.`;

const OPTIONS = { workspace: { type: 'string' }, json: { type: 'boolean' } } as const;


export const serveCommand: Command = {
  name: 'serve',
  summary: 'Keep the engine loaded for a workspace, so imports on it skip the process start-up.',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const json = argv.includes('--json');
    try {
      const { values } = parseCommandArgs(argv, OPTIONS, false);
      const dir = workspaceDirFrom(io, values.workspace);
      refuseForeignFolder(dir);
      socketFor(dir); // a path too long for a socket is refused before anything is created
      // Opened once first: creates a new workspace, refuses a damaged or newer one, and finishes
      // or rolls back an interrupted apply before any import is taken.
      const engine = createEngine(dir, { create: true });
      const recovered = engine.recovery.recovered;
      engine.close();
      if (recovered) io.stderr.write(`note: an interrupted operation was recovered first: ${recovered.detail}\n`);
      // --json: one JSON object per line and event (serving, served, stopping, stopped), for a supervisor's log.
      const event = (name: string, fields: Record<string, unknown>, text: string): void => {
        io.stdout.write((json ? JSON.stringify({ event: name, at: new Date().toISOString(), ...fields }) : text) + '\n');
      };
      const server = await startEngineServer({
        workspaceDir: dir,
        build: buildIdOf(fileURLToPath(import.meta.url)),
        run: runCli,
        onServed: (e) => event('served', { ...e }, `${e.at} ${e.command} for pid ${e.pid}: exit ${e.exitCode} in ${e.seconds.toFixed(2)} s${e.cancelled ? ' (cancelled)' : ''}`),
      });
      event('serving', { workspace: dir, pid: process.pid, socket: server.socket }, `mirror serve: serving ${dir} (pid ${process.pid}, socket ${server.socket}); imports on this workspace now run here. Ctrl-C or SIGTERM stops it.`);
      let onTerm: (() => void) | undefined;
      await new Promise<void>((resolve) => {
        if (io.signal.aborted) return resolve();
        io.signal.addEventListener('abort', () => resolve(), { once: true });
        onTerm = () => resolve();
        process.once('SIGTERM', onTerm);
      });
      if (onTerm) process.removeListener('SIGTERM', onTerm);
      const running = server.running;
      if (running) event('stopping', { cancelling: running }, `mirror serve: stopping; cancelling ${running} running import(s)`);
      await server.close();
      event('stopped', {}, 'mirror serve: stopped');
      return 0;
    } catch (e) {
      return reportError(io, e, json);
    }
  },
};
