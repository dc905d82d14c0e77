// `npm run bench`: builds the CLI, runs each benchmark (`npx tsx bench/<name>.ts`)
// one after the other, prints a table, and writes bench-results/<name>.json and
// bench-results/summary.json (gitignored). Usage: node build/bench.mjs [bundles|delta|audit ...]
// --corpus 512m,100k,1m,delta,audit runs a subset (bundles for the bundle corpora, delta, audit).
// BENCH_REPS (2), BENCH_DELTA_FILES (100000), BENCH_AUDIT_EVENTS (1000000). See docs/benchmarks.md.
// --head: benchmark the committed HEAD (git archive into a temp folder, node_modules linked),
// not the working tree, so that uncommitted edits in a shared tree are not measured.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ALL = ['bundles', 'delta', 'audit'];
const BUNDLE_CORPORA = ['512m', '100k', '1m'];
let args = process.argv.slice(2);
// --corpus a,b (or --corpus=a,b): the bundle corpora to run, and/or `delta`, `audit`.
let corpus = null;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--corpus' || a.startsWith('--corpus=')) {
    corpus = (a.includes('=') ? a.slice(a.indexOf('=') + 1) : args[i + 1] ?? '').split(',').map((x) => x.trim()).filter(Boolean);
    args = [...args.slice(0, i), ...args.slice(a.includes('=') ? i + 1 : i + 2)];
    break;
  }
}
if (corpus) {
  const known = [...BUNDLE_CORPORA, 'delta', 'audit'];
  const bad = corpus.filter((c) => !known.includes(c));
  if (bad.length || corpus.length === 0) {
    console.error(`unknown corpus "${bad.join(',')}"; choose from ${known.join(', ')}`);
    process.exit(4);
  }
}
if (args.includes('--head')) {
  const dir = mkdtempSync(join(tmpdir(), 'okc-bench-head-'));
  const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim();
  console.log(`benchmarking the committed HEAD ${rev} in ${dir}`);
  const ex = spawnSync('bash', ['-c', 'git archive HEAD | tar -x -C "$1"', 'bash', dir], { cwd: root, stdio: 'inherit' });
  if (ex.status !== 0) process.exit(1);
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  const rest = [...args.filter((a) => a !== '--head'), ...(corpus ? ['--corpus', corpus.join(',')] : [])];
  const run = spawnSync(process.execPath, [join(dir, 'build/bench.mjs'), ...rest], { cwd: dir, stdio: 'inherit', env: process.env });
  mkdirSync(join(root, 'bench-results'), { recursive: true });
  cpSync(join(dir, 'bench-results'), join(root, 'bench-results'), { recursive: true });
  rmSync(dir, { recursive: true, force: true });
  console.log(`results copied to ${join(root, 'bench-results')}`);
  process.exit(run.status ?? 1);
}
// verify/import are the bundle benchmark's two halves (older names).
let wanted = args.length ? [...new Set(args.map((a) => (a === 'verify' || a === 'import' ? 'bundles' : a)))] : ALL;
if (corpus) {
  wanted = wanted.filter((w) => (w === 'bundles' ? corpus.some((c) => BUNDLE_CORPORA.includes(c)) : corpus.includes(w)));
  const sel = corpus.filter((c) => BUNDLE_CORPORA.includes(c));
  if (sel.length) process.env.BENCH_CORPUS = sel.join(',');
}
for (const w of wanted) {
  if (!ALL.includes(w)) {
    console.error(`unknown benchmark "${w}"; choose from ${ALL.join(', ')}`);
    process.exit(4);
  }
}

const results = join(root, 'bench-results');
mkdirSync(results, { recursive: true });

if (!process.env.BENCH_CLI) {
  console.log('building the mirror CLI (node build/build.mjs cli) ...');
  const b = spawnSync(process.execPath, [join(root, 'build/build.mjs'), 'cli'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) {
    console.error('building the CLI failed');
    process.exit(1);
  }
}

// Finished corpora's work folders are moved here and removed after the last timing (bench/lib.ts
// workDir): a big deletion between corpora slows the next one's file creation for minutes.
const doneDir = mkdtempSync(join(process.env.BENCH_TMP ?? tmpdir(), 'okc-bench-done-'));
process.env.BENCH_DEFER_CLEANUP = doneDir;
const tsx = join(root, 'node_modules/.bin/tsx');
const summary = [];
let failed = 0;
for (const name of wanted) {
  const out = join(results, `${name}.json`);
  rmSync(out, { force: true });
  console.log(`\n=== ${name} (load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}) ===`);
  if (loadavg()[0] > cpus().length) console.log(`note: load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores: the machine is busy, figures will be noisy`);
  const r = spawnSync(existsSync(tsx) ? tsx : 'npx', existsSync(tsx) ? [join('bench', `${name}.ts`)] : ['tsx', join('bench', `${name}.ts`)], { cwd: root, stdio: 'inherit', env: process.env });
  let res;
  try {
    res = JSON.parse(readFileSync(out, 'utf8'));
  } catch {
    res = { bench: name, status: 'failed', reason: `exited ${r.status ?? r.signal} without writing ${out}`, metrics: [] };
  }
  if (res.status === 'failed') failed++;
  summary.push(res);
}

const rows = [['bench', 'status', 'metric', 'value', 'target', '']];
for (const s of summary) {
  if (s.status !== 'ok') continue;
  for (const m of s.metrics) {
    const v = typeof m.value === 'number' ? (Number.isInteger(m.value) ? String(m.value) : m.value.toFixed(3)) : String(m.value ?? '');
    rows.push([s.bench, s.status, m.name, `${v}${m.unit ? ` ${m.unit}` : ''}`, m.target ?? '', m.pass === true ? 'ok' : m.pass === false ? 'MISS' : '']);
  }
}
const widths = rows[0].map((_, i) => Math.min(90, Math.max(...rows.map((r) => r[i].length))));
console.log('\n' + rows.map((r) => r.map((c, i) => (c.length > widths[i] ? c.slice(0, widths[i] - 1) + '…' : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n'));
for (const s of summary) if (s.status !== 'ok') console.log(`${s.bench}: ${s.status}: ${s.reason ?? ''}`);
writeFileSync(join(results, 'summary.json'), JSON.stringify({ at: new Date().toISOString(), results: summary }, null, 2) + '\n');
console.log(`\nresults: ${results}/*.json`);
console.log('removing the work folders (after the last timing) ...');
rmSync(doneDir, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
