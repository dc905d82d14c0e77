/**
 * Benchmark helpers: timed child processes with peak RSS and bytes written
 * (GNU time -v when present, else /proc polling), results to
 * bench-results/<name>.json, sizes from environment variables, and an honest
 * "skipped: <reason>" when the engine part a benchmark needs has not landed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The mirror CLI under test (BENCH_CLI overrides, e.g. to compare another build). */
/** The CLI under test, run as the operator's `mirror` command runs: through its shebang (and the V8 flag it sets). */
export const CLI = process.env.BENCH_CLI ? resolve(process.env.BENCH_CLI) : join(ROOT, 'dist/cli/mirror.cjs');
export const RESULTS_DIR = join(ROOT, 'bench-results');
export const MiB = 1024 * 1024;
const GNU_TIME = '/usr/bin/time';

export interface Timed {
  seconds: number;
  exitCode: number;
  /** Peak resident set size of the (largest) process, in bytes; null when unknown. */
  peakRssBytes: number | null;
  /** Bytes the process wrote to storage (getrusage block outputs × 512); null when unknown. */
  writtenBytes: number | null;
  stdout: string;
  stderr: string;
}

export function envInt(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${v}"`);
  return Math.floor(n);
}

export const LARGE = process.env.BENCH_LARGE === '1';
export const REPS = envInt('BENCH_REPS', 2);

