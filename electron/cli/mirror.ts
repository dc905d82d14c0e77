/**
 * `mirror`: the headless face of the engine. Same services as the desktop app.
 * Invoke as `npx --no -- mirror …` (the registry has an unrelated package named `mirror`;
 * `--` keeps npm 11 from taking a following `--help`/`--version` for itself).
 */
import { OpsError } from '../../shared/errors';
import { APP_VERSION } from '../services/version';
import type { CliIo } from './command';
import { guardedStream, reportError } from './output';
import { onCtrlC, stopQuietlyOnEpipe } from './process-end';
import { commands } from './commands/index';

function mainUsage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `mirror ${APP_VERSION}: verify, import and stage StellaOps Export Center bundles offline.`,
    '',
    'Usage: mirror <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `mirror <command> --help` for the options of one command, `mirror help topics` for the operator guide',
    '(install, first-start, daily, restore, errors) and `mirror help <ERR_CODE>` for one error code.',
    'Exit codes: 0 ok; 1 input not found or environment problem; 2 content mismatch;',
    '            4 usage error; 5 signature or key not trusted; 8 ordering; 11 validation failed; 130 cancelled.',
  ].join('\n');
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    if (first === 'help' && rest[0]) {
      // A command's usage first; else an operator guide topic or an error code.
      if (!commands.some((c) => c.name === rest[0])) {
        const { helpText } = await import('./help');
        const text = helpText(rest[0]);
        if (text === null) return reportError(io, new OpsError('ERR_USAGE', `No help topic "${rest[0]}". Run \`mirror help topics\` for the operator guide's topics.`), false);
        io.stdout.write(text + '\n');
        return 0;
      }
      return runCli([rest[0], '--help'], io);
    }
    io.stdout.write(mainUsage() + '\n');
    return first === undefined ? 4 : 0;
  }
  if (first === '--version' || first === '-v' || first === 'version') {
    io.stdout.write(`${APP_VERSION}\n`);
    return 0;
  }
  const entry = commands.find((c) => c.name === first);
  const json = rest.includes('--json');
  if (!entry) {
    return reportError(io, new OpsError('ERR_USAGE', `Unknown command "${first}". Run \`mirror --help\` for the list.`), json);
  }
  try {
    const cmd = await entry.load();
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(cmd.usage.trimEnd() + '\n');
      return 0;
    }
    return await cmd.run(rest, io);
  } catch (e) {
    if (io.signal.aborted) return reportError(io, new OpsError('ERR_CANCELLED', 'Cancelled by the operator (SIGINT). Nothing was changed.'), json);
    return reportError(io, e, json);
  }
}

/** Process entry point (the bundled `dist/cli/mirror.cjs`, and `<app> mirror …` in the packaged app). */
export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  const controller = new AbortController();
  stopQuietlyOnEpipe();
  const interrupted = onCtrlC(() => controller.abort(new OpsError('ERR_CANCELLED', 'Cancelled by the operator (SIGINT).')));
  const io: CliIo = {
    stdout: guardedStream(process.stdout),
    stderr: guardedStream(process.stderr),
    // Looked up only by a command that asks (process.stdin sets up a stream on first use: ~6 ms).
    get stdin() {
      return process.stdin;
    },
    env: process.env,
    cwd: process.cwd(),
    signal: controller.signal,
  };
  const code = await runCli(argv, io);
  process.exitCode = interrupted() && code !== 0 ? 130 : code;
  return process.exitCode;
}
