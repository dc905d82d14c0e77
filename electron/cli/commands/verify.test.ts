/**
 * `mirror verify`: the CLI contract (flags, exit codes, --json shape, readable
 * report), run in process through runCli, and once as a real child process.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../../shared/errors';
import { openWorkspaceDatabase } from '../../services/db/index';
import { addTrustedKey } from '../../services/keys/index';
import { readLogs } from '../../services/obs/index';
import { importBundles } from '../../services/staging/index';
import { generateSigningKey, samplePayload, writeKit, writeMirrorBundle } from '../../services/producer/index';
import { KITS, REPO_ROOT, tempDir } from '../../services/testing/fixtures';
import { loadPublicKey } from '../../services/verify/keys';
import { openWorkspace } from '../../services/workspace/index';
import type { CliIo } from '../command';
import { runCli } from '../mirror';

const tmp = tempDir('okc-cli-verify-');
afterAll(() => tmp.cleanup());
let seq = 0;
const fresh = (name: string): string => join(tmp.dir, `${seq++}-${name}`);

/** The exit codes the CLI contract fixes per reported code. */
const EXIT: Partial<Record<ErrorCode | 'null', number>> = {
  null: 0,
  ERR_INPUT_NOT_FOUND: 1,
  ERR_VERIFY_DIGEST: 2,
  ERR_VERIFY_MISSING_FILE: 2,
  ERR_VERIFY_EXTRA_FILE: 2,
  ERR_VERIFY_TOMBSTONE: 2,
  ERR_USAGE: 4,
  ERR_VERIFY_SIGNATURE: 5,
  ERR_EXPORT_BASE_MISSING: 8,
  ERR_IMPORT_NON_MONOTONIC: 8,
  ERR_BUNDLE_UNSAFE_ENTRY: 11,
  ERR_BUNDLE_CORRUPT: 11,
  ERR_EXPORT_UNSUPPORTED_SCHEMA: 11,
  ERR_BUNDLE_LIMIT: 11,
  ERR_DECRYPT_NO_RECIPIENT: 11,
  ERR_DECRYPT_AUTH: 11,
};

function io(opts: { tty?: boolean; env?: NodeJS.ProcessEnv } = {}) {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), opts.tty ? { isTTY: true } : {});
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const dataHome = fresh('xdg');
  const value: CliIo = { stdout, stderr, stdin: new PassThrough(), env: { XDG_DATA_HOME: dataHome, ...opts.env }, cwd: REPO_ROOT, signal: new AbortController().signal };
  return { io: value, out: () => out, err: () => err };
}

async function run(args: string[], opts: { tty?: boolean; env?: NodeJS.ProcessEnv } = {}) {
  const t = io(opts);
  const code = await runCli(['verify', ...args], t.io);
  return { code, out: t.out(), err: t.err(), json: () => JSON.parse(t.out()) as Record<string, unknown> };
}

const kitKey = (kit: string) => join(KITS, `${kit}.trusted.pub`);

