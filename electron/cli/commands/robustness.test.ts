/**
 * Adversarial robustness, round 2 (issue 9): every case builds its input at
 * run time, goes through the `mirror` CLI, and checks the exit code, the error
 * code, that the offending name is shown escaped, that nothing was written
 * outside the workspace, and that the next good import into the same
 * workspace succeeds.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compress, decompress } from 'zstd-napi';
import { generateSigningKey, signatureFile, writeKit, writeMirrorBundle, type SigningKey } from '../../services/producer/index';
import type { PayloadFile, MirrorTamper } from '../../services/producer/index';
import { recoverInterruptedApply } from '../../services/staging/index';
import { nodeStagingFs } from '../../services/staging/fsops';
import { REPO_ROOT, tempDir } from '../../services/testing/fixtures';
import { openWorkspace } from '../../services/workspace/index';
import type { CliIo } from '../command';
import { runCli } from '../mirror';

function listTree(root: string, skip: string): string[] {
  const out: string[] = [];
  const stack = [root];
  while (stack.length) {
    const d = stack.pop()!;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (p === skip) continue;
      out.push(relative(root, p));
      if (e.isDirectory()) stack.push(p);
    }
  }
  return out.sort();
}

/** A C0/DEL/C1 control character other than those allowed, written raw. */
function hasRawControl(s: string, allowed: string): boolean {
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if ((c < 0x20 || (c >= 0x7f && c <= 0x9f)) && !allowed.includes(ch)) return true;
  }
  return false;
}

export async function runMirror(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const io: CliIo = { stdout, stderr, stdin: new PassThrough(), env: {}, cwd: process.cwd(), signal: new AbortController().signal };
  const code = await runCli(args, io);
  return { code, out, err };
}

const CLI = join(REPO_ROOT, 'dist', 'cli', 'mirror.cjs');

let tmp: { dir: string; cleanup: () => void };
let key: SigningKey;
let keyFile: string;
let media: string;
let seq = 0;
let nextGeneration = 100;

beforeAll(() => {
  tmp = tempDir('okc-robust-');
  key = generateSigningKey('ecdsa-p256');
  keyFile = join(tmp.dir, 'trusted.pub');
  writeFileSync(keyFile, key.publicPem);
  media = join(tmp.dir, 'media');
  mkdirSync(media);
});
afterAll(() => tmp.cleanup());

const FILES: PayloadFile[] = [{ path: 'data/raw/advisories/a.jsonl.zst', content: 'advisory\n' }];

/** A signed full bundle in the test chain (raw tar members and other tampering as given). */
export async function bundle(tamper: MirrorTamper = {}, files: PayloadFile[] = FILES): Promise<string> {
  const file = join(media, `b${++seq}.tar.zst`);
  await writeMirrorBundle(file, { key, tenant: 'acme', profileId: 'nightly', generation: nextGeneration++, files, tamper });
  return file;
}

function workspace(): string {
  return join(tmp.dir, `ws${++seq}`);
}

/**
 * Imports `bad` into a workspace that already holds a good generation, then
 * checks the refusal and that a good import still works.
 */
async function refusedThenRecovers(bad: string, expectCode: string, expectExit: number, escapedName?: string): Promise<{ out: string; err: string; ws: string }> {
  const ws = workspace();
  const first = await runMirror(['import', await bundle(), '--workspace', ws, '--key', keyFile, '--json']);
  expect(first.code, first.out + first.err).toBe(0);
  const outside = listTree(tmp.dir, ws);

  // verify and import agree.
  const v = await runMirror(['verify', bad, '--key', keyFile, '--json']);
  expect(v.code, v.out).toBe(expectExit);
  expect(JSON.parse(v.out).code).toBe(expectCode);
  const text = await runMirror(['import', bad, '--workspace', ws, '--key', keyFile]);
  expect(text.code, text.out + text.err).toBe(expectExit);
  const all = text.out + text.err;
  expect(all).toContain(expectCode);
  expect(hasRawControl(all, '\n\t')).toBe(false);
  if (escapedName) expect(all).toContain(escapedName);
  const j = await runMirror(['import', bad, '--workspace', ws, '--key', keyFile, '--json']);
  expect(j.code).toBe(expectExit);
  expect(JSON.parse(j.out).code).toBe(expectCode);

  expect(listTree(tmp.dir, ws)).toEqual(outside);
  expect(readdirSync(join(ws, 'incoming'))).toEqual([]);
  // Each refused import left its audit row with the code (item 6: the unsigned variant wrote none).
  const refusals = JSON.parse((await runMirror(['audit', 'list', '--workspace', ws, '--action', 'mirror.verify.failed', '--json'])).out) as { rows: { details: { code?: string; errorCode?: string } }[] };
  expect(refusals.rows.length).toBe(2);
  for (const row of refusals.rows) expect(JSON.stringify(row.details)).toContain(expectCode);
  const next = await runMirror(['import', await bundle(), '--workspace', ws, '--key', keyFile, '--json']);
  expect(next.code, next.out + next.err).toBe(0);
  const again = await runMirror(['verify', ws, '--json']);
  expect(again.code, again.out).toBe(0);
  return { out: text.out, err: text.err, ws };
}

