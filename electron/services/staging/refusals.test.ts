import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KITS, tempDir } from '../testing/fixtures';
import { treeHash } from '../testing/tree';
import { loadPublicKey } from '../verify/keys';
import { openWorkspace, type Workspace } from '../workspace/index';
import { importBundles, workspaceStatus } from './index';

const BAD = join(KITS, 'bad');
const cases = readFileSync(join(BAD, 'cases.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { case: string; expect: 'refuse' | 'accept'; code: string | null; bundle: string; canary?: string });

let tmp: { dir: string; cleanup: () => void };
let ws: Workspace;
beforeEach(() => {
  tmp = tempDir('okc-refuse-');
  ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
});
afterEach(() => tmp.cleanup());

describe('bad bundles are refused on import, nothing staged changes', () => {
  it.each(cases.filter((c) => c.expect === 'refuse'))('$case → $code', async (c) => {
    const good = [loadPublicKey(readFileSync(join(KITS, 'ecdsa-p256.trusted.pub'), 'utf8'), 'cli')];
    const keys = [...good, loadPublicKey(readFileSync(join(BAD, 'trust.pub'), 'utf8'), 'cli')];
    // Something staged first (another chain's full bundle is fine for checking "unchanged").
    const first = await importBundles(ws, [join(KITS, 'ecdsa-p256', 'mirror', 'mirror-20251029-full.tar.zst')], { keys: good });
    expect(first.ok).toBe(true);
    const before = { link: readlinkSync(ws.layout.current), tree: treeHash(ws.layout.current), library: readdirSync(ws.layout.library).sort() };
    const r = await importBundles(ws, [join(BAD, c.bundle)], { keys });
    expect(r.ok).toBe(false);
    expect(r.code).toBe(c.code);
    expect(r.items[0].outcome).toBe('refused');
    expect(readlinkSync(ws.layout.current)).toBe(before.link);
    expect(treeHash(ws.layout.current)).toBe(before.tree);
    expect(readdirSync(ws.layout.library).sort()).toEqual(before.library);
    expect(readdirSync(ws.layout.incoming)).toEqual([]);
    const st = await workspaceStatus(ws);
    expect(st.lastApply).toMatchObject({ ok: false, code: c.code });
    if (c.canary) expect(existsSync(join('/tmp', c.canary.split('/').pop()!))).toBe(false);
  });
});

describe('Trivy databases', () => {
  it("installs Trivy's own trivy.db and trivy-java.db in the --cache-dir layout, switching atomically on update", async () => {
    const keys = [loadPublicKey(readFileSync(join(KITS, 'trivy-upstream.trusted.pub'), 'utf8'), 'cli')];
    const dir = join(KITS, 'trivy-upstream', 'trivy');
    const r = await importBundles(ws, [join(dir, 'db.bundle'), join(dir, 'java-db.bundle')], { keys });
    expect(r.ok, r.message).toBe(true);
    expect(r.items.map((i) => [i.kind, i.outcome])).toEqual([['trivy-db', 'installed'], ['trivy-java-db', 'installed']]);
    for (const [sub, db] of [['db', 'trivy.db'], ['java-db', 'trivy-java.db']]) {
      expect(existsSync(join(ws.layout.trivy, sub, db))).toBe(true);
      expect(JSON.parse(readFileSync(join(ws.layout.trivy, sub, 'metadata.json'), 'utf8'))).toHaveProperty('Version');
    }
    const first = readlinkSync(join(ws.layout.trivy, 'db'));
    // Installing again switches to a new folder and removes the old one.
    const again = await importBundles(ws, [join(dir, 'db.bundle')], { keys });
    expect(again.ok).toBe(true);
    const second = readlinkSync(join(ws.layout.trivy, 'db'));
    expect(second).not.toBe(first);
    expect(existsSync(join(ws.layout.trivy, first))).toBe(false);
    expect(readFileSync(join(ws.layout.trivy, 'db', 'trivy.db')).equals(readFileSync(join(ws.layout.trivy, second, 'trivy.db')))).toBe(true);
    const st = await workspaceStatus(ws);
    expect(st.library.filter((l) => l.kind === 'trivy-db')).toHaveLength(1); // same bytes: one content-addressed entry
  });

  it('refuses a Trivy bundle whose signature is not trusted, keeping the installed database', async () => {
    const dir = join(KITS, 'trivy-upstream', 'trivy');
    const wrong = [loadPublicKey(readFileSync(join(KITS, 'ed25519.trusted.pub'), 'utf8'), 'cli')];
    const r = await importBundles(ws, [join(dir, 'db.bundle')], { keys: wrong });
    expect(r.code).toBe('ERR_VERIFY_SIGNATURE');
    expect(existsSync(join(ws.layout.trivy, 'db'))).toBe(false);
  });
});
