import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, verify as cryptoVerify, createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../testing/fixtures';
import { openDatabase, type Db } from '../db/index';
import { exportAudit, readExportHead } from './export';
import { appendAudit, auditHead, canonicalJson, GENESIS_HASH, hashOfRow, queryAudit, verifyAuditChain, type AuditRow } from './index';

let dir: string;
let cleanup: () => void;
let file: string;
let db: Db;

beforeEach(() => {
  ({ dir, cleanup } = tempDir('okc-audit-'));
  file = join(dir, 'console.db');
  db = openDatabase(file);
});
afterEach(() => {
  if (db.open) db.close();
  cleanup();
});

function seed(n: number): AuditRow[] {
  const rows: AuditRow[] = [];
  for (let i = 1; i <= n; i++) {
    rows.push(appendAudit(db, { action: i % 2 ? 'mirror.bundle.imported' : 'mirror.verify.failed', subject: `exp-${i}`, details: { i, z: 'last', a: { y: 2, b: 1 } }, operator: 'alice', ts: `2025-10-${String(10 + (i % 20)).padStart(2, '0')}T00:00:${String(i % 60).padStart(2, '0')}.000Z` }));
  }
  return rows;
}

/** A second connection without the append-only triggers: what an attacker with the sqlite3 tool can do. */
function tamper(sql: string): void {
  db.close();
  const raw = new Database(file);
  raw.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
  raw.exec(sql);
  raw.close();
  db = openDatabase(file);
}

describe('canonicalJson', () => {
  it('sorts keys at every level and writes no white space', () => {
    expect(canonicalJson({ b: 1, a: [{ d: true, c: null }], e: 'é' })).toBe('{"a":[{"c":null,"d":true}],"b":1,"e":"é"}');
    expect(canonicalJson({ u: undefined, x: 1 })).toBe('{"x":1}');
    expect(() => canonicalJson({ n: NaN })).toThrow();
  });
});

