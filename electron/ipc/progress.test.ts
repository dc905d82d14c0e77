import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChannelInput, JobInfo, Topic, Topics, WorkspaceStatusView } from '../../shared/contract';
import type { JobProgress } from '../../shared/types';
import { inspectPublicKey } from '../services/keys/index';
import { KITS, tempDir } from '../services/testing/fixtures';
import { dispatch, createHandlers, type Handlers } from './handlers';
import { ProgressMeter, stepOf } from './jobs';

const KIT = join(KITS, 'ecdsa-p256');
const KEY = join(KITS, 'ecdsa-p256.trusted.pub');

describe('ProgressMeter', () => {
  it('the rate is instantaneous (sliding window), not averaged from the job start; %, ETA and elapsed follow', () => {
    const m = new ProgressMeter(0);
    const p = (bytesDone: number, phase = 'verify'): JobProgress => ({ jobId: 'j', phase, bytesDone, bytesTotal: 100_000_000 });
    // Fast for 10 s (5 MB/s), then slow (1 MB/s).
    for (let t = 0; t <= 10_000; t += 500) m.measure(p(t * 5_000), 1_000 + t);
    let last: JobProgress = m.measure(p(50_000_000), 11_000);
    for (let t = 500; t <= 5_000; t += 500) last = m.measure(p(50_000_000 + t * 1_000), 11_000 + t);
    // Since the job start the average would be 55 MB / 16 s ≈ 3.4 MB/s; the window says 1 MB/s.
    expect(last.bytesPerSecond).toBe(1_000_000);
    expect(last.percent).toBe(55);
    expect(last.etaSeconds).toBe(45);
    expect(last.elapsedMs).toBe(16_000);
    expect(last.step).toBe('verify');
    // A new phase starts a new window (no rate carried over from verify).
    const a = m.measure({ jobId: 'j', phase: 'apply', bytesDone: 0, bytesTotal: 10 }, 17_000);
    expect(a).toMatchObject({ step: 'apply', bytesPerSecond: 0, percent: 0, etaSeconds: null });
    expect(m.measure({ jobId: 'j', phase: 'apply', bytesDone: 10, bytesTotal: 10 }, 17_500)).toMatchObject({ percent: 100, etaSeconds: 0, bytesPerSecond: 20 });
  });

  it('names the import step of a phase', () => {
    expect(stepOf('verify mirror/x.tar.zst')).toBe('verify');
    expect(stepOf('extract')).toBe('extract');
    expect(stepOf('switch')).toBe('switch');
    expect(stepOf('busy')).toBeUndefined();
  });
});

