import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../engine';
import { TIMELINE_MAX_POINTS } from './index';
import { inspectPublicKey } from '../keys/index';
import { logEvent } from '../obs/index';
import { recordApplyFailure } from '../staging/apply';
import { KITS, tempDir } from '../testing/fixtures';

const KIT = join(KITS, 'ecdsa-p256');
const PUB = join(KITS, 'ecdsa-p256.trusted.pub');

let tmp: { dir: string; cleanup: () => void };
let e: Engine;
beforeEach(() => {
  tmp = tempDir('okc-health-');
  e = createEngine(join(tmp.dir, 'ws'), { create: true });
});
afterEach(() => {
  e.close();
  tmp.cleanup();
});

async function importKit(): Promise<string> {
  const pem = readFileSync(PUB, 'utf8');
  const tenant = (JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { tenant: string }).tenant;
  e.keys.add({ pem, tenant, confirmFingerprint: inspectPublicKey(pem).fingerprint, reason: 'CHG-1 trust the fixture key' });
  const r = await e.importBundles([KIT]);
  expect(r.ok, r.message).toBe(true);
  return tenant;
}

describe('health', () => {
  it('an empty workspace is not healthy: freshness and chain unknown, no key, no checklist today', async () => {
    const h = await e.health();
    expect(h.overall).not.toBe('pass');
    expect(h.freshness).toMatchObject({ status: 'unknown', newest: null, ageHours: null, clockBehind: false });
    expect(h.chain).toMatchObject({ status: 'unknown', points: [], gaps: [], currentGeneration: null });
    expect(h.keys.status).toBe('warn');
    expect(h.checklist).toMatchObject({ status: 'warn', runId: null });
    expect(h.lastImport).toMatchObject({ status: 'warn', at: null });
    expect(h.retention.status).toBe('fail');
    expect(h.storage.usedBytes).toBe(0);
  });

  it.skipIf(!existsSync(KIT))('after a kit import: chain full → deltas with the current one, freshness against the budget, keys per tenant, storage, history', async () => {
    const tenant = await importKit();
    // The kit's data was created in 2025, long before this apply: stale against the 48 h budget.
    const now = new Date();
    const stale = await e.health({ now });
    const created = stale.freshness.newest!.createdAt;
    const age = Math.round(((now.getTime() - Date.parse(created)) / 3600_000) * 10) / 10;
    expect(stale.freshness).toMatchObject({ status: 'fail', ageHours: age, budgetHours: 48, clockBehind: false });
    expect(stale.freshness.newest).toMatchObject({ generation: 3 });
    expect(stale.overall).toBe('fail');
    // A budget larger than the age: fresh.
    e.saveSettings({ ...e.settings, stalenessHours: Math.ceil(age * 2) }, { reason: 'test budget' });
    expect((await e.health({ now })).freshness).toMatchObject({ status: 'pass', ageHours: age, budgetHours: Math.ceil(age * 2) });
    // The host clock behind data already seen (the apply itself happened "now"): unknown, never a negative or made-up age.
    const behind = await e.health({ now: new Date(now.getTime() - 24 * 3600_000) });
    expect(behind.freshness).toMatchObject({ status: 'unknown', ageHours: null, clockBehind: true });
    expect(behind.freshness.summary).toMatch(/clock/);

    const h = await e.health();
    expect(h.chain.points.map((p) => [p.generation, p.kind, p.state])).toEqual([
      [1, 'full', 'applied'],
      [2, 'delta', 'applied'],
      [3, 'delta', 'current'],
    ]);
    expect(h.chain).toMatchObject({ status: 'pass', tenant, currentGeneration: 3, gaps: [], failed: [] });
    expect(h.keys.tenants).toEqual([expect.objectContaining({ tenant, active: 1, seen: true })]);
    expect(h.keys.status).toBe('pass');
    expect(h.storage.stagingBytes).toBeGreaterThan(0);
    expect(h.storage.libraryBytes).toBeGreaterThan(0);
    expect(h.storage.usedBytes).toBe(h.storage.stagingBytes + h.storage.libraryBytes);
    expect(h.storage.trend.length).toBeGreaterThan(0);
    expect(h.storage.trend[h.storage.trend.length - 1].libraryBytes).toBeGreaterThan(0);
    // The trend's last point is the storage check's own figures (staging from the builds' records).
    expect(h.storage.trend[h.storage.trend.length - 1]).toMatchObject({ stagingBytes: h.storage.stagingBytes, libraryBytes: h.storage.libraryBytes });
    expect(h.storage.stagingMeasure).toBe('ledger');
    expect(h.lastImport).toMatchObject({ status: 'pass', ok: true, code: null });
    expect(h.history.filter((x) => x.kind === 'import' && x.ok).map((x) => x.generation)).toEqual(expect.arrayContaining([1, 2, 3]));
  });

  it.skipIf(!existsSync(KIT))('a failed delta and a gap are marked on the timeline; the failure carries its runbook action until acknowledged', async () => {
    await importKit();
    const g3 = (await e.health()).chain.points[2];
    recordApplyFailure(e.ws, e.db(), { path: '/media/delta-5.tar.zst', kind: 'mirror-delta', exportId: 'exp-5', generation: 5 }, { code: 'ERR_EXPORT_BASE_MISSING', message: 'generation 4 is missing' });
    const h = await e.health();
    expect(h.chain.points.map((p) => [p.generation, p.state])).toEqual([
      [1, 'applied'],
      [2, 'applied'],
      [3, 'current'],
      [4, 'missing'],
      [5, 'failed'],
    ]);
    expect(h.chain.points[2]).toEqual(g3);
    expect(h.chain).toMatchObject({ status: 'fail', gaps: [4], failed: [5] });
    expect(h.chain.points[4].code).toBe('ERR_EXPORT_BASE_MISSING');
    expect(h.lastImport).toMatchObject({ status: 'fail', ok: false, code: 'ERR_EXPORT_BASE_MISSING' });
    expect(h.lastImport.advice?.action).toBeTruthy();
    expect(h.failures.status).toBe('fail');
    expect(h.failures.count).toBe(1);
    expect(h.failures.items[0]).toMatchObject({ event: 'mirror.delta.apply_failed', code: 'ERR_EXPORT_BASE_MISSING' });
    expect(h.failures.items[0].advice?.action).toBeTruthy();
    e.runbooks.acknowledgeFailures({ reason: 'brought the missing delta, CHG-7' });
    const after = await e.health();
    expect(after.failures).toMatchObject({ status: 'pass', count: 0, items: [] });
    // The timeline still shows what happened (the failure is history, not an open item).
    expect(after.chain.failed).toEqual([5]);
  });

  it.skipIf(!existsSync(KIT))('a failure naming a far generation (1,000,000) costs one gap range: the timeline stays bounded and the summary names the range', async () => {
    await importKit();
    recordApplyFailure(e.ws, e.db(), { path: '/media/delta-x.tar.zst', kind: 'mirror-delta', exportId: 'exp-x', generation: 1_000_000 }, { code: 'ERR_EXPORT_BASE_MISSING', message: 'far ahead' });
    recordApplyFailure(e.ws, e.db(), { path: '/media/delta-7.tar.zst', kind: 'mirror-delta', exportId: 'exp-7', generation: 7 }, { code: 'ERR_VERIFY_DIGEST', message: 'bad digest' });
    const h = await e.health();
    expect(h.chain.points.length).toBe(TIMELINE_MAX_POINTS);
    expect(h.chain.points[h.chain.points.length - 1]).toMatchObject({ generation: 1_000_000, state: 'failed' });
    expect(h.chain.points[0].generation).toBe(1_000_000 - TIMELINE_MAX_POINTS + 1);
    expect(h.chain.gaps.length).toBe(TIMELINE_MAX_POINTS - 1);
    // Generation 7 is before the window: still reported as failed.
    expect(h.chain.failed).toEqual([7, 1_000_000]);
    expect(h.chain.status).toBe('fail');
    expect(h.chain.summary).toContain('1000000 generation(s) (the newest 200 shown)');
    expect(h.chain.summary).toContain('missing 4–6, 8–999999');
    expect(h.chain.summary.length).toBeLessThan(500);
  });

  it('storage against thresholds: above the warning level warns, above the failure level fails', async () => {
    logEvent(e.ws, { event: 'note', message: 'x' });
    const s = e.settings;
    e.saveSettings({ ...s, capacity: { ...s.capacity, warnBytes: 1, failBytes: 10 ** 15 } }, { reason: 'test thresholds' });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(e.ws.layout.library, 'x.bin'), Buffer.alloc(4096));
    expect((await e.health()).storage).toMatchObject({ status: 'warn', libraryBytes: 4096 });
    e.saveSettings({ ...e.settings, capacity: { ...e.settings.capacity, failBytes: 2 } }, { reason: 'test thresholds' });
    const h = await e.health();
    expect(h.storage.status).toBe('fail');
    expect(h.overall).toBe('fail');
  });

  it('today\'s daily checklist: started shows progress, none started today warns', async () => {
    expect((await e.health()).checklist.runId).toBeNull();
    const run = e.runbooks.createRun('daily', { operator: 'alice' });
    const h = await e.health();
    expect(h.checklist).toMatchObject({ runId: run.id, state: 'not_started', done: 0, status: 'warn' });
    expect(h.checklist.total).toBe(run.steps.length);
  });
});
