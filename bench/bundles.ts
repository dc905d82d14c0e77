/**
 * Benchmark (issue 13): every corpus (bench/corpora.ts) is generated once, then
 * timed side by side with the manual pipeline in the same run, alternating:
 *
 *   verify: manual `zstd -dc | tar -x` + `sha256sum -c` + `openssl dgst -verify`
 *           vs `mirror verify <bundle> --key k.pub --json`           target ≤ 0.33×, RSS < 200 MB
 *   import: the same manual pipeline made durable (`… && sync`)
 *           vs `mirror import <bundle> --workspace <fresh> --json`   target ≤ 1.0×, RSS < 200 MB
 *
 * Every run writes into a fresh folder; nothing is deleted until every series
 * is over (ext4's scan of freshly deleted inodes would slow the next run down).
 *
 *   npx tsx bench/bundles.ts     (BENCH_CORPUS=512m,100k,1m  BENCH_REPS=2)
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { generateSigningKey, writeMirrorBundle } from '../electron/services/producer/index';
import { manual, writeManualInputs } from './common';
import { chosen, CORPORA } from './corpora';
import { CLI, ensureCli, mb, median, metric, mustSucceed, newResult, parseJsonOut, quiet, REPS, runBench, timed, timedShell, workDir, type BenchResult, type Timed } from './lib';

const names = chosen(Object.keys(CORPORA));
const r: BenchResult = newResult('bundles', { corpora: names, reps: REPS });

function mustOk(label: string, t: Timed): Timed {
  const j = parseJsonOut(t.stdout);
  if (t.exitCode !== 0 || !j || j.ok !== true) throw new Error(`${label} failed (exit ${t.exitCode}): ${j ? `${String(j.code)} ${String(j.message)}` : t.stderr.slice(0, 800)}`);
  return t;
}

/**
 * Untimed, between timed runs: the extracted files a run left dirty are
 * written back before the next run starts (without it the manual verify's
 * 100,000 unsynced files were written back while `mirror verify` ran after
 * it: one run's deferred work timed as the next one's), then the machine is
 * left to go quiet (lib.quiet: the kernel's work after the writeback).
 */
let waited = 0;
const settle = async (): Promise<void> => {
  spawnSync('sync');
  waited += await quiet();
};

const ratio = (a: number, b: number): number => Math.round((a / b) * 1000) / 1000;

