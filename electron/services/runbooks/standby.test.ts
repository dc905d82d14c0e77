/**
 * Runbook 4.2's worker-failover step, offline: `standby.ready` compares the
 * standby workspace with this one (same export and state digest, audit chain
 * intact). It is read-only: running it leaves the standby workspace
 * byte-identical (same files, same bytes, same modification times, no -wal or
 * -shm file, no folder, no schema upgrade), even while the standby's own
 * database is open with un-checkpointed writes. Real workspaces and the kit.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendAudit } from '../audit/index';
import { openDatabase, type Db } from '../db/index';
import { importBundles } from '../staging/index';
import { KITS, tempDir, trashDrained } from '../testing/fixtures';
import { loadPublicKey } from '../verify/keys';
import { openWorkspace, type Workspace } from '../workspace/index';
import { CHECKS, type CheckContext, type CheckResult } from './checks';
import { engineRunbookServices } from '../engine';

const KIT = join(KITS, 'ecdsa-p256');
const keys = [loadPublicKey(readFileSync(join(KITS, 'ecdsa-p256.trusted.pub'), 'utf8'), 'cli')];
const manifest = JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { entries: { path: string; generation?: number }[] };
const [FULL, D2] = manifest.entries
  .filter((e) => e.generation !== undefined)
  .sort((a, b) => a.generation! - b.generation!)
  .map((e) => join(KIT, e.path));

let tmp: { dir: string; cleanup: () => void };
let primary: Workspace;
let standby: Workspace;

beforeEach(() => {
  tmp = tempDir('okc-standby-');
  primary = openWorkspace(join(tmp.dir, 'primary'), { create: true });
  standby = openWorkspace(join(tmp.dir, 'standby'), { create: true });
});
afterEach(() => tmp.cleanup());

/** Every entry under a folder: type, mode, size, modification time, and the bytes' sha256 (or the link target). */
function fingerprint(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string, rel: string) => {
    const st = lstatSync(dir);
    out[rel || '.'] = `dir ${st.mode.toString(8)} ${st.mtimeMs}`;
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const s = lstatSync(p);
      if (s.isDirectory()) walk(p, r);
      else if (s.isSymbolicLink()) out[r] = `link ${readlinkSync(p)} ${s.mtimeMs}`;
      else out[r] = `file ${s.mode.toString(8)} ${s.size} ${s.mtimeMs} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
    }
  };
  walk(root, '');
  return out;
}

async function runCheck(params: Record<string, unknown>): Promise<CheckResult> {
  const db = openDatabase(primary.layout.db);
  try {
    const ctx: CheckContext = { ws: primary, db, settings: primary.settings, services: engineRunbookServices(), now: new Date(), params, previous: {} };
    return await CHECKS['standby.ready'].run(ctx);
  } finally {
    db.close();
  }
}

/** Runs the check and asserts the standby folder did not change at all. */
async function checkReadOnly(params: Record<string, unknown> = { standby: standby.dir }): Promise<CheckResult> {
  // The standby's own import left its extraction folder to a detached rm: let that finish first.
  expect(await trashDrained(standby.layout.trash)).toEqual([]);
  const before = fingerprint(standby.dir);
  const r = await runCheck(params);
  expect(fingerprint(standby.dir)).toEqual(before);
  return r;
}

describe('standby.ready (runbook 4.2, worker failover offline)', () => {
  it('passes when the standby holds the same export and its chain verifies, and leaves it byte-identical', async () => {
    expect((await importBundles(primary, [FULL, D2], { keys })).ok).toBe(true);
    expect((await importBundles(standby, [FULL, D2], { keys })).ok).toBe(true);
    const r = await checkReadOnly();
    expect(r.status, r.summary).toBe('pass');
    expect(r.summary).toMatch(/can take over/);
    expect(r.evidence).toMatchObject({ chainOk: true, standbyCurrent: { generation: 2 }, primary: { generation: 2 } });
  });

  it('warns when the standby is behind, saying what to bring over; still read-only', async () => {
    await importBundles(primary, [FULL, D2], { keys });
    await importBundles(standby, [FULL], { keys });
    const r = await checkReadOnly();
    expect(r.status).toBe('warn');
    expect(r.summary).toMatch(/generation 1.*this host.*generation 2.*import the same kit there/);
  });

  it('fails on a standby whose audit chain was edited; still read-only', async () => {
    await importBundles(primary, [FULL], { keys });
    await importBundles(standby, [FULL], { keys });
    const sdb = openDatabase(standby.layout.db);
    const row = appendAudit(sdb, { action: 'test.note', subject: 'x', details: { a: 1 } });
    // An attacker with the file drops the append-only triggers and edits a row.
    sdb.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
    sdb.prepare('UPDATE audit_log SET subject = ? WHERE id = ?').run('edited', row.id);
    sdb.close();
    const r = await checkReadOnly();
    expect(r.status).toBe('fail');
    expect(r.summary).toMatch(/audit chain does not verify/);
  });

  it('a standby with no database fails and gets none created; a folder that is no workspace fails', async () => {
    rmSync(standby.layout.db, { force: true });
    await importBundles(primary, [FULL], { keys });
    const r = await checkReadOnly();
    expect(r.status).toBe('fail');
    expect(r.summary).toMatch(/holds no workspace database/);
    const empty = join(tmp.dir, 'not-a-workspace');
    openWorkspace(empty, { create: true });
    rmSync(join(empty, 'workspace.json'));
    const r2 = await runCheck({ standby: empty });
    expect(r2.status).toBe('fail');
    expect(r2.summary).toMatch(/not a console workspace/);
  });

  it('without a standby input the step cannot be checked (unknown), and says how to give one', async () => {
    const r = await runCheck({});
    expect(r.status).toBe('unknown');
    expect(r.summary).toMatch(/--input standby=/);
  });

  it('reads a live standby (its database open, writes still in the write-ahead log) without touching it', async () => {
    await importBundles(primary, [FULL], { keys });
    await importBundles(standby, [FULL], { keys });
    // The standby's console is running: a connection holds committed rows in the -wal file, not yet checkpointed.
    const live: Db = openDatabase(standby.layout.db);
    try {
      live.pragma('wal_autocheckpoint = 0');
      appendAudit(live, { action: 'test.note', subject: 'standby is live', details: {} });
      expect(readdirSync(standby.dir)).toEqual(expect.arrayContaining(['console.db-wal']));
      const r = await checkReadOnly();
      expect(r.status, r.summary).toBe('pass');
    } finally {
      live.close();
    }
  });
});
