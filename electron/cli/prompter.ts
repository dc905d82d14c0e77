/** Questions to the operator on a terminal, shared by the commands that ask (keys, checklist). */
import { createInterface, type Interface } from 'node:readline';
import type { CliIo } from './command';
import { reportError } from './output';
import { OpsError } from '../../shared/errors';

/** Line-by-line questions on the terminal (stdin), prompts on stderr. */
export class Prompter {
  private rl: Interface | null = null;
  private it: AsyncIterator<string> | null = null;
  constructor(private readonly io: CliIo) {}
  get interactive(): boolean {
    return !!this.io.stdin.isTTY;
  }
  async ask(question: string): Promise<string | null> {
    if (!this.rl) {
      this.rl = createInterface({ input: this.io.stdin, terminal: false });
      this.it = this.rl[Symbol.asyncIterator]();
    }
    this.io.stderr.write(question);
    // Ctrl-C (the CLI's abort signal) ends a waiting prompt at once, with a message and exit 130.
    const signal = this.io.signal;
    const cancelled = () => new OpsError('ERR_CANCELLED', 'Cancelled by the operator at the prompt. Nothing more was recorded; what was done so far is kept.');
    if (signal?.aborted) throw cancelled();
    let onAbort: (() => void) | null = null;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(cancelled());
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const r = await Promise.race([this.it!.next(), aborted]);
      return r.done ? null : r.value;
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }
  close(): void {
    this.rl?.close();
  }
}

/**
 * Runs a sub-command that may ask the operator: the prompter is closed
 * afterwards, and errors are reported the way every command reports them.
 */
export async function runPrompting(
  argv: string[],
  io: CliIo,
  run: (sub: string | undefined, rest: string[], io: CliIo, prompter: Prompter) => Promise<number>,
): Promise<number> {
  const [sub, ...rest] = argv;
  const prompter = new Prompter(io);
  try {
    return await run(sub, rest, io, prompter);
  } catch (e) {
    return reportError(io, e, rest.includes('--json'));
  } finally {
    prompter.close();
  }
}