runBench(r, async () => {
  ensureCli();
  const w = workDir('bundles');
  try {
    const key = generateSigningKey('ecdsa-p256');
    for (const name of names) {
      const c = CORPORA[name];
      const dir = join(w.dir, name);
      spawnSync('mkdir', ['-p', dir]);
      console.log(`\n[${name}] ${c.describe}`);
      const t0 = performance.now();
      const res = await writeMirrorBundle(join(dir, 'mirror-20251029-full.tar.zst'), { key, files: c.files(), compressionLevel: 3 });
      const payload = res.exportJson.files.reduce((a, f) => a + f.size, 0);
      console.log(`  generated: ${res.exportJson.files.length} files, ${mb(payload)} MB payload, bundle ${mb(res.rawSize)} MB, in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const b = writeManualInputs(dir, res, key);
      spawnSync('bash', ['-c', `cat '${b.bundle}' > /dev/null; sync`]); // warm page cache, nothing dirty
      await quiet();
      // The spec's default member limit is 1,000,000 (files, folders and control files together): a bigger
      // corpus raises it the way an operator would, --max-members for verify and the workspace setting for import (untimed).
      const members = res.exportJson.files.length + new Set(res.exportJson.files.map((f) => f.path.slice(0, f.path.lastIndexOf('/')))).size + 16;
      const limit = members > 1_000_000 ? String(2 * members) : null;
      const verifyLimit = limit ? ['--max-members', limit] : [];
      const s = { manual: [] as number[], verify: [] as number[], durable: [] as number[], imp: [] as number[], vRss: 0, iRss: 0, written: 0 };
      for (let i = 0; i < REPS; i++) {
        const m = mustSucceed('manual pipeline', await timedShell(manual(b, join(dir, `manual-${i}`), false)));
        await settle();
        const v = mustOk('mirror verify', await timed(CLI, ['verify', b.bundle, '--key', b.pub, '--json', ...verifyLimit]));
        await settle();
        const d = mustSucceed('durable manual pipeline', await timedShell(manual(b, join(dir, `durable-${i}`), true)));
        await settle();
        if (limit) mustSucceed('raise the member limit', await timed(CLI, ['settings', 'set', 'limits.maxMembers', limit, '--reason', 'benchmark: a corpus over the default member limit', '--workspace', join(dir, `ws-${i}`), '--json']));
        const im = mustOk('mirror import', await timed(CLI, ['import', b.bundle, '--workspace', join(dir, `ws-${i}`), '--key', b.pub, '--json']));
        await settle();
        s.manual.push(m.seconds);
        s.verify.push(v.seconds);
        s.durable.push(d.seconds);
        s.imp.push(im.seconds);
        s.vRss = Math.max(s.vRss, v.peakRssBytes ?? 0);
        s.iRss = Math.max(s.iRss, im.peakRssBytes ?? 0);
        s.written = Math.max(s.written, im.writtenBytes ?? 0);
        console.log(
          `  [rep ${i + 1}] manual ${m.seconds.toFixed(2)} s | verify ${v.seconds.toFixed(2)} s (${ratio(v.seconds, m.seconds)}×, RSS ${mb(v.peakRssBytes)} MB)` +
            ` | durable manual ${d.seconds.toFixed(2)} s | import ${im.seconds.toFixed(2)} s (${ratio(im.seconds, d.seconds)}×, RSS ${mb(im.peakRssBytes)} MB)`,
        );
      }
      const vr = ratio(median(s.verify), median(s.manual));
      const ir = ratio(median(s.imp), median(s.durable));
      metric(r, { name: `${name}: bundle / payload`, value: `${mb(res.rawSize)} / ${mb(payload)} MB, ${res.exportJson.files.length} files` });
      metric(r, { name: `${name}: manual / mirror verify (median)`, value: `${median(s.manual).toFixed(2)} / ${median(s.verify).toFixed(2)} s` });
      metric(r, { name: `${name}: verify ratio`, value: vr, target: '<= 0.33', pass: vr <= 0.33 });
      metric(r, { name: `${name}: verify peak RSS`, value: mb(s.vRss || null), unit: 'MB', target: '< 200', pass: s.vRss ? s.vRss < 200e6 : null });
      metric(r, { name: `${name}: durable manual / mirror import (median)`, value: `${median(s.durable).toFixed(2)} / ${median(s.imp).toFixed(2)} s` });
      metric(r, { name: `${name}: import ratio`, value: ir, target: '<= 1.0', pass: ir <= 1.0 });
      metric(r, { name: `${name}: import peak RSS`, value: mb(s.iRss || null), unit: 'MB', target: '< 200', pass: s.iRss ? s.iRss < 200e6 : null });
      metric(r, { name: `${name}: import bytes written`, value: mb(s.written || null), unit: 'MB' });
    }
    console.log(`  waited ${(waited / 1000).toFixed(1)} s in all for a quiet machine between timed runs`);
    r.notes.push(`Warm page cache for the bundle (read once before timing); an untimed \`sync\` after every timed run, then a wait (${(waited / 1000).toFixed(1)} s in all) until the CPUs are < 10 % busy for 0.5 s (at most 10 s).`);
    r.notes.push('The checksum list and DER signature for the manual pipeline are prepared before timing. The library copy is part of an import; the manual pipeline keeps no copy.');
  } finally {
    console.log(process.env.BENCH_DEFER_CLEANUP ? '  done with the generated data (removed after the last benchmark) ...' : '  removing the generated data (after every timed series) ...');
    w.cleanup();
  }
});
