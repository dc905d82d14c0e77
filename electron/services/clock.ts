/**
 * A monotonic clock in milliseconds, for durations (the stats reports give).
 * `performance.now()` would do the same, but its first use loads eleven of
 * Node's internal modules (node:perf_hooks, ~3 ms of a command's start on
 * the build machine, issue 13); `process.hrtime` is already there.
 */
export function nowMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}