describe('mirror verify --json', () => {
  it('a kit: exit 0 and exactly one JSON object with the contract keys', async () => {
    const r = await run([join(KITS, 'ecdsa-p256'), '--key', kitKey('ecdsa-p256'), '--json']);
    expect(r.code).toBe(0);
    const j = r.json();
    for (const k of ['ok', 'code', 'message', 'action', 'path', 'kind', 'exportId', 'generation', 'checks', 'items', 'warnings', 'stats']) expect(j).toHaveProperty(k);
    expect(j).toMatchObject({ ok: true, code: null, action: null, path: join(KITS, 'ecdsa-p256'), kind: 'kit', exportId: 'exp-acme-mirror-nightly-0003', generation: 3 });
    expect(Object.keys(j.stats as object).sort()).toEqual(['bytes', 'files', 'seconds']);
    expect((j.items as { kind: string; generation: number | null }[]).map((i) => [i.kind, i.generation])).toEqual([['mirror-full', 1], ['mirror-delta', 2], ['mirror-delta', 3], ['trivy-db', null]]);
    expect((j.checks as { name: string; ok: boolean }[]).every((c) => typeof c.name === 'string' && typeof c.ok === 'boolean')).toBe(true);
    expect(r.err).toBe('');
  });

  it('path is the input as given (relative to the working folder)', async () => {
    const r = await run(['../shared/fixtures/kits/ed25519', '--key', '../shared/fixtures/kits/ed25519.trusted.pub', '--json']);
    expect(r.code).toBe(0);
    expect(r.json().path).toBe('../shared/fixtures/kits/ed25519');
  });

  const cases = readFileSync(join(KITS, 'bad/cases.jsonl'), 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { case: string; code: ErrorCode | null; expect: string; bundle: string; signature?: string });
  for (const c of cases) {
    it(`bad case ${c.case}: exit ${EXIT[c.code ?? 'null']} with code ${c.code}`, async () => {
      const args = [join(KITS, 'bad', c.bundle), '--key', join(KITS, 'bad/trust.pub'), '--json'];
      if (c.signature) args.push('--signature', join(KITS, 'bad', c.signature));
      const r = await run(args);
      expect(r.code).toBe(EXIT[c.code ?? 'null']);
      const j = r.json();
      expect(j.ok).toBe(c.expect === 'accept');
      expect(j.code).toBe(c.code);
      if (c.code) expect(typeof j.action).toBe('string');
    });
  }

  it('a kit verified with another key: exit 5, and the report lists the fingerprints tried', async () => {
    const wrong = loadPublicKey(readFileSync(kitKey('ed25519'), 'utf8'));
    const r = await run([join(KITS, 'ecdsa-p256'), '--key', kitKey('ed25519'), '--json']);
    expect(r.code).toBe(5);
    const j = r.json() as { code: string; keys: { tried: string[]; signedBy: string[] } };
    expect(j.code).toBe('ERR_VERIFY_SIGNATURE');
    expect(j.keys.tried).toEqual([wrong.fingerprint]);
    expect(j.keys.signedBy).toEqual([]);
  });

  it('a kit with a gap in its delta chain exits 8 (ERR_EXPORT_BASE_MISSING)', async () => {
    const key = generateSigningKey('ed25519');
    const pub = fresh('gap.pub');
    writeFileSync(pub, key.publicPem);
    const kit = await writeKit(fresh('gap-kit'), {
      key,
      mirror: [{ files: samplePayload({ parts: 2 }) }, { files: samplePayload({ parts: 2, seed: 'b' }).slice(0, 1) }, { files: samplePayload({ parts: 2, seed: 'c' }).slice(0, 1) }],
      tamper: { entries: (es) => es.filter((e) => e.generation !== 2) },
    });
    const r = await run([kit.dir, '--key', pub, '--json']);
    expect(r.code).toBe(8);
    expect(r.json().code).toBe('ERR_EXPORT_BASE_MISSING');
  });

  it('--keyring trusts every *.pub in the folder', async () => {
    const ring = fresh('ring');
    mkdirSync(ring);
    copyFileSync(kitKey('ed25519'), join(ring, 'a.pub'));
    copyFileSync(kitKey('ecdsa-p256'), join(ring, 'b.pem'));
    writeFileSync(join(ring, 'README'), 'not a key');
    const r = await run([join(KITS, 'ecdsa-p256'), '--keyring', ring, '--json']);
    expect(r.code).toBe(0);
    expect((r.json() as { keys: { tried: string[] } }).keys.tried.length).toBe(2);
  });

  it('--identity files (with comments) decrypt the age kits; a file without identities is a usage error', async () => {
    const id = fresh('id.txt');
    writeFileSync(id, `# created: today\n# public key: age1...\n\n${readFileSync(join(KITS, 'test-age-identity.txt'), 'utf8')}`);
    for (const kit of ['age-whole', 'age-per-file']) {
      const r = await run([join(KITS, kit), '--key', kitKey(kit), '--identity', id, '--json']);
      expect(r.code, kit).toBe(0);
    }
    const none = fresh('none.txt');
    writeFileSync(none, '# nothing here\n');
    const bad = await run([join(KITS, 'age-whole'), '--key', kitKey('age-whole'), '--identity', none, '--json']);
    expect(bad.code).toBe(4);
    expect(bad.json().code).toBe('ERR_USAGE');
    const noId = await run([join(KITS, 'age-whole'), '--key', kitKey('age-whole'), '--json']);
    expect(noId.code).toBe(11);
    expect(noId.json().code).toBe('ERR_DECRYPT_NO_RECIPIENT');
  });

  it('--max-bytes below the bundle\'s size: ERR_BUNDLE_LIMIT, exit 11', async () => {
    const r = await run([join(KITS, 'ecdsa-p256/mirror/mirror-20251029-full.tar.zst'), '--key', kitKey('ecdsa-p256'), '--max-bytes', '64K', '--json']);
    expect(r.code).toBe(11);
    expect(r.json().code).toBe('ERR_BUNDLE_LIMIT');
    const ok = await run([join(KITS, 'ecdsa-p256/mirror/mirror-20251029-full.tar.zst'), '--key', kitKey('ecdsa-p256'), '--max-bytes', '1G', '--max-members', '100', '--max-ratio', '50', '--json']);
    expect(ok.code).toBe(0);
  });

  it('usage errors exit 4; a missing input exits 1; a key that is not a public key exits 11', async () => {
    expect((await run(['--json'])).code).toBe(4);
    expect((await run(['a', 'b', '--json'])).code).toBe(4);
    expect((await run([join(KITS, 'ed25519'), '--frobnicate', '--json'])).code).toBe(4);
    expect((await run([join(KITS, 'ed25519'), '--max-bytes', 'lots', '--json'])).code).toBe(4);
    const missing = await run([join(tmp.dir, 'nothing.tar.zst'), '--key', kitKey('ed25519'), '--json']);
    expect(missing.code).toBe(1);
    expect(missing.json().code).toBe('ERR_INPUT_NOT_FOUND');
    expect((await run([join(KITS, 'ed25519'), '--key', join(tmp.dir, 'no.pub'), '--json'])).code).toBe(1);
    const notKey = fresh('not.pub');
    writeFileSync(notKey, 'hello');
    const nk = await run([join(KITS, 'ed25519'), '--key', notKey, '--json']);
    expect(nk.code).toBe(11);
    expect(nk.json().code).toBe('ERR_KEY_INVALID');
    // Errors before any verification still print one object of the verdict's shape.
    expect(Object.keys(nk.json())).toEqual(expect.arrayContaining(['ok', 'code', 'message', 'action', 'path', 'kind', 'exportId', 'generation', 'checks', 'items', 'warnings', 'stats']));
    expect(nk.json()).toMatchObject({ ok: false, path: join(KITS, 'ed25519'), checks: [], items: [] });
    const folder = fresh('plain-folder');
    mkdirSync(folder);
    expect((await run([folder, '--key', kitKey('ed25519'), '--json'])).code).toBe(4);
  });

  it('without --key: no pinned keys anywhere is a signature failure (exit 5) that says so', async () => {
    const r = await run([join(KITS, 'ed25519'), '--json']);
    expect(r.code).toBe(5);
    const j = r.json() as { message: string; warnings: string[] };
    expect(j.message).toMatch(/No trusted key/);
    expect(j.warnings.join(' ')).toMatch(/no workspace|No --key/);
  });

  it('without --key: the keys pinned in the workspace (per tenant) are used', async () => {
    const wsDir = fresh('ws');
    const ws = openWorkspace(wsDir, { create: true });
    const db = openWorkspaceDatabase(ws);
    const pem = readFileSync(kitKey('ed25519'), 'utf8');
    addTrustedKey(db, { pem, tenant: 'acme', confirmFingerprint: loadPublicKey(pem).fingerprint, reason: 'test change record' });
    db.close();
    expect((await run([join(KITS, 'ed25519'), '--workspace', wsDir, '--json'])).code).toBe(0);
    // Pinned only for another tenant: refused.
    const r = await run([join(KITS, 'ed25519'), '--workspace', wsDir, '--tenant', 'globex', '--json']);
    expect(r.code).toBe(5);
    // The default workspace ($XDG_DATA_HOME) serves when no --workspace is given.
    const xdg = fresh('xdg-home');
    const def = openWorkspace(join(xdg, 'export-center-console', 'workspace'), { create: true });
    const db2 = openWorkspaceDatabase(def);
    addTrustedKey(db2, { pem, tenant: 'acme', confirmFingerprint: loadPublicKey(pem).fingerprint, reason: 'test change record' });
    db2.close();
    expect((await run([join(KITS, 'ed25519'), '--json'], { env: { XDG_DATA_HOME: xdg } })).code).toBe(0);
  });
});

