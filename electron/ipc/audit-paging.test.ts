import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelInput } from '../../shared/contract';
import { openDatabase } from '../services/db/index';
import { seedAudit } from '../services/testing/audit-seed';
import { tempDir } from '../services/testing/fixtures';
import { openWorkspace } from '../services/workspace/index';
import { createHandlers, dispatch, type Handlers } from './handlers';

const ROWS = 1_000_000;

describe('audit paging over IPC on a 1,000,000-row log (seeded through the audit service)', () => {
  let tmp: { dir: string; cleanup: () => void };
  let h: Handlers;
  let seeded: { first: string; last: string };
  beforeAll(() => {
    tmp = tempDir('okc-audit-1m-');
    const ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
    const db = openDatabase(ws.layout.db);
    seeded = seedAudit(db, ROWS);
    db.close();
    h = createHandlers({ workspaceDir: ws.dir });
  }, 240_000);
  afterAll(async () => {
    await h.dispose();
    tmp.cleanup();
  });
  async function call<C extends Parameters<typeof dispatch>[1]>(c: C, input?: ChannelInput<C>) {
    const r = await dispatch(h.table, c, input);
    if (!r.ok) throw new Error(`${c}: ${r.error.code} ${r.error.message}`);
    return r.value;
  }

  it('total, first page newest first, any offset, the last page', async () => {
    const p = await call('audit.page', { limit: 100 });
    expect(p.total).toBe(ROWS);
    expect(p.rows).toHaveLength(100);
    expect(p.rows[0]).toMatchObject({ id: ROWS, ts: seeded.last });
    expect(p.rows[99].id).toBe(ROWS - 99);
    const mid = await call('audit.page', { offset: 500_000, limit: 10 });
    expect(mid.rows.map((r) => r.id)).toEqual(Array.from({ length: 10 }, (_, i) => 500_000 - i));
    const last = await call('audit.page', { offset: ROWS - 3, limit: 100 });
    expect(last.rows.map((r) => r.id)).toEqual([3, 2, 1]);
    expect(last.rows[2].ts).toBe(seeded.first);
  });

  it('filters: action prefix, actor and subject substrings, time range; total follows the filter', async () => {
    const failed = await call('audit.page', { action: 'mirror.verify.failed', limit: 5 });
    expect(failed.total).toBe(ROWS / 50);
    expect(failed.rows.every((r) => r.action === 'mirror.verify.failed' && (r.details as { errorCode: string }).errorCode === 'ERR_VERIFY_DIGEST')).toBe(true);
    const mirror = await call('audit.page', { action: 'mirror.', limit: 1 });
    expect(mirror.total).toBeGreaterThan(failed.total);
    const bob = await call('audit.page', { actor: 'operator: bob', action: 'keys.', limit: 3 });
    expect(bob.rows.length).toBe(3);
    expect(bob.rows.every((r) => r.actor.endsWith('(operator: bob)') && r.action === 'keys.added')).toBe(true);
    const one = await call('audit.page', { subject: 'exp-seed-0123456', limit: 10 });
    expect(one.total).toBe(1);
    expect(one.rows[0].id).toBe(123_457);
    // The last hour: 60 rows one minute apart, [from, to).
    const from = new Date(Date.parse(seeded.last) - 59 * 60_000).toISOString();
    const hour = await call('audit.page', { from, limit: 1000 });
    expect(hour.total).toBe(60);
    expect(hour.rows).toHaveLength(60);
    // A LIKE wildcard in the text is matched literally.
    expect((await call('audit.page', { subject: '%', limit: 1 })).total).toBe(0);
  });

  it('jump to a date gives the offset of the newest row at or before it, also under a filter', async () => {
    const at = new Date(Date.parse(seeded.last) - 1000 * 60_000 - 30_000).toISOString();
    const loc = await call('audit.locate', { at });
    expect(loc).toEqual({ offset: 1001, total: ROWS });
    const page = await call('audit.page', { offset: loc.offset, limit: 1 });
    expect(Date.parse(page.rows[0].ts)).toBeLessThanOrEqual(Date.parse(at));
    expect(page.rows[0].id).toBe(ROWS - 1001);
    const f = await call('audit.locate', { at, action: 'mirror.verify.failed' });
    const fp = await call('audit.page', { action: 'mirror.verify.failed', offset: f.offset, limit: 2 });
    expect(Date.parse(fp.rows[0].ts)).toBeLessThanOrEqual(Date.parse(at));
    if (f.offset > 0) {
      const newer = await call('audit.page', { action: 'mirror.verify.failed', offset: f.offset - 1, limit: 1 });
      expect(Date.parse(newer.rows[0].ts)).toBeGreaterThan(Date.parse(at));
    }
  });

  it('row detail checks the row hash and its link; a missing row is ERR_INPUT_NOT_FOUND', async () => {
    const d = await call('audit.row', { id: 777_777 });
    expect(d).toMatchObject({ hashOk: true, linkOk: true, previousId: 777_776, nextId: 777_778 });
    expect(d.row.subject).toBe('exp-seed-0777776');
    const missing = await dispatch(h.table, 'audit.row', { id: ROWS + 1 });
    expect(missing.ok ? null : missing.error.code).toBe('ERR_INPUT_NOT_FOUND');
    const bad = await dispatch(h.table, 'audit.page', { offset: -1 });
    expect(bad.ok ? null : bad.error.code).toBe('ERR_IPC_INPUT');
  });
});
