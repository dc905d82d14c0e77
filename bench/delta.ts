/**
 * Benchmark (issues 4, 13): a 100,000-file staging tree (NDJSON files of
 * ~1 KiB, bench/corpora.ts), then a delta changing 1 % of the files: time of
 * applying the delta vs importing the tree in full (target <= 0.10x), bytes
 * written by each, and how the import splits its work where its JSON report
 * says. Nothing is deleted between the timed runs.
 *
 *   npx tsx bench/delta.ts   (BENCH_DELTA_FILES=100000 BENCH_DELTA_PERCENT=1)
 */
import { join } from 'node:path';
import { generateSigningKey, writeMirrorBundle } from '../electron/services/producer/index';
import { smallFiles } from './corpora';
import { findNumbers, mirrorImport, probeImport, writeManualInputs } from './common';
import { CLI, ensureCli, envInt, mb, metric, newResult, runBench, skip, timed, workDir, type BenchResult } from './lib';

const FILES = envInt('BENCH_DELTA_FILES', 100_000);
const BYTES = 1024;
const PERCENT = envInt('BENCH_DELTA_PERCENT', 1);
const r: BenchResult = newResult('delta', { files: FILES, fileBytesMean: BYTES, changedPercent: PERCENT });

runBench(r, async () => {
  console.log(`delta: ${FILES} NDJSON files of ~${BYTES} B, then a delta changing ${PERCENT} %`);
  ensureCli();
  const w = workDir('delta');
  try {
    const why = await probeImport(w.dir);
    if (why) return skip(r, why);
    const key = generateSigningKey('ecdsa-p256');
    const t0 = process.hrtime.bigint();
    const files = smallFiles(FILES, 'delta-full');
    const full = await writeMirrorBundle(join(w.dir, 'mirror-20251029-full.tar.zst'), { key, files, compressionLevel: 3 });
    const step = Math.max(1, Math.round(100 / PERCENT));
    const changed = files.filter((_, i) => i % step === 0).map((f) => ({ path: f.path, content: { size: BYTES, seed: `changed:${f.path}`, kind: 'ndjson' as const } }));
    const delta = await writeMirrorBundle(join(w.dir, 'mirror-20251030-delta.tar.zst'), { key, base: full, files: changed, compressionLevel: 3 });
    console.log(`  generated full (${mb(full.rawSize)} MB) and delta (${changed.length} changed files, ${mb(delta.rawSize)} MB) in ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s`);
    const pub = writeManualInputs(w.dir, full, key).pub;
    // Context: verifying (not importing) the many-file bundle, to tell verify cost from apply cost.
    const vf = await timed(process.execPath, [CLI, 'verify', full.file, '--key', pub, '--json']);
    console.log(`  mirror verify of the full bundle ${vf.seconds.toFixed(2)} s (exit ${vf.exitCode}), RSS ${mb(vf.peakRssBytes)} MB`);
    const ws = join(w.dir, 'ws');
    const f = await mirrorImport(full.file, ws, pub);
    console.log(`  full import ${f.seconds.toFixed(2)} s, wrote ${mb(f.writtenBytes)} MB`);
    const d = await mirrorImport(delta.file, ws, pub);
    console.log(`  delta apply ${d.seconds.toFixed(2)} s, wrote ${mb(d.writtenBytes)} MB`);
    const ratio = d.seconds / f.seconds;
    metric(r, { name: `full import (${FILES} files)`, value: f.seconds, unit: 's' });
    metric(r, { name: `delta apply (${changed.length} changed)`, value: d.seconds, unit: 's' });
    metric(r, { name: 'ratio delta/full', value: Math.round(ratio * 1000) / 1000, target: '<= 0.10', pass: ratio <= 0.1 });
    metric(r, { name: 'bytes written: full import', value: mb(f.writtenBytes), unit: 'MB' });
    metric(r, { name: 'bytes written: delta apply', value: mb(d.writtenBytes), unit: 'MB' });
    metric(r, { name: 'peak RSS: full import', value: mb(f.peakRssBytes), unit: 'MB' });
    metric(r, { name: `mirror verify only, full bundle (exit ${vf.exitCode})`, value: vf.seconds, unit: 's' });
    metric(r, { name: 'peak RSS: mirror verify only, full bundle', value: mb(vf.peakRssBytes), unit: 'MB' });
    metric(r, { name: 'peak RSS: delta apply', value: mb(d.peakRssBytes), unit: 'MB' });
    // How the apply split its work, as the import's JSON report gives it (items[].stats).
    const items = (d.json?.items as { stats?: Record<string, unknown> }[] | undefined) ?? [];
    const split = items[0]?.stats ? findNumbers(items[0].stats, /./) : {};
    if (Object.keys(split).length > 0) {
      for (const [k, v] of Object.entries(split)) metric(r, { name: `delta apply report: ${k}`, value: v });
      const fullItems = (f.json?.items as { stats?: Record<string, unknown> }[] | undefined) ?? [];
      if (fullItems[0]?.stats) for (const [k, v] of Object.entries(findNumbers(fullItems[0].stats, /./))) metric(r, { name: `full import report: ${k}`, value: v });
    } else {
      r.notes.push('The import JSON report gives no split between hard links and writes.');
      console.log('  (the import report gives no split between hard links and writes)');
    }
  } finally {
    w.cleanup();
  }
});
