/**
 * Node built-ins a command may never need, loaded on first use instead of at
 * every command's start (~1 ms each, issue 13): a mirror import of small
 * members with an empty trash needs neither.
 */
import { createRequire } from 'node:module';
import type * as ChildProcess from 'node:child_process';
import type * as Net from 'node:net';
import type * as WorkerThreads from 'node:worker_threads';
import type * as Zlib from 'node:zlib';

const nodeRequire = createRequire(import.meta.url);

/** node:child_process (`sync -f` where the native module is not built; ~8 ms to load). */
export const childProcess = (): typeof ChildProcess => nodeRequire('node:child_process') as typeof ChildProcess;

/** node:worker_threads (helper threads: hashing, flushing, emptying the trash). */
export const workerThreads = (): typeof WorkerThreads => nodeRequire('node:worker_threads') as typeof WorkerThreads;

/** node:zlib (Trivy bundles only). */
export const zlib = (): typeof Zlib => nodeRequire('node:zlib') as typeof Zlib;

/** node:net (the launcher's link to a resident engine, only when its socket exists; ~6 ms to load). */
export const net = (): typeof Net => nodeRequire('node:net') as typeof Net;
