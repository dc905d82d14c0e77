import { main } from './mirror';

/**
 * The command has returned (every command awaits its own work) and set its
 * exit code: once what it wrote to stdout and stderr is handed to the kernel,
 * the process ends at once. Left to drain, Node would first tear the V8
 * heap down page by page (~10 ms of a 1 % delta's ~0.65 s import, issue 13).
 */
function exitWhenFlushed(code: number): void {
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

void main().then(exitWhenFlushed);