describe('names: one path policy in the tar gate (verify = import), exit 11', () => {
  it('1. deep nesting (1,700 levels, unsigned content) is refused by the depth limit, nothing is left in incoming/', async () => {
    const bad = await bundle({ rawMembers: [{ name: 'mirror/data/' + 'a/'.repeat(1700) + 'f', content: 'x' }] });
    const r = await refusedThenRecovers(bad, 'ERR_BUNDLE_UNSAFE_ENTRY', 11);
    expect(r.out + r.err).toMatch(/more than 64 folders deep/);
  });

  it('1. a signed bundle listing a file 2,000 levels deep is refused before anything is applied', async () => {
    const deep = 'data/' + 'd/'.repeat(2000) + 'f.json';
    const bad = await bundle({ rawMembers: [{ name: `mirror/${deep}`, content: '{}' }], exportJsonOverride: (doc) => ({ ...doc, files: [...doc.files, { path: deep, sha256: '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 }].sort((a, b) => (a.path < b.path ? -1 : 1)) }) });
    const r = await refusedThenRecovers(bad, 'ERR_BUNDLE_UNSAFE_ENTRY', 11);
    expect(r.out + r.err).not.toMatch(/mirror\.bundle\.imported/);
  });

  it('the depth limit is a workspace setting (limits.maxDepth), applied by import', async () => {
    const ok = await bundle({}, [{ path: 'data/' + 'a/'.repeat(10) + 'f', content: 'x' }]);
    const ws = workspace();
    const first = await runMirror(['import', await bundle(), '--workspace', ws, '--key', keyFile, '--json']);
    expect(first.code).toBe(0);
    const set = await runMirror(['settings', 'set', 'limits.maxDepth', '8', '--reason', 'CHG-9 shallow trees only', '--workspace', ws, '--json']);
    expect(set.code, set.out + set.err).toBe(0);
    expect((await runMirror(['settings', 'set', 'limits.maxDepth', '1', '--reason', 'CHG-9 too shallow', '--workspace', ws, '--json'])).code).toBe(4);
    const r = await runMirror(['import', ok, '--workspace', ws, '--key', keyFile, '--json']);
    expect(r.code).toBe(11);
    expect(JSON.parse(r.out).message).toMatch(/more than 8 folders deep/);
    const v = await runMirror(['verify', ok, '--key', keyFile, '--max-depth', '8', '--json']);
    expect(v.code).toBe(11);
    expect((await runMirror(['verify', ok, '--key', keyFile, '--json'])).code).toBe(0);
  });

  it('3. a member name with terminal escape sequences is shown escaped (text, JSON, log), never raw', async () => {
    const evil = 'mirror/data/\u001b[2K\u001b[1A\rVERIFIED\u009b31m.json';
    const bad = await bundle({ rawMembers: [{ name: evil, content: 'x' }] });
    const r = await refusedThenRecovers(bad, 'ERR_BUNDLE_UNSAFE_ENTRY', 11, 'mirror/data/\\x1b[2K\\x1b[1A\\x0dVERIFIED\\x9b31m.json');
    const logs = readdirSync(join(r.ws, 'logs')).map((f) => readFileSync(join(r.ws, 'logs', f), 'utf8')).join('');
    expect(logs).toContain('mirror.verify.failed');
    expect(hasRawControl(logs, '\n')).toBe(false);
  });

  it('5. a newline in a path is refused (the one-line-per-file state could not carry it)', async () => {
    const bad = await bundle({ rawMembers: [{ name: 'mirror/data/x\ny.json', content: 'x' }] });
    await refusedThenRecovers(bad, 'ERR_BUNDLE_UNSAFE_ENTRY', 11, 'mirror/data/x\\x0ay.json');
  });

  it('6. a folder, then a file of the same name: refused by verify and import alike (was EEXIST, exit 1)', async () => {
    const bad = await bundle({ rawMembers: [{ name: 'mirror/data/x/y', content: 'y' }, { name: 'mirror/data/x', content: 'x' }] });
    const r = await refusedThenRecovers(bad, 'ERR_BUNDLE_UNSAFE_ENTRY', 11);
    expect(r.out + r.err).toMatch(/a file where earlier members make a folder of that name/);
  });

  it('6. a file, then a member below it', async () => {
    const bad = await bundle({ rawMembers: [{ name: 'mirror/data/x', content: 'x' }, { name: 'mirror/data/x/y', content: 'y' }] });
    await refusedThenRecovers(bad, 'ERR_BUNDLE_UNSAFE_ENTRY', 11);
  });

  it('6. a name segment over 255 bytes, and a path over 4,096 bytes', async () => {
    const long = await bundle({ rawMembers: [{ name: 'mirror/data/' + 'é'.repeat(128) + '.json', content: 'x' }] });
    const r1 = await refusedThenRecovers(long, 'ERR_BUNDLE_UNSAFE_ENTRY', 11);
    expect(r1.out + r1.err).toMatch(/longer than 255 bytes/);
    const path = 'mirror/data/' + Array.from({ length: 40 }, () => 'p'.repeat(110)).join('/');
    const r2 = await refusedThenRecovers(await bundle({ rawMembers: [{ name: path, content: 'x' }] }), 'ERR_BUNDLE_UNSAFE_ENTRY', 11);
    expect(r2.out + r2.err).toMatch(/longer than 4096 bytes/);
  });
});

describe('strict signed JSON', () => {
  it('export.json with a duplicate key (signed as is) is refused: ERR_BUNDLE_CORRUPT, exit 11', async () => {
    const generation = nextGeneration++;
    const spec = { key, tenant: 'acme', profileId: 'nightly', generation, files: FILES };
    const good = await writeMirrorBundle(join(media, `dup-src-${generation}.tar.zst`), spec);
    const text = good.exportJsonBytes.toString('utf8');
    // The first exportId is a decoy: JSON.parse keeps the last one, another parser the first.
    const dup = text.replace('{', '{"exportId": "exp-decoy",');
    const bad = join(media, `dup-${generation}.tar.zst`);
    await writeMirrorBundle(bad, { ...spec, tamper: { exportJsonBytes: dup } });
    const r = await refusedThenRecovers(bad, 'ERR_BUNDLE_CORRUPT', 11);
    expect(r.out + r.err).toMatch(/the key "exportId" appears twice/);
  });
});

describe('decision: signature pairs are the ones cosign accepts (P-256 signs SHA-256)', () => {
  it('a bundle signed with the trusted P-256 key over SHA-384 is ERR_VERIFY_SIGNATURE (5), saying why; verify and import agree', async () => {
    // The same P-256 private key, made to sign as the producer signs P-384 keys (SHA-384).
    const sha384Key: SigningKey = { ...key, alg: 'ecdsa-p384' };
    const generation = nextGeneration++;
    const bad = join(media, `p256-sha384-${generation}.tar.zst`);
    await writeMirrorBundle(bad, { key: sha384Key, tenant: 'acme', profileId: 'nightly', generation, files: FILES });
    const r = await refusedThenRecovers(bad, 'ERR_VERIFY_SIGNATURE', 5);
    expect(r.out + r.err).toMatch(/ECDSA P-256 key sha256:[0-9a-f]+ over a SHA-384 digest/);
  });

  it('a kit and its Trivy bundle signed P-256 over SHA-384 are refused the same way (5)', async () => {
    const sha384Key: SigningKey = { ...key, alg: 'ecdsa-p384' };
    const dir = join(media, `kit-p256-sha384-${++seq}`);
    await writeKit(dir, { key: sha384Key, tenant: 'acme', mirror: [{ profileId: 'nightly', generation: nextGeneration++, files: FILES }], trivy: [{ kind: 'trivy-db' }] });
    const v = await runMirror(['verify', dir, '--key', keyFile, '--json']);
    expect(v.code, v.out).toBe(5);
    expect(JSON.parse(v.out).code).toBe('ERR_VERIFY_SIGNATURE');
    expect(v.out).toMatch(/over a SHA-384 digest/);
    const trivy = await runMirror(['verify', join(dir, 'trivy', 'db.bundle'), '--key', keyFile, '--json']);
    expect(trivy.code, trivy.out).toBe(5);
    expect(JSON.parse(trivy.out).message).toMatch(/over a SHA-384 digest/);
    const ws = workspace();
    const r = await runMirror(['import', dir, '--workspace', ws, '--key', keyFile, '--json']);
    expect(r.code, r.out).toBe(5);
    const next = await runMirror(['import', await bundle(), '--workspace', ws, '--key', keyFile, '--json']);
    expect(next.code, next.out).toBe(0);
  });
});

describe('decision: trust is derived from the audited key events (a key written into console.db is not trusted)', () => {
  const sqlite3 = (db: string, sql: string): void => {
    const r = spawnSync('sqlite3', [db, sql], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  };
  const q = (s: string): string => `'${s.replace(/'/g, "''")}'`;

  it('a row inserted into trusted_keys with sqlite3: audit verify reports it (2), import and verify refuse (5) and change nothing, until it is revoked', async () => {
    const ws = workspace();
    const added = await runMirror(['keys', 'add', keyFile, '--tenant', 'acme', '--fingerprint', key.fingerprint, '--reason', 'CHG-1 the real key', '--workspace', ws, '--json']);
    expect(added.code, added.out + added.err).toBe(0);
    expect((await runMirror(['import', await bundle(), '--workspace', ws, '--json'])).code).toBe(0);
    const before = JSON.parse((await runMirror(['status', '--workspace', ws, '--json'])).out) as { generation: number };

    // The attacker's key, pinned straight into the SQLite file (the console is not running).
    const rogue = generateSigningKey('ecdsa-p256');
    const db = join(ws, 'console.db');
    sqlite3(db, `INSERT INTO trusted_keys (tenant, fingerprint, algorithm, pem, label, added_at, added_by, reason) VALUES ('acme', ${q(rogue.fingerprint)}, 'ecdsa-p256', ${q(rogue.publicPem)}, NULL, '2026-01-01T00:00:00.000Z', 'root', 'CHG-1 the real key')`);
    // ...and a forged keys.added event appended after the head, which does not fit the chain.
    sqlite3(db, `INSERT INTO audit_log (id, ts, actor, action, subject, details, prev_hash, hash) SELECT id + 1, '2026-01-01T00:00:00.000Z', 'root', 'keys.added', ${q('acme/' + rogue.fingerprint)}, ${q(JSON.stringify({ algorithm: 'ecdsa-p256', fingerprint: rogue.fingerprint, label: null, reason: 'x', tenant: 'acme' }))}, hash, '${'f'.repeat(64)}' FROM audit_log ORDER BY id DESC LIMIT 1`);

    const av = await runMirror(['audit', 'verify', '--workspace', ws, '--json']);
    expect(av.code, av.out).toBe(2);
    const avj = JSON.parse(av.out) as { code: string; trustStore: { fingerprint: string; problem: string }[]; message: string };
    expect(avj.code).toBe('ERR_AUDIT_BROKEN');
    expect(avj.trustStore).toEqual([{ tenant: 'acme', fingerprint: rogue.fingerprint, problem: 'not_audited', message: expect.stringMatching(/no audited event added it/) }]);
    const avText = await runMirror(['audit', 'verify', '--workspace', ws]);
    expect(avText.out).toContain(`key not backed by the audit log [not_audited]: acme ${rogue.fingerprint}`);
    expect(avText.out).toMatch(/mirror keys revoke/);

    // A bundle signed by the rogue key, and a good one: neither is imported while the store is inconsistent.
    const generation = nextGeneration++;
    const evil = join(media, `rogue-${generation}.tar.zst`);
    await writeMirrorBundle(evil, { key: rogue, tenant: 'acme', profileId: 'nightly', generation, files: [{ path: 'data/raw/advisories/a.jsonl.zst', content: 'rogue\n' }] });
    for (const file of [evil, await bundle()]) {
      const r = await runMirror(['import', file, '--workspace', ws, '--json']);
      expect(r.code, r.out).toBe(5);
      const j = JSON.parse(r.out) as { code: string; message: string; action: string };
      expect(j.code).toBe('ERR_VERIFY_SIGNATURE');
      expect(j.message).toContain(rogue.fingerprint);
      expect(j.message).toMatch(/does not match its audit log/);
      expect(j.action).toMatch(/mirror keys revoke/);
      const v = await runMirror(['verify', file, '--workspace', ws, '--json']);
      expect(v.code, v.out).toBe(5);
    }
    const after = JSON.parse((await runMirror(['status', '--workspace', ws, '--json'])).out) as { generation: number };
    expect(after.generation).toBe(before.generation);

    // The operator revokes it (audited): the rogue bundle stays refused, the good one imports.
    const rev = await runMirror(['keys', 'revoke', rogue.fingerprint, '--tenant', 'acme', '--reason', 'INC-7 key planted in console.db', '--workspace', ws, '--json']);
    expect(rev.code, rev.out + rev.err).toBe(0);
    const av2 = JSON.parse((await runMirror(['audit', 'verify', '--workspace', ws, '--json'])).out) as { trustStore: unknown[] };
    expect(av2.trustStore).toEqual([]);
    expect((await runMirror(['import', evil, '--workspace', ws, '--json'])).code).toBe(5);
    const good = await runMirror(['import', await bundle(), '--workspace', ws, '--json']);
    expect(good.code, good.out).toBe(0);
  });

  it('a revocation undone, or a pinned key\'s bytes replaced, in the SQLite file (better-sqlite3): reported and refused', async () => {
    const Database = (await import('better-sqlite3')).default;
    const other = generateSigningKey('ecdsa-p256');
    const otherFile = join(tmp.dir, `other-${++seq}.pub`);
    writeFileSync(otherFile, other.publicPem);
    for (const tamper of ['revoked_in_audit', 'key_mismatch'] as const) {
      const ws = workspace();
      expect((await runMirror(['keys', 'add', keyFile, '--tenant', 'acme', '--fingerprint', key.fingerprint, '--reason', 'CHG-1 the real key', '--workspace', ws])).code).toBe(0);
      expect((await runMirror(['keys', 'add', otherFile, '--tenant', 'acme', '--fingerprint', other.fingerprint, '--reason', 'CHG-2 a second key', '--workspace', ws])).code).toBe(0);
      if (tamper === 'revoked_in_audit') {
        expect((await runMirror(['keys', 'revoke', other.fingerprint, '--tenant', 'acme', '--reason', 'CHG-3 retired', '--workspace', ws])).code).toBe(0);
      }
      const db = new Database(join(ws, 'console.db'));
      try {
        if (tamper === 'revoked_in_audit') db.prepare('UPDATE trusted_keys SET revoked_at = NULL, revoked_by = NULL, revoked_reason = NULL WHERE fingerprint = ?').run(other.fingerprint);
        else db.prepare('UPDATE trusted_keys SET pem = ? WHERE fingerprint = ?').run(generateSigningKey('ecdsa-p256').publicPem, other.fingerprint);
      } finally {
        db.close();
      }
      const av = await runMirror(['audit', 'verify', '--workspace', ws, '--json']);
      expect(av.code, av.out).toBe(2);
      const j = JSON.parse(av.out) as { firstBroken: unknown; trustStore: { fingerprint: string; problem: string }[] };
      expect(j.firstBroken).toBeNull();
      expect(j.trustStore.map((p) => [p.fingerprint, p.problem])).toEqual([[other.fingerprint, tamper]]);
      const r = await runMirror(['import', await bundle(), '--workspace', ws, '--json']);
      expect(r.code, r.out).toBe(5);
      expect(JSON.parse(r.out).code).toBe('ERR_VERIFY_SIGNATURE');
    }
  });
});

describe('decision: links planted in the workspace are refused, never written through', () => {
  it('library/, staging/, incoming/, metrics/ as symlinks, and logs/<date>.jsonl as a symlink: ERR_WORKSPACE_INVALID (1), nothing written outside; removing the link recovers', async () => {
    for (const planted of ['library', 'staging', 'incoming', 'metrics', 'logs/day']) {
      const ws = workspace();
      expect((await runMirror(['import', await bundle(), '--workspace', ws, '--key', keyFile, '--json'])).code).toBe(0);
      const outside = join(tmp.dir, `outside-${++seq}`);
      mkdirSync(outside);
      let where: string;
      const moved = join(tmp.dir, `moved-${seq}`);
      if (planted === 'logs/day') {
        const log = readdirSync(join(ws, 'logs')).find((f) => f.endsWith('.jsonl'))!;
        where = join(ws, 'logs', log);
        writeFileSync(join(outside, 'target.jsonl'), 'untouched\n');
        rmSync(where);
        symlinkSync(join(outside, 'target.jsonl'), where);
      } else {
        where = join(ws, planted);
        renameSync(where, moved);
        symlinkSync(outside, where);
      }
      const r = await runMirror(['import', await bundle(), '--workspace', ws, '--key', keyFile, '--json']);
      expect(r.code, `${planted}: ${r.out}`).toBe(1);
      const j = JSON.parse(r.out) as { code: string; message: string };
      expect(j.code).toBe('ERR_WORKSPACE_INVALID');
      expect(j.message).toContain(where);
      expect(j.message).toMatch(/is a symbolic link/);
      // Nothing was written through the link.
      if (planted === 'logs/day') expect(readFileSync(join(outside, 'target.jsonl'), 'utf8')).toBe('untouched\n');
      else expect(readdirSync(outside)).toEqual([]);
      rmSync(where);
      if (planted !== 'logs/day') renameSync(moved, where);
      const next = await runMirror(['import', await bundle(), '--workspace', ws, '--key', keyFile, '--json']);
      expect(next.code, `${planted}: ${next.out}`).toBe(0);
    }
  });
});

describe('strict signed JSON in kits', () => {
  it('an offline-manifest.json with a duplicate key (signed as is) is refused by verify and import: ERR_BUNDLE_CORRUPT, exit 11', async () => {
    const dir = join(media, `kit-dup-${++seq}`);
    // A decoy tenant first: JSON.parse keeps the last one, another parser the first.
    await writeKit(dir, { key, tenant: 'acme', mirror: [{ profileId: 'nightly', generation: nextGeneration++, files: FILES }], tamper: { manifestAfterSigning: (b) => Buffer.from(b.toString('utf8').replace('{', '{"tenant": "other",')) } });
    writeFileSync(join(dir, 'offline-manifest.json.sig'), signatureFile(key, readFileSync(join(dir, 'offline-manifest.json'))));
    const v = await runMirror(['verify', dir, '--key', keyFile, '--json']);
    expect(v.code, v.out).toBe(11);
    expect(JSON.parse(v.out).code).toBe('ERR_BUNDLE_CORRUPT');
    expect(v.out).toMatch(/the key \\?"tenant\\?" appears twice/);
    const ws = workspace();
    const r = await runMirror(['import', dir, '--workspace', ws, '--key', keyFile, '--json']);
    expect(r.code, r.out).toBe(11);
    expect(JSON.parse(r.out).code).toBe('ERR_BUNDLE_CORRUPT');
    const next = await runMirror(['import', await bundle(), '--workspace', ws, '--key', keyFile, '--json']);
    expect(next.code, next.out).toBe(0);
  });
});

describe('clean-up that cannot fail on depth, and recovery that never wedges', () => {
  it('1. a 1,800-level leftover in incoming/ is removed by the next command (iterative removal)', async () => {
    const ws = workspace();
    expect((await runMirror(['import', await bundle(), '--workspace', ws, '--key', keyFile, '--json'])).code).toBe(0);
    const deep = join(ws, 'incoming', 'old-job', 'files', ...Array.from({ length: 1800 }, () => 'a'));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, 'f'), 'x');
    const r = await runMirror(['import', await bundle(), '--workspace', ws, '--key', keyFile, '--json']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(readdirSync(join(ws, 'incoming'))).toEqual([]);
    expect((await runMirror(['rollback', '--workspace', ws, '--json'])).code).toBe(0);
    expect((await runMirror(['retention', 'run', '--workspace', ws, '--json'])).code).toBe(0);
  });

  it('a leftover that cannot be removed is moved to lost+found/ and reported; later commands work', async () => {
    const ws = workspace();
    expect((await runMirror(['import', await bundle(), '--workspace', ws, '--key', keyFile, '--json'])).code).toBe(0);
    mkdirSync(join(ws, 'incoming', 'stuck-job', 'files'), { recursive: true });
    writeFileSync(join(ws, 'incoming', 'stuck-job', 'files', 'f'), 'x');
    const failing = { ...nodeStagingFs, rm(p: string) {
      if (p.includes('stuck-job')) throw Object.assign(new Error('EBUSY: resource busy or locked (simulated)'), { code: 'EBUSY' });
      nodeStagingFs.rm(p);
    } };
    const report = recoverInterruptedApply(openWorkspace(ws), { hooks: { fs: failing } });
    expect(report.setAside).toHaveLength(1);
    expect(report.setAside![0]).toContain(join(ws, 'lost+found', 'stuck-job-'));
    expect(existsSync(join(report.setAside![0], 'files', 'f'))).toBe(true);
    expect(readdirSync(join(ws, 'incoming'))).toEqual([]);
    const log = readdirSync(join(ws, 'logs')).map((f) => readFileSync(join(ws, 'logs', f), 'utf8')).join('');
    expect(log).toContain('workspace.leftover.set_aside');
    const next = await runMirror(['import', await bundle(), '--workspace', ws, '--key', keyFile, '--json']);
    expect(next.code, next.out).toBe(0);
  });
});

describe('files from media and kits: lstat, regular files only, never blocking, confined to the kit', () => {
  async function kit(tamper?: Parameters<typeof writeKit>[1]['tamper']): Promise<string> {
    const dir = join(media, `kit${++seq}`);
    await writeKit(dir, { key, tenant: 'acme', mirror: [{ profileId: 'nightly', generation: nextGeneration++, files: FILES }], trivy: [{ kind: 'trivy-db' }], ...(tamper ? { tamper } : {}) });
    return dir;
  }

  async function importKitWithin(dir: string, ws: string, ms: number): Promise<{ code: number; out: string }> {
    // The CLI in a child process: a blocked read could not be interrupted inside this test process.
    const started = Date.now();
    const r = spawnSync(process.execPath, [CLI, 'import', dir, '--workspace', ws, '--key', keyFile, '--json'], { encoding: 'utf8', timeout: ms });
    expect(Date.now() - started).toBeLessThan(ms);
    return { code: r.status ?? -1, out: r.stdout };
  }

  it('2. a FIFO in place of the Trivy signature: import refuses at once (exit 11), verify agrees; the next import works', async () => {
    const dir = await kit();
    rmSync(join(dir, 'signatures', 'trivy-db.sig'));
    expect(spawnSync('mkfifo', [join(dir, 'signatures', 'trivy-db.sig')]).status).toBe(0);
    const ws = workspace();
    const r = await importKitWithin(dir, ws, 30_000);
    expect(r.code, r.out).toBe(11);
    const j = JSON.parse(r.out) as { code: string; items: { kind: string; code: string | null; message: string }[] };
    expect(j.code).toBe('ERR_BUNDLE_UNSAFE_ENTRY');
    expect(j.items.find((i) => i.kind === 'trivy-db')!.message).toMatch(/FIFO/);
    const v = await runMirror(['verify', dir, '--key', keyFile, '--json']);
    expect(v.code).toBe(11);
    expect(JSON.parse(v.out).code).toBe('ERR_BUNDLE_UNSAFE_ENTRY');
    const next = await runMirror(['import', await bundle(), '--workspace', ws, '--key', keyFile, '--json']);
    expect(next.code, next.out).toBe(0);
  });

  it('2. a FIFO as a loose Trivy bundle\'s db.bundle.sig, as --signature, or as the bundle itself: refused at once by import and verify (11; the bundle argument itself 1); the next import works', async () => {
    const dir = await kit();
    const loose = join(media, `loose${++seq}`);
    mkdirSync(loose);
    writeFileSync(join(loose, 'db.bundle'), readFileSync(join(dir, 'trivy', 'db.bundle')));
    expect(spawnSync('mkfifo', [join(loose, 'db.bundle.sig')]).status).toBe(0);
    const fifoBundle = join(media, `fifo${++seq}.tar.zst`);
    expect(spawnSync('mkfifo', [fifoBundle]).status).toBe(0);
    const ws = workspace();
    expect((await runMirror(['import', await bundle(), '--workspace', ws, '--key', keyFile, '--json'])).code).toBe(0);
    const cases: [string, string[]][] = [
      ['loose .sig', [join(loose, 'db.bundle')]],
      ['--signature', [join(dir, 'trivy', 'db.bundle'), '--signature', join(loose, 'db.bundle.sig')]],
      ['bundle', [fifoBundle]],
    ];
    for (const [label, args] of cases) {
      // import takes no --signature (a kit or a bundle beside its .sig): verify only there.
      for (const cmd of label === '--signature' ? [['verify', ...args]] : [['import', ...args, '--workspace', ws], ['verify', ...args]]) {
        // In a child: a read that blocked could not be interrupted inside this test process.
        const r = spawnSync(process.execPath, [CLI, ...cmd, '--key', keyFile, '--json'], { encoding: 'utf8', timeout: 30_000 });
        expect(r.signal, `${label} ${cmd[0]}: blocked`).toBeNull();
        // The bundle named on the command line is the operator's input: not a regular file is ERR_INPUT_NOT_FOUND (1).
        const [exit, code] = label === 'bundle' ? [1, 'ERR_INPUT_NOT_FOUND'] : [11, 'ERR_BUNDLE_UNSAFE_ENTRY'];
        expect(r.status, `${label} ${cmd[0]}: ${r.stdout}${r.stderr}`).toBe(exit);
        const j = JSON.parse(r.stdout) as { code: string; message: string };
        expect(j.code, label).toBe(code);
        expect(JSON.stringify(j), label).toMatch(/FIFO|not a regular file/);
      }
    }
    const next = await runMirror(['import', await bundle(), '--workspace', ws, '--key', keyFile, '--json']);
    expect(next.code, next.out).toBe(0);
  });

  it('4. a signature path outside the kit, or a symlinked .sig or bundle: verify and import both refuse (11), nothing outside is read', async () => {
    const secret = join(tmp.dir, 'outside.sig');
    writeFileSync(secret, 'not for the kit');
    const outside = await kit({ entries: (es) => es.map((e) => (e.kind === 'trivy-db' ? { ...e, signature: '../outside.sig' } : e)) });
    const linkedSig = await kit();
    rmSync(join(linkedSig, 'signatures', 'trivy-db.sig'));
    symlinkSync(secret, join(linkedSig, 'signatures', 'trivy-db.sig'));
    const linkedBundle = await kit();
    const real = join(tmp.dir, `real-${seq}.tar.zst`);
    const entry = readdirSync(join(linkedBundle, 'mirror'))[0];
    renameSync(join(linkedBundle, 'mirror', entry), real);
    symlinkSync(real, join(linkedBundle, 'mirror', entry));
    for (const dir of [outside, linkedSig, linkedBundle]) {
      const v = await runMirror(['verify', dir, '--key', keyFile, '--json']);
      expect(v.code, v.out).toBe(11);
      const ws = workspace();
      const r = await runMirror(['import', dir, '--workspace', ws, '--key', keyFile, '--json']);
      expect(r.code, r.out).toBe(11);
      expect(JSON.parse(r.out).code).toBe('ERR_BUNDLE_UNSAFE_ENTRY');
      const next = await runMirror(['import', await bundle(), '--workspace', ws, '--key', keyFile, '--json']);
      expect(next.code, next.out).toBe(0);
    }
  });
});

/** A ustar header block built by hand (types node-tar and the producer would not write). */
function header(name: string, flag: string, size: number): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  b.write('0000644\0', 100, 'ascii');
  b.write('0000000\0', 108, 'ascii');
  b.write('0000000\0', 116, 'ascii');
  b.write(size.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
  b.write('00000000000\0', 136, 'ascii');
  b.fill(0x20, 148, 156);
  b.write(flag, 156, 1, 'latin1');
  b.write('ustar\0', 257, 'ascii');
  b.write('00', 263, 'ascii');
  let sum = 0;
  for (const c of b) sum += c;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return b;
}
function paxRecords(records: Record<string, string>): Buffer {
  let text = '';
  for (const [k, v] of Object.entries(records)) {
    const body = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(body) + 1;
    while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
    text += `${len}${body}`;
  }
  return Buffer.from(text, 'utf8');
}
function member(h: Buffer, body: Buffer): Buffer {
  return Buffer.concat([h, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

/** A good bundle's tar, changed, recompressed; `before`/`after` are further raw zstd bytes around the frame. */
async function rebuilt(change: (tar: Buffer) => Buffer, around: { before?: Buffer; after?: Buffer } = {}): Promise<string> {
  const good = await bundle();
  const tar = decompress(readFileSync(good));
  const file = join(media, `re${++seq}.tar.zst`);
  writeFileSync(file, Buffer.concat([around.before ?? Buffer.alloc(0), compress(change(tar)), around.after ?? Buffer.alloc(0)]));
  return file;
}

function skippableFrame(payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(0x184d2a50, 0);
  h.writeUInt32LE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

describe('decisions: the tar end is the end, zstd frames, PAX global and sparse headers', () => {
  const hidden = (): Buffer => Buffer.concat([member(header('mirror/data/hidden.json', '0', 2), Buffer.from('{}')), Buffer.alloc(1024)]);

  it('bytes after the tar end-of-archive inside the zstd frame (garbage, a hidden member) are ERR_BUNDLE_CORRUPT (11), not kept', async () => {
    await refusedThenRecovers(await rebuilt((t) => Buffer.concat([t, Buffer.from('garbage')])), 'ERR_BUNDLE_CORRUPT', 11);
    await refusedThenRecovers(await rebuilt((t) => Buffer.concat([t, hidden()])), 'ERR_BUNDLE_CORRUPT', 11);
  });

  it('zero padding after the end-of-archive (GNU tar pads to its record size) is accepted', async () => {
    const ok = await rebuilt((t) => Buffer.concat([t, Buffer.alloc(9216)]));
    const v = await runMirror(['verify', ok, '--key', keyFile, '--json']);
    expect(v.code, v.out).toBe(0);
  });

  it('a zstd frame after the archive (a hidden member, or a skippable frame carrying data) is ERR_BUNDLE_CORRUPT (11)', async () => {
    await refusedThenRecovers(await rebuilt((t) => t, { after: compress(hidden()) }), 'ERR_BUNDLE_CORRUPT', 11);
    await refusedThenRecovers(await rebuilt((t) => t, { after: skippableFrame(Buffer.from('unsigned data')) }), 'ERR_BUNDLE_CORRUPT', 11);
  });

  it('a skippable frame first in the file is valid zstd and is accepted (interoperable: pzstd writes them)', async () => {
    const ok = await rebuilt((t) => t, { before: skippableFrame(Buffer.from('pzstd-style size hint')) });
    const v = await runMirror(['verify', ok, '--key', keyFile, '--json']);
    expect(v.code, v.out).toBe(0);
    const ws = workspace();
    const r = await runMirror(['import', ok, '--workspace', ws, '--key', keyFile, '--json']);
    expect(r.code, r.out).toBe(0);
  });

  it('a PAX global header (g) is ERR_BUNDLE_UNSAFE_ENTRY (11): GNU tar would apply it to every later member', async () => {
    const body = paxRecords({ path: 'mirror/data/evil.json' });
    const withBody = member(header('pax_global_header', 'g', body.length), body);
    const r = await refusedThenRecovers(await rebuilt((t) => Buffer.concat([withBody, t])), 'ERR_BUNDLE_UNSAFE_ENTRY', 11);
    expect(r.out + r.err).toMatch(/PAX global header/);
  });

  it('GNU.sparse.* records and sparse members (type S) are ERR_BUNDLE_UNSAFE_ENTRY (11)', async () => {
    const rec = paxRecords({ 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': 'mirror/data/other.json', 'GNU.sparse.realsize': '2' });
    const sparse1 = Buffer.concat([member(header('./PaxHeaders/x', 'x', rec.length), rec), member(header('mirror/data/GNUSparseFile.0/x', '0', 2), Buffer.from('{}'))]);
    const r1 = await refusedThenRecovers(await rebuilt((t) => Buffer.concat([sparse1, t])), 'ERR_BUNDLE_UNSAFE_ENTRY', 11);
    expect(r1.out + r1.err).toMatch(/GNU sparse record \(GNU\.sparse\./);
    const r2 = await refusedThenRecovers(await rebuilt((t) => Buffer.concat([member(header('mirror/data/sparse', 'S', 0), Buffer.alloc(0)), t])), 'ERR_BUNDLE_UNSAFE_ENTRY', 11);
    expect(r2.out + r2.err).toMatch(/GNU sparse member/);
  });
});
