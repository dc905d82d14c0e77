/**
 * How a `mirror` process reacts to its end: Ctrl-C, a reader that went away,
 * and the exit itself. One place for the command run here (mirror.ts `main`,
 * bin.ts) and for the launcher's client of a resident engine
 * (engine-client.ts), so both behave alike. Plain Node, nothing heavy: the
 * launcher loads it before the CLI bundle.
 */

/**
 * Exits once what was written to stdout and stderr is handed to the kernel.
 * Left to drain, Node would first tear the V8 heap down page by page (~10 ms
 * of a 1 % delta's ~0.65 s import, issue 13).
 */
export function exitWhenFlushed(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

/** `mirror verify … | head`: the reader went away. Stop quietly, as Unix tools do. */
export function stopQuietlyOnEpipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
}

/**
 * Ctrl-C: the first calls `cancel` and leaves the command 1.5 s to report its
 * cancellation, then exits 130 anyway. Every wait honours the signal; a wait
 * that cannot be interrupted (a read the kernel keeps blocked) must not keep
 * the operator waiting. Whatever was in flight is rolled back by the journal at
 * the next start, and the workspace lock of a dead process is taken over.
 * A second Ctrl-C exits at once. Returns whether Ctrl-C was pressed.
 */
export function onCtrlC(cancel: () => void): () => boolean {
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) {
      process.stderr.write('Interrupted again: exiting now (exit 130). What was recorded so far is kept.\n');
      process.exit(130);
    }
    interrupted = true;
    cancel();
    setTimeout(() => {
      process.stderr.write('error [ERR_CANCELLED]: Cancelled by the operator (SIGINT); stopped without waiting for the current step. Anything unfinished is rolled back at the next start.\n');
      process.exit(130);
    }, 1500).unref();
  });
  return () => interrupted;
}
