/**
 * The hashing thread's boot (./hash-pool.ts): a thread that loads what every
 * job on it needs (node:crypto, node:fs) and then waits for its program, sent
 * as its first message. Starting a thread costs ~0.1 s (a new V8 isolate and
 * Node's bootstrap); the `mirror` launcher starts this one before it loads
 * the engine (electron/cli/launcher.ts), so a large bundle's verify or import
 * finds its thread ready instead of waiting for it. A leaf module: the
 * launcher imports it, and it imports nothing of the engine.
 */
import { Worker } from 'node:worker_threads';

const BOOT_SOURCE = `
const { parentPort } = require('node:worker_threads');
require('node:crypto');
require('node:fs');
parentPort.once('message', (m) => new Function('require', 'parentPort', 'workerData', m.src)(require, parentPort, m.data));
`;

const PRESTARTED = Symbol.for('okc.hashThread');

type Holder = { [PRESTARTED]?: Worker };

/** Starts a thread now and keeps it for the first pool that needs one (it never keeps the process alive). */
export function prestartHashThread(): void {
  const g = globalThis as Holder;
  if (g[PRESTARTED]) return;
  const w = new Worker(BOOT_SOURCE, { eval: true });
  w.unref();
  // An error before a pool adopts it (none is expected) must not end the process; the pool starts its own.
  const onError = (): void => {
    if (g[PRESTARTED] === w) delete g[PRESTARTED];
  };
  w.once('error', onError);
  g[PRESTARTED] = w;
}

/** A started thread running `src` (with `data` as its workerData): the prestarted one if any, else a new one. */
export function bootThread(src: string, data: unknown): Worker {
  const g = globalThis as Holder;
  const w = g[PRESTARTED] ?? new Worker(BOOT_SOURCE, { eval: true });
  delete g[PRESTARTED];
  w.removeAllListeners('error');
  w.postMessage({ src, data });
  return w;
}

/** Bundles at least this large (bytes on disk) get a hashing thread (hashPoolFor). */
export const HASH_THREAD_MIN_BYTES = 32 * 1024 * 1024;