describe('appendAudit', () => {
  it('chains rows from the genesis hash, with the documented hash definition', () => {
    const [r1, r2] = seed(2);
    expect(r1.id).toBe(1);
    expect(r1.prevHash).toBe(GENESIS_HASH);
    expect(r2.prevHash).toBe(r1.hash);
    expect(r1.actor).toMatch(/\(operator: alice\)$/);
    // Independent recomputation from the exported form.
    const { hash: _h, ...rest } = r2;
    expect(hashOfRow(rest)).toBe(r2.hash);
    const stored = db.prepare('SELECT details FROM audit_log WHERE id = 1').get() as { details: string };
    expect(stored.details).toBe('{"a":{"b":1,"y":2},"i":1,"z":"last"}');
  });

  it('the hash follows the documented definition, recomputed independently, also for strings that need escaping', () => {
    const tricky = ['quote " and backslash \\', 'line\nbreak\ttab\u0001', 'emoji 😀 and é', 'lone \ud800 surrogate', '\u2028 separator'];
    const rows = tricky.map((t, i) => appendAudit(db, { action: 'keys.added', subject: t, details: { note: t, n: i }, operator: t }));
    let prev = GENESIS_HASH;
    for (const r of rows) {
      const { hash, ...rest } = r;
      const expected = createHash('sha256').update(prev + canonicalJson(rest), 'utf8').digest('hex');
      expect(hash).toBe(expected);
      prev = hash;
    }
    expect(verifyAuditChain(db).ok).toBe(true);
    tamper(`UPDATE audit_log SET subject = 'quote \\" and backslash \\' WHERE id = 1`);
    expect(verifyAuditChain(db).firstBroken?.id).toBe(1);
  });

  it('refuses UPDATE and DELETE through the triggers', () => {
    seed(3);
    expect(() => db.prepare("UPDATE audit_log SET subject = 'x' WHERE id = 2").run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit_log WHERE id = 3').run()).toThrow(/append-only/);
    expect(verifyAuditChain(db).ok).toBe(true);
  });

  it('runs inside the caller transaction: a rollback leaves no row', () => {
    seed(1);
    expect(() =>
      db.transaction(() => {
        appendAudit(db, { action: 'keys.added', subject: 't' });
        throw new Error('state change failed');
      })(),
    ).toThrow('state change failed');
    expect(auditHead(db).count).toBe(1);
    expect(verifyAuditChain(db).ok).toBe(true);
  });

  it('refuses an action that is not a dotted name', () => {
    expect(() => appendAudit(db, { action: 'Imported', subject: 'x' })).toThrow(/dotted/);
  });
});

describe('verifyAuditChain: tampering with the raw SQLite file', () => {
  it('an intact chain verifies', () => {
    const rows = seed(50);
    const v = verifyAuditChain(db);
    expect(v.ok).toBe(true);
    expect(v.rows).toBe(50);
    expect(v.head).toEqual({ count: 50, lastId: 50, hash: rows[49].hash });
  });

  it('detects an edited row and names it', () => {
    seed(20);
    tamper("UPDATE audit_log SET subject = 'exp-forged' WHERE id = 7");
    const v = verifyAuditChain(db);
    expect(v.ok).toBe(false);
    expect(v.firstBroken).toMatchObject({ id: 7, reason: 'hash_mismatch' });
    expect(v.message).toMatch(/row 7/);
  });

  it('detects edited details (even a white-space-only change)', () => {
    seed(5);
    tamper(`UPDATE audit_log SET details = '{"a": {"b":1,"y":2},"i":3,"z":"last"}' WHERE id = 3`);
    expect(verifyAuditChain(db).firstBroken).toMatchObject({ id: 3 });
  });

  it('detects a deleted row in the middle', () => {
    seed(20);
    tamper('DELETE FROM audit_log WHERE id = 11');
    const v = verifyAuditChain(db);
    expect(v.ok).toBe(false);
    expect(v.firstBroken).toMatchObject({ id: 12, reason: 'id_gap' });
    expect(v.firstBroken!.message).toMatch(/Row 11 is missing/);
  });

  it('detects reordered rows (contents swapped between ids)', () => {
    seed(10);
    tamper(`
      CREATE TEMP TABLE t AS SELECT * FROM audit_log WHERE id IN (4, 5);
      UPDATE audit_log SET ts = (SELECT ts FROM t WHERE id = 5), actor = (SELECT actor FROM t WHERE id = 5), action = (SELECT action FROM t WHERE id = 5), subject = (SELECT subject FROM t WHERE id = 5), details = (SELECT details FROM t WHERE id = 5), prev_hash = (SELECT prev_hash FROM t WHERE id = 5), hash = (SELECT hash FROM t WHERE id = 5) WHERE id = 4;
      UPDATE audit_log SET ts = (SELECT ts FROM t WHERE id = 4), actor = (SELECT actor FROM t WHERE id = 4), action = (SELECT action FROM t WHERE id = 4), subject = (SELECT subject FROM t WHERE id = 4), details = (SELECT details FROM t WHERE id = 4), prev_hash = (SELECT prev_hash FROM t WHERE id = 4), hash = (SELECT hash FROM t WHERE id = 4) WHERE id = 5;
    `);
    const v = verifyAuditChain(db);
    expect(v.ok).toBe(false);
    expect(v.firstBroken!.id).toBe(4);
  });

  it('detects a row inserted in the middle with the sqlite3 tool (ids renumbered)', () => {
    seed(6);
    db.close();
    // Shift rows 4..6 up by one and insert a forged row 4, bypassing the triggers, with the Debian sqlite3 CLI.
    execFileSync('sqlite3', [
      file,
      `DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;
       UPDATE audit_log SET id = id + 100 WHERE id >= 4; UPDATE audit_log SET id = id - 99 WHERE id >= 100;
       INSERT INTO audit_log VALUES (4, '2025-10-15T00:00:00.000Z', 'root', 'keys.added', 'evil', '{}', (SELECT hash FROM audit_log WHERE id = 3), '${'ab'.repeat(32)}');`,
    ]);
    db = openDatabase(file);
    expect(db.prepare('SELECT count(*) AS n FROM audit_log').get()).toEqual({ n: 7 });
    const v = verifyAuditChain(db);
    expect(v.ok).toBe(false);
    expect(v.firstBroken!.id).toBe(4);
  });

  it('a cut tail passes the internal walk but fails --against an earlier export', () => {
    seed(30);
    const out = join(dir, 'evidence.jsonl');
    const ex = exportAudit(db, { out });
    expect(ex.head.count).toBe(30);
    appendAudit(db, { action: 'retention.run', subject: 'after-export' });
    const head = readExportHead(out);
    expect(verifyAuditChain(db, { against: head }).ok).toBe(true);
    tamper('DELETE FROM audit_log WHERE id >= 28');
    const plain = verifyAuditChain(db);
    expect(plain.ok).toBe(true); // a chain alone cannot see its own tail cut
    const v = verifyAuditChain(db, { against: head });
    expect(v.ok).toBe(false);
    expect(v.against!.ok).toBe(false);
    expect(v.against!.message).toMatch(/tail was cut/);
  });

  it('--against detects a log rewritten from scratch (same length, other hashes)', () => {
    seed(5);
    const out = join(dir, 'e.jsonl');
    exportAudit(db, { out });
    tamper("UPDATE audit_log SET subject = 'x' WHERE id = 1");
    const v = verifyAuditChain(db, { against: readExportHead(out) });
    expect(v.ok).toBe(false);
  });
});

describe('exportAudit', () => {
  it('writes rows plus the head; an auditor re-verifies the JSONL offline; the signature verifies', () => {
    seed(12);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyFile = join(dir, 'op.key');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const out = join(dir, 'audit.jsonl');
    const res = exportAudit(db, { out, signWith: keyFile });
    expect(res.rows).toBe(12);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const rows = lines.slice(0, -1) as AuditRow[];
    let prev = GENESIS_HASH;
    for (const r of rows) {
      const { hash, ...rest } = r;
      expect(r.prevHash).toBe(prev);
      expect(hashOfRow(rest)).toBe(hash);
      prev = hash;
    }
    expect(lines.at(-1).chainHead).toEqual({ count: 12, lastId: 12, hash: prev });
    const sig = Buffer.from(readFileSync(res.signature!, 'utf8').trim(), 'base64');
    expect(cryptoVerify('sha256', readFileSync(out), createPublicKey(publicKey.export({ type: 'spki', format: 'pem' })), sig)).toBe(true);
    const forged = Buffer.from(readFileSync(out));
    forged[10] ^= 1;
    expect(cryptoVerify('sha256', forged, publicKey, sig)).toBe(false);
  });

  it('CSV export with a time range, head beside it', () => {
    seed(40);
    const out = join(dir, 'audit.csv');
    const res = exportAudit(db, { out, format: 'csv', from: '2025-10-12T00:00:00.000Z', to: '2025-10-14T00:00:00.000Z' });
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('id,ts,actor,action,subject,details,prevHash,hash');
    expect(lines.length - 1).toBe(res.rows);
    expect(res.rows).toBe(4); // i % 20 in {2, 3} for i in 1..40
    expect(readExportHead(out)).toEqual({ count: 40, lastId: 40, hash: auditHead(db).hash });
  });
});

describe('queryAudit', () => {
  it('filters by action and time range, newest first, and pages without overlap', () => {
    seed(100);
    const all: number[] = [];
    let cursor: string | null = null;
    do {
      const page = queryAudit(db, { action: 'mirror.bundle.imported', from: '2025-10-15T00:00:00.000Z', limit: 7, cursor });
      for (const r of page.rows) {
        expect(r.action).toBe('mirror.bundle.imported');
        expect(r.ts >= '2025-10-15T00:00:00.000Z').toBe(true);
      }
      all.push(...page.rows.map((r) => r.id));
      cursor = page.nextCursor;
    } while (cursor);
    const expected = (db.prepare("SELECT id FROM audit_log WHERE action = 'mirror.bundle.imported' AND ts >= '2025-10-15T00:00:00.000Z' ORDER BY ts DESC, id DESC").all() as { id: number }[]).map((r) => r.id);
    expect(all).toEqual(expected);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBeGreaterThan(7);
  });

  it('uses an index for action + time range queries', () => {
    const plan = db.prepare("EXPLAIN QUERY PLAN SELECT id FROM audit_log WHERE action = ? AND ts >= ? AND ts < ? ORDER BY ts DESC, id DESC LIMIT 10").all('a', 'b', 'c') as { detail: string }[];
    expect(plan.map((p) => p.detail).join(' ')).toMatch(/USING (COVERING )?INDEX audit_log_action_ts/);
  });
});
