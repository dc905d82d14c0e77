import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inspectPublicKey } from '../../services/keys/index';
import { KITS, tempDir } from '../../services/testing/fixtures';
import type { CliIo } from '../command';
import { runCli } from '../mirror';

function mkIo(cwd: string, stdinText?: string, tty = false) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean };
  if (tty) stdin.isTTY = true;
  if (stdinText !== undefined) stdin.end(stdinText);
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const io: CliIo = { stdout, stderr, stdin, env: {}, cwd, signal: new AbortController().signal };
  return { io, out: () => out, err: () => err };
}

let dir: string;
let cleanup: () => void;
let ws: string;
const pub = join(KITS, 'ecdsa-p256.trusted.pub');
let fp: string;
beforeEach(() => {
  ({ dir, cleanup } = tempDir('okc-cli5-'));
  ws = join(dir, 'ws');
  fp = inspectPublicKey(readFileSync(pub, 'utf8')).fingerprint;
});
afterEach(() => cleanup());

async function cli(args: string[], stdin?: string, tty = false) {
  const t = mkIo(dir, stdin, tty);
  const code = await runCli(args, t.io);
  return { code, out: t.out(), err: t.err() };
}

describe('mirror keys', () => {
  it('adds non-interactively with --fingerprint, lists, and audits', async () => {
    const r = await cli(['keys', 'add', pub, '--tenant', 'acme', '--fingerprint', fp, '--reason', 'CHG-1 initial', '--workspace', ws, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).key).toMatchObject({ tenant: 'acme', fingerprint: fp, status: 'active' });
    const l = await cli(['keys', 'list', '--workspace', ws, '--json']);
    expect(JSON.parse(l.out).keys.map((k: { fingerprint: string }) => k.fingerprint)).toEqual([fp]);
    const a = await cli(['audit', 'list', '--workspace', ws, '--action', 'keys.added', '--json']);
    expect(JSON.parse(a.out).rows[0]).toMatchObject({ action: 'keys.added', subject: `acme/${fp}` });
  });

  it('a wrong --fingerprint exits 4 with ERR_FINGERPRINT_MISMATCH and trusts nothing', async () => {
    const r = await cli(['keys', 'add', pub, '--tenant', 'acme', '--fingerprint', 'sha256:' + 'a'.repeat(64), '--reason', 'CHG-1', '--workspace', ws, '--json']);
    expect(r.code).toBe(4);
    expect(JSON.parse(r.out)).toMatchObject({ ok: false, code: 'ERR_FINGERPRINT_MISMATCH' });
    const l = await cli(['keys', 'list', '--workspace', ws, '--json']);
    expect(JSON.parse(l.out).keys).toEqual([]);
  });

  it('without a terminal and without --fingerprint, refuses and tells the fingerprint to pass', async () => {
    const r = await cli(['keys', 'add', pub, '--tenant', 'acme', '--reason', 'CHG-1', '--workspace', ws]);
    expect(r.code).toBe(4);
    expect(r.err).toContain(`--fingerprint ${fp}`);
  });

  it('in a terminal, shows the fingerprint and asks for confirmation and a reason', async () => {
    const r = await cli(['keys', 'add', pub, '--tenant', 'acme', '--workspace', ws], 'yes\nCHG-7 from the terminal\n', true);
    expect(r.code).toBe(0);
    expect(r.err).toContain(fp);
    expect(r.out).toContain('CHG-7 from the terminal');
    const no = await cli(['keys', 'add', pub, '--tenant', 'globex', '--workspace', ws], 'no\n', true);
    expect(no.code).toBe(4);
  });

  it('rotates and revokes with reasons', async () => {
    await cli(['keys', 'add', pub, '--tenant', 'acme', '--fingerprint', fp, '--reason', 'CHG-1', '--workspace', ws]);
    const newPub = join(dir, 'new.pub');
    writeFileSync(newPub, generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'pem' }));
    const fp2 = inspectPublicKey(readFileSync(newPub, 'utf8')).fingerprint;
    expect((await cli(['keys', 'rotate', newPub, '--tenant', 'acme', '--replaces', fp, '--fingerprint', fp2, '--reason', 'CHG-2', '--workspace', ws])).code).toBe(0);
    expect((await cli(['keys', 'revoke', fp, '--tenant', 'acme', '--workspace', ws])).code).toBe(4); // no reason
    expect((await cli(['keys', 'revoke', fp, '--tenant', 'acme', '--reason', 'CHG-3 retire', '--workspace', ws])).code).toBe(0);
    const l = JSON.parse((await cli(['keys', 'list', '--all', '--workspace', ws, '--json'])).out).keys;
    expect(l.map((k: { status: string }) => k.status)).toEqual(['active', 'revoked']);
    expect((await cli(['audit', 'verify', '--workspace', ws])).code).toBe(0);
  });
});

