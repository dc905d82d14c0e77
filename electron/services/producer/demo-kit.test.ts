/**
 * The committed demo kit (resources/demo-kit/ + resources/demo-kit.pub) is
 * whole, signed by the demo key, a proper chain, and reproducible from
 * bench/make-demo-kit.ts (same export.json bytes; only signatures differ).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../testing/fixtures';
import { loadPublicKey, verifyDetached } from '../verify/keys';
import { verifyPath } from '../verify/index';
import { generateSigningKey } from './index';

const KIT = join(REPO_ROOT, 'resources/demo-kit');
const PUB = readFileSync(join(REPO_ROOT, 'resources/demo-kit.pub'), 'utf8');

interface Entry { path: string; kind: string; sha256: string; size: number; exportId?: string; generation?: number; signature?: string }

function tarMember(bundle: string, member: string): Buffer {
  return execFileSync('sh', ['-c', `zstd -q -dc "$1" | tar -xO "$2"`, 'sh', bundle, member]);
}

const tmp = tempDir('okc-demo-');
afterAll(() => tmp.cleanup());

describe('resources/demo-kit', () => {
  const key = loadPublicKey(PUB);
  const manifest = JSON.parse(readFileSync(join(KIT, 'offline-manifest.json'), 'utf8')) as { tenant: string; entries: Entry[] };

  it('is signed by resources/demo-kit.pub and lists files that match', () => {
    const sig = readFileSync(join(KIT, 'offline-manifest.json.sig'), 'utf8');
    expect(verifyDetached(readFileSync(join(KIT, 'offline-manifest.json')), sig, [key]).ok).toBe(true);
    expect(readFileSync(join(KIT, 'keys/export-center.pub'), 'utf8')).toBe(PUB);
    expect(manifest.entries.map((e) => e.kind)).toEqual(['mirror-full', 'mirror-delta', 'mirror-delta', 'trivy-db']);
    for (const e of manifest.entries) {
      const bytes = readFileSync(join(KIT, e.path));
      expect(bytes.length).toBe(e.size);
      expect(bytes.length).toBeLessThan(16 * 1024);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(e.sha256);
      if (e.signature) expect(verifyDetached(bytes, readFileSync(join(KIT, e.signature), 'utf8'), [key]).ok).toBe(true);
    }
  });

  it('holds a full bundle and two deltas chained by generation and export.json digest', () => {
    let prevDigest: string | null = null;
    let prevId: string | null = null;
    for (const [i, e] of manifest.entries.filter((x) => x.kind.startsWith('mirror')).entries()) {
      const file = join(KIT, e.path);
      const exportBytes = tarMember(file, 'mirror/export.json');
      const exp = JSON.parse(exportBytes.toString('utf8'));
      expect(verifyDetached(exportBytes, tarMember(file, 'mirror/signatures/export.sig'), [key]).ok).toBe(true);
      expect(verifyDetached(tarMember(file, 'mirror/manifest.yaml'), tarMember(file, 'mirror/signatures/manifest.sig'), [key]).ok).toBe(true);
      expect(exp.generation).toBe(i + 1);
      expect([exp.exportId, exp.generation]).toEqual([e.exportId, e.generation]);
      expect(exp.tenant).toBe(manifest.tenant);
      if (i === 0) expect(exp.base).toBeNull();
      else expect(exp.base).toEqual({ exportId: prevId, generation: i, manifestDigest: prevDigest });
      prevDigest = `sha256:${createHash('sha256').update(exportBytes).digest('hex')}`;
      prevId = exp.exportId;
    }
  });

  it('verifies with the verification engine and the demo key, and is refused with any other key', async () => {
    const v = await verifyPath(KIT, { keys: [key] });
    expect(v.code, v.message).toBeNull();
    expect(v.ok).toBe(true);
    expect(v.kind).toBe('kit');
    expect(v.items.map((i) => [i.kind, i.ok])).toEqual([
      ['mirror-full', true],
      ['mirror-delta', true],
      ['mirror-delta', true],
      ['trivy-db', true],
    ]);
    const other = await verifyPath(KIT, { keys: [loadPublicKey(generateSigningKey('ed25519').publicPem)] });
    expect(other.ok).toBe(false);
    expect(other.code).toBe('ERR_VERIFY_SIGNATURE');
  });

  it('is reproducible by bench/make-demo-kit.ts (same export.json bytes)', () => {
    const out = join(tmp.dir, 'kit');
    execFileSync(join(REPO_ROOT, 'node_modules/.bin/tsx'), [join(REPO_ROOT, 'bench/make-demo-kit.ts'), out], { cwd: REPO_ROOT });
    const fresh = JSON.parse(readFileSync(join(out, 'offline-manifest.json'), 'utf8')) as { entries: Entry[] };
    expect(fresh.entries.map((e) => e.path)).toEqual(manifest.entries.map((e) => e.path));
    for (const e of manifest.entries.filter((x) => x.kind.startsWith('mirror'))) {
      expect(tarMember(join(out, e.path), 'mirror/export.json')).toEqual(tarMember(join(KIT, e.path), 'mirror/export.json'));
    }
    // A fresh run uses a fresh key: the committed signatures do not verify with it.
    const freshKey = loadPublicKey(readFileSync(join(tmp.dir, 'demo-kit.pub'), 'utf8'));
    expect(freshKey.fingerprint).not.toBe(key.fingerprint);
  });
});