export function workDir(prefix: string): { dir: string; cleanup: () => void } {
  const base = process.env.BENCH_TMP ?? tmpdir();
  const dir = mkdtempSync(join(base, `okc-bench-${prefix}-`));
  // BENCH_KEEP_WORK=1 keeps the corpora and workspaces (to profile a step by hand afterwards).
  if (process.env.BENCH_KEEP_WORK === '1') return { dir, cleanup: () => console.log(`  kept ${dir} (BENCH_KEEP_WORK=1)`) };
  // Under `npm run bench` (build/bench.mjs), a finished corpus's folder is only moved aside: deleting
  // a million files makes ext4 create files several times slower for minutes, which would slow the
  // next corpus's imports (and flatter its ratios). bench.mjs removes them after the last timing.
  const deferTo = process.env.BENCH_DEFER_CLEANUP;
  return {
    dir,
    cleanup: () => {
      if (deferTo) {
        try {
          renameSync(dir, join(deferTo, basename(dir)));
          return;
        } catch {
          /* another file system: removed now */
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function parseGnuTime(stderr: string): { rss: number | null; out: number | null; rest: string } {
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  const out = /File system outputs: (\d+)/.exec(stderr);
  const start = stderr.indexOf('\tCommand being timed:');
  return {
    rss: rss ? Number(rss[1]) * 1024 : null,
    out: out ? Number(out[1]) * 512 : null,
    rest: start >= 0 ? stderr.slice(0, start) : stderr,
  };
}

/** Runs a command, timing it; with GNU time for peak RSS and block outputs. */
export function timed(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Timed> {
  const useTime = existsSync(GNU_TIME);
  const file = useTime ? GNU_TIME : cmd;
  const argv = useTime ? ['-v', cmd, ...args] : args;
  return new Promise((resolvePromise, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(file, argv, { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let polledRss = 0;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const poll = useTime
      ? null
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) polledRss = Math.max(polledRss, Number(m[1]) * 1024);
          } catch {
            /* exited */
          }
        }, 50);
    child.on('error', reject);
    child.on('close', (code) => {
      if (poll) clearInterval(poll);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (useTime) {
        const p = parseGnuTime(stderr);
        resolvePromise({ seconds, exitCode: code ?? -1, peakRssBytes: p.rss, writtenBytes: p.out, stdout, stderr: p.rest });
      } else {
        resolvePromise({ seconds, exitCode: code ?? -1, peakRssBytes: polledRss || null, writtenBytes: null, stdout, stderr });
      }
    });
  });
}

/** Runs a bash script, timed. */
export function timedShell(script: string, opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Timed> {
  return timed('bash', ['-euo', 'pipefail', '-c', script], opts);
}

export function mustSucceed(label: string, t: Timed): Timed {
  if (t.exitCode !== 0) throw new Error(`${label} failed (exit ${t.exitCode}):\n${t.stdout.slice(0, 2000)}\n${t.stderr.slice(0, 2000)}`);
  return t;
}

/** CPU time counters of /proc/stat's first line: [busy, all] (null where there is no /proc). */
function cpuTicks(): [number, number] | null {
  try {
    const f = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
    const all = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return [all - f[3] - f[4], all];
  } catch {
    return null;
  }
}

/**
 * Waits (untimed, up to `maxMs`) until the machine is quiet: two windows of
 * 250 ms in a row with the CPUs less than 10 % busy. On two vCPUs the
 * kernel's own work after a run (writeback, journal commits, freeing pages)
 * slows the next timed run down; both sides of every ratio wait the same.
 * Returns the milliseconds waited.
 */
export async function quiet(maxMs = 10_000): Promise<number> {
  const t0 = performance.now();
  let calm = 0;
  let prev = cpuTicks();
  if (!prev) return 0;
  while (performance.now() - t0 < maxMs) {
    await new Promise((r) => setTimeout(r, 250));
    const cur = cpuTicks();
    if (!cur) return 0;
    const busy = (cur[0] - prev[0]) / Math.max(1, cur[1] - prev[1]);
    prev = cur;
    calm = busy < 0.1 ? calm + 1 : 0;
    if (calm >= 2) break;
  }
  return Math.round(performance.now() - t0);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function ensureCli(): void {
  if (!existsSync(CLI)) {
    const r = spawnSync(process.execPath, [join(ROOT, 'build/build.mjs'), 'cli'], { cwd: ROOT, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('building the CLI failed');
  }
}

/** Reads the JSON object a `--json` command printed (the last line that parses). */
export function parseJsonOut(stdout: string): Record<string, unknown> | null {
  try {
    return JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    const lines = stdout.trim().split('\n').reverse();
    for (const l of lines) {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        /* next */
      }
    }
    return null;
  }
}

export interface Metric {
  name: string;
  value: number | string | null;
  unit?: string;
  target?: string;
  pass?: boolean | null;
}

export interface BenchResult {
  bench: string;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  startedAt: string;
  finishedAt?: string;
  machine: { cpus: number; model: string; node: string; loadBefore: number[]; loadAfter?: number[] };
  params: Record<string, unknown>;
  metrics: Metric[];
  notes: string[];
}

export function newResult(bench: string, params: Record<string, unknown>): BenchResult {
  return {
    bench,
    status: 'ok',
    startedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, loadBefore: loadavg().map((x) => Math.round(x * 100) / 100) },
    params,
    metrics: [],
    notes: [],
  };
}

export function saveResult(r: BenchResult): void {
  r.finishedAt = new Date().toISOString();
  r.machine.loadAfter = loadavg().map((x) => Math.round(x * 100) / 100);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${r.bench}.json`), `${JSON.stringify(r, null, 2)}\n`);
}

export function skip(r: BenchResult, reason: string): void {
  r.status = 'skipped';
  r.reason = reason;
  console.log(`${r.bench}: skipped: ${reason}`);
  saveResult(r);
}

export function metric(r: BenchResult, m: Metric): void {
  r.metrics.push(m);
  const v = typeof m.value === 'number' ? (Number.isInteger(m.value) ? String(m.value) : m.value.toFixed(3)) : String(m.value);
  const verdict = m.pass === undefined || m.pass === null ? '' : m.pass ? '  [meets target]' : '  [MISSES target]';
  console.log(`  ${m.name}: ${v}${m.unit ? ` ${m.unit}` : ''}${m.target ? ` (target ${m.target})` : ''}${verdict}`);
}

export function firstLine(s: string): string {
  return s.trim().split('\n')[0]?.slice(0, 300) ?? '';
}

/** Runs main, recording a failure as status 'failed' (exit 1). */
export function runBench(r: BenchResult, main: () => Promise<void>): void {
  main().then(
    () => {
      if (r.status === 'ok') saveResult(r);
    },
    (err: unknown) => {
      r.status = 'failed';
      r.reason = err instanceof Error ? err.message : String(err);
      console.error(`${r.bench}: FAILED: ${r.reason}`);
      saveResult(r);
      process.exitCode = 1;
    },
  );
}

export function mb(bytes: number | null): number | null {
  return bytes === null ? null : Math.round((bytes / 1e6) * 10) / 10;
}
