/** Questions to the operator on a terminal, shared by the commands that ask (keys, checklist). */
import { createInterface, type Interface } from 'node:readline';
import type { CliIo } from './command';
import { reportError } from './output';

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
    const r = await this.it!.next();
    return r.done ? null : r.value;
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
