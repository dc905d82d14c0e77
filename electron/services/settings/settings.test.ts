/**
 * Settings changed from the app (all at once) carry a reason, like
 * `mirror settings set`: no reason, nothing changed; with one, each changed
 * setting has its settings.changed audit row with from, to and the reason.
 * Real workspace and database.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findAudit, verifyAuditChain } from '../audit/index';
import { openDatabase, type Db } from '../db/index';
import { tempDir } from '../testing/fixtures';
import { openWorkspace, type Workspace } from '../workspace/index';
import { saveSettingsAudited } from './index';

let tmp: { dir: string; cleanup: () => void };
let ws: Workspace;
let db: Db;
beforeEach(() => {
  tmp = tempDir('okc-settings-');
  ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
  db = openDatabase(ws.layout.db);
});
afterEach(() => {
  db.close();
  tmp.cleanup();
});

const onDisk = () => (JSON.parse(readFileSync(ws.layout.manifest, 'utf8')) as { settings: { stalenessHours: number } }).settings;

describe('settings changed from the app', () => {
  it('without a reason nothing is changed or recorded, and the error names the settings', () => {
    const next = { ...ws.settings, stalenessHours: 72, retention: { ...ws.settings.retention, mirrorDays: 60 } };
    for (const reason of [undefined, '', '  ', 'x']) {
      let err: unknown = null;
      try {
        saveSettingsAudited(ws, db, next, { reason });
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'ERR_USAGE' });
      expect((err as Error).message).toMatch(/reason is required to change .*stalenessHours.*retention\.mirrorDays.*Nothing was changed/);
    }
    expect(onDisk().stalenessHours).toBe(ws.settings.stalenessHours);
    expect(findAudit(db, { actions: ['settings.changed'] })).toEqual([]);
  });

  it('with a reason each changed setting is audited with from, to and the reason; saving unchanged settings needs none', () => {
    const next = { ...ws.settings, stalenessHours: 72, retention: { ...ws.settings.retention, mirrorDays: 60 } };
    const saved = saveSettingsAudited(ws, db, next, { reason: '  CHG-204 audit asks for 60 days ', operator: 'dana' });
    expect(saved.settings.stalenessHours).toBe(72);
    expect(onDisk().stalenessHours).toBe(72);
    const rows = findAudit(db, { actions: ['settings.changed'] });
    expect(rows.map((r) => [r.subject, r.details.from, r.details.to, r.details.reason, r.details.source])).toEqual([
      ['stalenessHours', ws.settings.stalenessHours, 72, 'CHG-204 audit asks for 60 days', 'app'],
      ['retention.mirrorDays', ws.settings.retention.mirrorDays, 60, 'CHG-204 audit asks for 60 days', 'app'],
    ]);
    expect(rows.every((r) => r.actor.includes('dana'))).toBe(true);
    expect(verifyAuditChain(db).ok).toBe(true);
    // Nothing changed, nothing to justify: no reason needed, no row written.
    saveSettingsAudited(saved, db, saved.settings);
    expect(findAudit(db, { actions: ['settings.changed'] })).toHaveLength(2);
  });
});
