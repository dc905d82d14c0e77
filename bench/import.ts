/**
 * Benchmark (issue 4): `mirror import` of a full 512 MiB bundle (verify +
 * extract + fsync + switch) vs the manual pipeline made durable the same way
 * (zstd -dc | tar -x, sync, sha256sum -c, openssl dgst -verify), same run.
 *
 *   npx tsx bench/import.ts      (BENCH_SIZE_MIB=512 BENCH_FILE_MIB=8 BENCH_REPS=2)
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { makeBigBundle, manualScript, mirrorImport, probeImport } from './common';
import { ensureCli, envInt, mb, median, metric, mustSucceed, newResult, REPS, runBench, skip, timedShell, workDir, type BenchResult } from './lib';

const SIZE = envInt('BENCH_SIZE_MIB', 512);
const FILE = envInt('BENCH_FILE_MIB', 8);
const r: BenchResult = newResult('import', { sizeMiB: SIZE, fileMiB: FILE, reps: REPS });

runBench(r, async () => {
  console.log(`import: full ${SIZE} MiB bundle into a fresh workspace vs the durable manual pipeline; ${REPS} reps`);
  ensureCli();
  const w = workDir('import');
  try {
    const why = await probeImport(w.dir);
    if (why) return skip(r, why);
    const b = await makeBigBundle(w.dir, SIZE, FILE);
    console.log(`  generated ${b.result.rawSize} bytes in ${b.genSeconds.toFixed(1)} s`);
    spawnSync('bash', ['-c', `cat '${b.bundle}' > /dev/null; sync`]);
    const manual: number[] = [];
    const mirror: number[] = [];
    let rss = 0;
    let written = 0;
    for (let i = 0; i < REPS; i++) {
      const out = join(w.dir, 'manual-out');
      const m = mustSucceed('manual pipeline', await timedShell(manualScript(b, out, true)));
      manual.push(m.seconds);
      spawnSync('bash', ['-c', `rm -rf '${out}'; sync`]);
      const ws = join(w.dir, `ws-${i}`);
      const v = await mirrorImport(b.bundle, ws, b.pub);
      mirror.push(v.seconds);
      rss = Math.max(rss, v.peakRssBytes ?? 0);
      written = Math.max(written, v.writtenBytes ?? 0);
      spawnSync('bash', ['-c', `rm -rf '${ws}'; sync`]);
      console.log(`  [rep ${i + 1}] manual+sync ${m.seconds.toFixed(2)} s, mirror import ${v.seconds.toFixed(2)} s, RSS ${mb(v.peakRssBytes)} MB, wrote ${mb(v.writtenBytes)} MB`);
    }
    const ratio = median(mirror) / median(manual);
    metric(r, { name: 'manual durable pipeline (median)', value: median(manual), unit: 's' });
    metric(r, { name: 'mirror import (median)', value: median(mirror), unit: 's' });
    metric(r, { name: 'ratio import/manual', value: Math.round(ratio * 1000) / 1000, target: '<= 1.0', pass: ratio <= 1.0 });
    if (REPS > 1) {
      metric(r, { name: 'best of reps: manual / mirror', value: `${Math.min(...manual).toFixed(2)} s / ${Math.min(...mirror).toFixed(2)} s` });
      metric(r, { name: 'ratio of best runs', value: Math.round((Math.min(...mirror) / Math.min(...manual)) * 1000) / 1000, target: '<= 1.0', pass: Math.min(...mirror) / Math.min(...manual) <= 1.0 });
    }
    metric(r, { name: 'peak RSS mirror import', value: mb(rss || null), unit: 'MB' });
    metric(r, { name: 'bytes written by mirror import', value: mb(written || null), unit: 'MB' });
    r.notes.push('The library copy of the bundle is part of an import; the manual pipeline keeps no copy. Warm page cache for the bundle.');
  } finally {
    w.cleanup();
  }
});