describe('import progress, one writer at a time, restore jobs (real handlers, fixture kit)', () => {
  let tmp: { dir: string; cleanup: () => void };
  let h: Handlers;
  let events: { topic: Topic; payload: unknown }[];
  beforeEach(() => {
    tmp = tempDir('okc-progress-');
    events = [];
    h = createHandlers({ workspaceDir: join(tmp.dir, 'ws'), emit: <T extends Topic>(topic: T, payload: Topics[T]) => void events.push({ topic, payload }) });
  });
  afterEach(async () => {
    await h.dispose();
    tmp.cleanup();
  });
  const call = <C extends Parameters<typeof dispatch>[1]>(c: C, input?: ChannelInput<C>) => dispatch(h.table, c, input);

  it.skipIf(!existsSync(KIT))('an import reports every step per bundle (verify → extract → apply → switch) with bundle k of n; a second import is refused while the first goes on', async () => {
    const r = await call('import.start', { paths: [KIT], keyFiles: [KEY] });
    if (!r.ok) throw new Error(r.error.message);
    // The first is running: a second import, a restore and a rollback are refused, naming it.
    const second = await call('import.start', { paths: [KIT], keyFiles: [KEY] });
    expect(second.ok).toBe(false);
    if (!second.ok) {
      expect(second.error.code).toBe('ERR_WORKSPACE_BUSY');
      expect(second.error.message).toMatch(/an import is running/);
      expect(second.error.action).toMatch(/cancel/);
    }
    const rb = await call('staging.rollback', { reason: 'no' });
    expect(rb.ok ? null : rb.error.code).toBe('ERR_WORKSPACE_BUSY');
    const list = await call('jobs.list', {});
    expect(list.ok && list.value.map((j) => [j.jobId, j.state])).toEqual([[r.value.jobId, 'running']]);
    const done = await h.jobs.wait(r.value.jobId);
    expect(done.state, JSON.stringify(done.import ?? done.error)).toBe('succeeded');

    const progress = events.filter((e) => e.topic === 'job.progress').map((e) => e.payload as JobProgress);
    expect(progress.every((p) => p.jobId === r.value.jobId && typeof p.elapsedMs === 'number')).toBe(true);
    // Mirror bundles 1..3 of 4 (the kit also holds a Trivy DB): each goes through the four steps in order.
    for (const k of [1, 2, 3]) {
      const steps = progress.filter((p) => p.bundleIndex === k).map((p) => p.step);
      const order = [...new Set(steps)];
      expect(order, `bundle ${k}`).toEqual(['verify', 'extract', 'apply', 'switch']);
      expect(progress.filter((p) => p.bundleIndex === k).every((p) => p.bundleCount === 4 && !!p.bundle)).toBe(true);
      const ends = progress.filter((p) => p.bundleIndex === k && p.step === 'switch');
      expect(ends[ends.length - 1].percent).toBe(100);
    }
    // After the job a new import may start again.
    const again = await call('import.start', { paths: [KIT], keyFiles: [KEY] });
    expect(again.ok).toBe(true);
    if (again.ok) await h.jobs.wait(again.value.jobId);
  });

  it.skipIf(!existsSync(KIT))('restore on a corrupt library: the dry run names the bad bundle, apply needs the typed export id, refuses and leaves staging unchanged, offering rollback', async () => {
    const pem = readFileSync(KEY, 'utf8');
    const tenant = (JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { tenant: string }).tenant;
    const add = await call('keys.add', { pem, tenant, fingerprint: inspectPublicKey(pem).fingerprint, reason: 'CHG-1 pin key' });
    expect(add.ok).toBe(true);
    const imp = await call('import.start', { paths: [KIT] });
    if (!imp.ok) throw new Error(imp.error.message);
    expect((await h.jobs.wait(imp.value.jobId)).state).toBe('succeeded');
    const lib = await call('library.list', {});
    if (!lib.ok) throw new Error('library');
    const d2 = lib.value.find((l) => l.generation === 2)!;
    const file = join(tmp.dir, 'ws', d2.file);
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 1;
    writeFileSync(file, bytes);
    const before = (await call('workspace.status', {})) as { ok: true; value: WorkspaceStatusView };

    const pv = await call('restore.preview', {});
    if (!pv.ok) throw new Error(pv.error.message);
    const preview: JobInfo = await h.jobs.wait(pv.value.jobId);
    expect(preview.kind).toBe('restore-preview');
    expect(preview.state).toBe('failed');
    const plan = preview.restore!.plan!;
    expect(plan.bad?.generation).toBe(2);
    expect(plan.offers.map((o) => o.kind)).toContain('rollback');
    expect(plan.target?.generation).toBe(3);

    const wrong = await call('restore.apply', { reason: 'INC-12 staging suspect', confirm: 'nope' });
    expect(wrong.ok ? null : wrong.error.code).toBe('ERR_USAGE');
    const ap = await call('restore.apply', { reason: 'INC-12 staging suspect', confirm: plan.target!.exportId });
    if (!ap.ok) throw new Error(ap.error.message);
    const applied = await h.jobs.wait(ap.value.jobId);
    expect(applied.state).toBe('failed');
    expect(applied.restore?.result?.ok).toBe(false);
    expect(applied.restore?.result?.plan.offers.map((o) => o.kind)).toContain('rollback');
    const after = (await call('workspace.status', {})) as { ok: true; value: WorkspaceStatusView };
    expect(after.value.generation).toBe(before.value.generation);
    expect(after.value.stateDigest).toBe(before.value.stateDigest);
    expect(after.value.generations).toEqual(before.value.generations);
  });
});