describe('mirror audit', () => {
  async function seeded() {
    await cli(['keys', 'add', pub, '--tenant', 'acme', '--fingerprint', fp, '--reason', 'CHG-1', '--workspace', ws]);
    await cli(['keys', 'add', pub, '--tenant', 'globex', '--fingerprint', fp, '--reason', 'CHG-2', '--workspace', ws]);
    await cli(['keys', 'revoke', fp, '--tenant', 'globex', '--reason', 'CHG-3', '--workspace', ws]);
  }

  it('verify exits 0 on an intact log and 2 naming the row after an edit with the sqlite3 tool', async () => {
    await seeded();
    const ok = await cli(['audit', 'verify', '--workspace', ws, '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ ok: true, rows: 3 });
    execFileSync('sqlite3', [join(ws, 'console.db'), "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET subject = 'globex/forged' WHERE id = 2;"]);
    const bad = await cli(['audit', 'verify', '--workspace', ws, '--json']);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.out)).toMatchObject({ ok: false, code: 'ERR_AUDIT_BROKEN', firstBroken: { id: 2 } });
    const text = await cli(['audit', 'verify', '--workspace', ws]);
    expect(text.out).toMatch(/BROKEN.*row 2/);
  });

  it('export + --against detects a cut tail (exit 2)', async () => {
    await seeded();
    const out = join(dir, 'evidence.jsonl');
    const e = await cli(['audit', 'export', '--workspace', ws, '--out', out]);
    expect(e.code).toBe(0);
    expect(existsSync(`${out}.head.json`)).toBe(true);
    expect((await cli(['audit', 'verify', '--workspace', ws, '--against', out])).code).toBe(0);
    execFileSync('sqlite3', [join(ws, 'console.db'), 'DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE id = 3;']);
    expect((await cli(['audit', 'verify', '--workspace', ws])).code).toBe(0);
    const cut = await cli(['audit', 'verify', '--workspace', ws, '--against', out, '--json']);
    expect(cut.code).toBe(2);
    expect(JSON.parse(cut.out).against.ok).toBe(false);
  });

  it('export signed with an operator key; csv format; bad flags are usage errors', async () => {
    await seeded();
    const keyFile = join(dir, 'op.pem');
    writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const out = join(dir, 'a.csv');
    const r = await cli(['audit', 'export', '--workspace', ws, '--out', out, '--format', 'csv', '--sign-key', keyFile, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ rows: 3, signature: `${out}.sig` });
    expect(readFileSync(out, 'utf8').split('\n')[0]).toBe('id,ts,actor,action,subject,details,prevHash,hash');
    expect((await cli(['audit', 'export', '--workspace', ws, '--out', out, '--format', 'xml'])).code).toBe(4);
    expect((await cli(['audit', 'list', '--workspace', ws, '--from', 'yesterday'])).code).toBe(4);
    expect((await cli(['audit', 'verify', '--workspace', join(dir, 'nowhere')])).code).toBe(1);
  });
});