describe('mirror verify with a workspace: refusals are logged', () => {
  it('writes mirror.verify.failed with the error code to the workspace log, and nothing for a pass', async () => {
    const wsDir = fresh('ws-log');
    const ws = openWorkspace(wsDir, { create: true });
    const ok = await run([join(KITS, 'ed25519'), '--key', kitKey('ed25519'), '--workspace', wsDir, '--json']);
    expect(ok.code).toBe(0);
    expect(readLogs(ws).filter((l) => l.event === 'mirror.verify.failed')).toEqual([]);
    const bad = await run([join(KITS, 'bad/digest-mismatch/mirror/mirror-20251029-full.tar.zst'), '--key', join(KITS, 'bad/trust.pub'), '--workspace', wsDir, '--json']);
    expect(bad.code).toBe(2);
    const lines = readLogs(ws).filter((l) => l.event === 'mirror.verify.failed');
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatchObject({ errorCode: 'ERR_VERIFY_DIGEST' });
  });
});

describe('mirror verify <workspace>', () => {
  it('re-reads the staging tree: 0 when intact, exit 2 naming the file once a staged file changes', async () => {
    const wsDir = fresh('ws-tree');
    const ws = openWorkspace(wsDir, { create: true });
    const keys = [loadPublicKey(readFileSync(kitKey('ed25519'), 'utf8'))];
    await importBundles(ws, [join(KITS, 'ed25519/mirror/mirror-20251029-full.tar.zst')], { keys });
    const ok = await run([wsDir, '--key', kitKey('ed25519'), '--json']);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.json()).toMatchObject({ ok: true, kind: 'workspace', generation: 1 });
    const same = await run(['--workspace', wsDir, '--key', kitKey('ed25519'), '--json']);
    expect(same.code).toBe(0);
    // Damage one staged file (through the current generation).
    const cur = join(wsDir, 'staging', 'current', 'README.md');
    writeFileSync(cur, 'tampered\n');
    const bad = await run([wsDir, '--key', kitKey('ed25519'), '--json']);
    expect(bad.code).toBe(2);
    expect(JSON.stringify(bad.json())).toContain('README.md');
  });
});

