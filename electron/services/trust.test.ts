import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateX25519Identity } from 'age-encryption';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isOpsError } from '../../shared/errors';
import { createEngine } from './engine';
import { runJobInline, runJobInWorker } from './jobs/index';
import { generateSigningKey } from './producer/keys';
import { errorCodeOf, tempDir } from './testing/fixtures';
import { writePqBundle } from './testing/pq';
import { parseAgeIdentities, resolveTrust } from './trust';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir('okc-trust-')));
afterEach(() => cleanup());

describe('the one age identity parser', () => {
  it('accepts X25519 and post-quantum hybrid identities, with comments and blank lines', async () => {
    const pq = (await writePqBundle(dir)).identity;
    const x = await generateX25519Identity();
    expect(pq.startsWith('AGE-SECRET-KEY-PQ-1')).toBe(true);
    expect(parseAgeIdentities(`# a comment\n\n${x}\r\n  ${pq}  \n`, 'ids.txt')).toEqual([x, pq]);
  });

  it('refuses anything else with ERR_USAGE naming the file', () => {
    expect(errorCodeOf(() => parseAgeIdentities('AGE-SECRET-KEY-1abc lowercase\n', 'f.txt'))).toBe('ERR_USAGE');
    expect(errorCodeOf(() => parseAgeIdentities('-----BEGIN PRIVATE KEY-----\n', 'f.txt'))).toBe('ERR_USAGE');
    expect(errorCodeOf(() => parseAgeIdentities('# only a comment\n', 'f.txt'))).toBe('ERR_USAGE');
    try {
      parseAgeIdentities('age1notanidentity', '/media/usb/ids.txt');
    } catch (e) {
      expect(isOpsError(e) && e.message).toContain('/media/usb/ids.txt');
    }
  });
});

describe('resolveTrust: the rule written once', () => {
  function pin(wsDir: string, tenant: string) {
    const k = generateSigningKey('ed25519');
    const e = createEngine(wsDir, { create: true });
    try {
      e.keys.add({ pem: k.publicPem, tenant, confirmFingerprint: k.fingerprint, reason: 'CHG-1' });
    } finally {
      e.close();
    }
    return k;
  }

  it('explicit keys add to the pinned keys (each pinned key keeps its tenant); a revoked key cannot come back as a file', () => {
    const ws = join(dir, 'ws');
    const acme = pin(ws, 'acme');
    const globex = pin(ws, 'globex');
    const extra = generateSigningKey('ecdsa-p256');
    const extraFile = join(dir, 'extra.pub');
    writeFileSync(extraFile, extra.publicPem);
    const e = createEngine(ws);
    try {
      const t = e.trust({ keyFiles: [extraFile] });
      expect(t.pinned).toBe(2);
      expect(t.explicit).toBe(1);
      expect(t.keys.map((k) => [k.fingerprint, k.tenant])).toEqual([
        [acme.fingerprint, 'acme'],
        [globex.fingerprint, 'globex'],
        [extra.fingerprint, undefined],
      ]);
      // --tenant narrows the pinned keys only.
      expect(e.trust({ tenant: 'acme' }).keys.map((k) => k.fingerprint)).toEqual([acme.fingerprint]);
      // A key given as a file that is also pinned counts once, as pinned (its tenant stays).
      const acmeFile = join(dir, 'acme.pub');
      writeFileSync(acmeFile, acme.publicPem);
      expect(e.trust({ keyFiles: [acmeFile] }).keys.filter((k) => k.fingerprint === acme.fingerprint)).toEqual([expect.objectContaining({ tenant: 'acme', source: 'workspace' })]);
      // Revocation wins.
      e.keys.revoke({ tenant: 'globex', fingerprint: globex.fingerprint, reason: 'CHG-2 compromised' });
      const globexFile = join(dir, 'globex.pub');
      writeFileSync(globexFile, globex.publicPem);
      expect(errorCodeOf(() => e.trust({ keyFiles: [globexFile] }))).toBe('ERR_VERIFY_SIGNATURE');
    } finally {
      e.close();
    }
    // Without a workspace: the explicit keys only, and a note when there are none.
    expect(resolveTrust(null, { keyFiles: [extraFile] }).keys).toHaveLength(1);
    expect(resolveTrust(null, {}).note).toMatch(/No key file/);
    expect(errorCodeOf(() => resolveTrust(null, { keyFiles: [join(dir, 'missing.pub')] }))).toBe('ERR_INPUT_NOT_FOUND');
  });
});

describe('a post-quantum age identity works on the job path', () => {
  it('JOBS verify.path decrypts a PQ-encrypted bundle in a worker thread and inline; without the identity it is refused', async () => {
    const b = await writePqBundle(dir);
    const ws = join(dir, 'ws');
    createEngine(ws, { create: true }).close();
    const params = { workspaceDir: ws, path: b.file, keyFiles: [b.keyFile], identityFiles: [b.identityFile] };
    const inWorker = await runJobInWorker('verify.path', params);
    expect(inWorker.ok, inWorker.message).toBe(true);
    const inline = await runJobInline('verify.path', params);
    expect(inline.ok).toBe(true);
    expect(inline.exportId).toBe(inWorker.exportId);
    const without = await runJobInline('verify.path', { ...params, identityFiles: [] });
    expect(without.ok).toBe(false);
    // The import job takes the same identity files.
    const imported = await runJobInline('staging.import', { workspaceDir: ws, paths: [b.file], keyFiles: [b.keyFile], identityFiles: [b.identityFile] });
    expect(imported.ok, imported.message).toBe(true);
    expect(imported.current?.generation).toBe(1);
  });

  it('job params are parsed by the job schema: a bad field is ERR_USAGE naming it', async () => {
    try {
      await runJobInline('verify.path', { workspaceDir: dir, path: 42 } as unknown as { workspaceDir: string; path: string });
      expect.unreachable();
    } catch (e) {
      expect(isOpsError(e) && e.code).toBe('ERR_USAGE');
      expect((e as Error).message).toContain('path');
    }
  });
});
