/**
 * Benchmark (issue 3): `mirror verify` of a 512 MiB bundle of incompressible
 * payload files vs the manual pipeline (zstd -dc | tar -x, sha256sum -c over
 * the list from export.json, openssl dgst -verify on export.json), in the same
 * run; peak RSS of the mirror process, and at 2 GiB with BENCH_LARGE=1.
 *
 *   npx tsx bench/verify.ts      (BENCH_SIZE_MIB=512 BENCH_FILE_MIB=8 BENCH_REPS=2 BENCH_LARGE=0)
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { makeBigBundle, manualScript, probeVerify, type BigBundle } from './common';
import { CLI, ensureCli, envInt, LARGE, mb, median, metric, mustSucceed, newResult, parseJsonOut, REPS, runBench, skip, timed, timedShell, workDir, type BenchResult } from './lib';

const SIZE = envInt('BENCH_SIZE_MIB', 512);
const FILE = envInt('BENCH_FILE_MIB', 8);
const LARGE_SIZE = envInt('BENCH_LARGE_MIB', 2048);
const r: BenchResult = newResult('verify', { sizeMiB: SIZE, fileMiB: FILE, reps: REPS, large: LARGE, largeMiB: LARGE ? LARGE_SIZE : null });

async function mirrorVerify(b: BigBundle) {
  const t = await timed(process.execPath, [CLI, 'verify', b.bundle, '--key', b.pub, '--json']);
  const j = parseJsonOut(t.stdout);
  if (t.exitCode !== 0 || !j || j.ok !== true) {
    throw new Error(`mirror verify refused a valid bundle (exit ${t.exitCode}): ${j ? String(j.code) + ' ' + String(j.message) : t.stderr.slice(0, 500)}`);
  }
  return t;
}

async function measure(label: string, b: BigBundle, dir: string, reps: number) {
  spawnSync('bash', ['-c', `cat '${b.bundle}' > /dev/null`]); // same warm page cache for both
  const manual: number[] = [];
  const mirror: number[] = [];
  let rss = 0;
  for (let i = 0; i < reps; i++) {
    const m = mustSucceed('manual pipeline', await timedShell(manualScript(b, join(dir, 'manual-out'))));
    manual.push(m.seconds);
    spawnSync('rm', ['-rf', join(dir, 'manual-out')]);
    const v = await mirrorVerify(b);
    mirror.push(v.seconds);
    rss = Math.max(rss, v.peakRssBytes ?? 0);
    console.log(`  [${label} rep ${i + 1}] manual ${m.seconds.toFixed(2)} s, mirror verify ${v.seconds.toFixed(2)} s, RSS ${mb(v.peakRssBytes)} MB`);
  }
  return { manual: median(manual), mirror: median(mirror), manualBest: Math.min(...manual), mirrorBest: Math.min(...mirror), rss: rss || null };
}

runBench(r, async () => {
  console.log(`verify: ${SIZE} MiB bundle of ${FILE} MiB incompressible files; ${REPS} reps${LARGE ? `; plus ${LARGE_SIZE} MiB` : ''}`);
  ensureCli();
  const why = await probeVerify();
  if (why) return skip(r, why);
  const w = workDir('verify');
  try {
    const b = await makeBigBundle(w.dir, SIZE, FILE);
    console.log(`  generated ${b.result.rawSize} bytes in ${b.genSeconds.toFixed(1)} s`);
    const res = await measure(`${SIZE} MiB`, b, w.dir, REPS);
    metric(r, { name: `bundle size (${SIZE} MiB payload)`, value: mb(b.result.rawSize), unit: 'MB' });
    metric(r, { name: 'manual pipeline (median)', value: res.manual, unit: 's' });
    metric(r, { name: 'mirror verify (median)', value: res.mirror, unit: 's' });
    metric(r, { name: 'mirror verify throughput', value: Math.round(b.result.rawSize / 1e6 / res.mirror), unit: 'MB/s' });
    const ratio = res.mirror / res.manual;
    metric(r, { name: 'ratio mirror/manual', value: Math.round(ratio * 1000) / 1000, target: '<= 0.33', pass: ratio <= 0.33 });
    if (REPS > 1) {
      metric(r, { name: 'best of reps: manual / mirror', value: `${res.manualBest.toFixed(2)} s / ${res.mirrorBest.toFixed(2)} s` });
      metric(r, { name: 'ratio of best runs', value: Math.round((res.mirrorBest / res.manualBest) * 1000) / 1000, target: '<= 0.33', pass: res.mirrorBest / res.manualBest <= 0.33 });
    }
    metric(r, { name: `peak RSS mirror verify @ ${SIZE} MiB`, value: mb(res.rss), unit: 'MB', target: '< 200', pass: res.rss === null ? null : res.rss < 200e6 });
    if (LARGE) {
      spawnSync('rm', ['-f', b.bundle]);
      const big = await makeBigBundle(w.dir, LARGE_SIZE, FILE);
      console.log(`  generated ${big.result.rawSize} bytes in ${big.genSeconds.toFixed(1)} s`);
      const l = await measure(`${LARGE_SIZE} MiB`, big, w.dir, 1);
      metric(r, { name: `manual pipeline @ ${LARGE_SIZE} MiB`, value: l.manual, unit: 's' });
      metric(r, { name: `mirror verify @ ${LARGE_SIZE} MiB`, value: l.mirror, unit: 's' });
      metric(r, { name: `ratio @ ${LARGE_SIZE} MiB`, value: Math.round((l.mirror / l.manual) * 1000) / 1000, target: '<= 0.33', pass: l.mirror / l.manual <= 0.33 });
      metric(r, { name: `peak RSS mirror verify @ ${LARGE_SIZE} MiB`, value: mb(l.rss), unit: 'MB', target: '< 200, flat', pass: l.rss === null ? null : l.rss < 200e6 });
      if (l.rss && res.rss) metric(r, { name: `RSS growth ${SIZE} -> ${LARGE_SIZE} MiB`, value: mb(l.rss - res.rss), unit: 'MB' });
    }
    r.notes.push('Warm page cache for both (the bundle is read once before timing; caches cannot be dropped here). The checksum list and the DER signature for the manual pipeline are prepared before timing.');
  } finally {
    w.cleanup();
  }
});