describe('mirror verify (readable report)', () => {
  it('prints VERIFIED with the checks; REFUSED with the message, the member and what to do', async () => {
    const ok = await run([join(KITS, 'ed25519/mirror/mirror-20251029-full.tar.zst'), '--key', kitKey('ed25519')]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^VERIFIED {2}mirror-full exp-acme-mirror-nightly-0001 \(generation 1\)/);
    expect(ok.out).toMatch(/ok {3}signature export\.sig over export\.json/);
    const bad = await run([join(KITS, 'bad/traversal/mirror/mirror-20251029-full.tar.zst'), '--key', join(KITS, 'bad/trust.pub')]);
    expect(bad.code).toBe(11);
    expect(bad.out).toMatch(/REFUSED \[ERR_BUNDLE_UNSAFE_ENTRY\]/);
    expect(bad.out).toContain('member: mirror/../../../tmp/okc-canary-traversal');
    expect(bad.out).toMatch(/what to do: Do not import/);
  });

  it('a kit report ends with the import plan in application order', async () => {
    const r = await run([join(KITS, 'ed25519'), '--key', kitKey('ed25519')]);
    expect(r.code).toBe(0);
    const plan = r.out.slice(r.out.indexOf('What an import of this kit would do:'));
    expect(plan).toMatch(/1\. apply exp-acme-mirror-nightly-0001 \(generation 1, full\)/);
    expect(plan).toMatch(/2\. apply delta exp-acme-mirror-nightly-0002 \(generation 2\)/);
    expect(plan).toMatch(/4\. install the Trivy DB/);
  });

  it('shows a progress line on stderr only when stderr is a TTY', async () => {
    const key = generateSigningKey('ecdsa-p256');
    const pub = fresh('k.pub');
    writeFileSync(pub, key.publicPem);
    const b = await writeMirrorBundle(fresh('p.tar.zst'), { key, files: samplePayload({ parts: 4 }) });
    const tty = await run([b.file, '--key', pub], { tty: true });
    expect(tty.code).toBe(0);
    expect(tty.err).toMatch(/verify: .*MB\/s/);
    const plain = await run([b.file, '--key', pub]);
    expect(plain.err).toBe('');
    // --json on a terminal: one JSON object on stdout, nothing on stderr.
    const json = await run([b.file, '--key', pub, '--json'], { tty: true });
    expect(json.code).toBe(0);
    expect(json.err).toBe('');
    expect(json.json()).toMatchObject({ ok: true });
    expect(tty.out).not.toMatch(/MB\/s|\r/);
  });
});

describe('mirror verify as a child process', () => {
  it('exits with the contract code and prints one JSON object', () => {
    const tsx = join(REPO_ROOT, 'node_modules/.bin/tsx');
    const ok = spawnSync(tsx, ['electron/cli/bin.ts', 'verify', join(KITS, 'ed25519'), '--key', kitKey('ed25519'), '--json'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout).ok).toBe(true);
    const bad = spawnSync(tsx, ['electron/cli/bin.ts', 'verify', join(KITS, 'bad/digest-mismatch/mirror/mirror-20251029-full.tar.zst'), '--key', join(KITS, 'bad/trust.pub'), '--json'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(JSON.parse(bad.stdout).code).toBe('ERR_VERIFY_DIGEST');
  });
});
