/** Kits made by the project's producer: order from generation (not names), gaps, mix-and-match, resetBaseline. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSigningKey, samplePayload, writeKit, writeMirrorBundle } from '../producer/index';
import { tempDir } from '../testing/fixtures';
import { loadPublicKey } from '../verify/keys';
import { openWorkspace, type Workspace } from '../workspace/index';
import { importBundles, workspaceStatus } from './index';

let tmp: { dir: string; cleanup: () => void };
let ws: Workspace;
const key = generateSigningKey('ecdsa-p256');
const keys = [loadPublicKey(key.publicPem, 'cli')];

beforeEach(() => {
  tmp = tempDir('okc-prodkit-');
  ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
});
afterEach(() => tmp.cleanup());

const files = samplePayload({ parts: 6, seed: 'base' });
const change = (seed: string) => [{ path: files[0].path, content: { size: 300, seed, kind: 'text' as const } }];

describe('kits from the producer', () => {
  it('applies in generation order whatever the file names say', async () => {
    const kit = await writeKit(join(tmp.dir, 'kit'), {
      key,
      mirror: [
        { files, fileName: 'zzz-oldest.tar.zst' },
        { files: change('g2'), fileName: 'mmm.tar.zst' },
        { files: change('g3'), fileName: 'aaa-newest.tar.zst' },
      ],
    });
    const r = await importBundles(ws, [kit.dir], { keys });
    expect(r.ok, r.message).toBe(true);
    expect(r.items.map((i) => i.generation)).toEqual([1, 2, 3]);
    expect((await workspaceStatus(ws)).stateDigest).toBe(kit.mirror[2].exportJson.state.digest);
  });

  it('stops before a gap and reports what is missing; the unlisted bundle is only warned about', async () => {
    const kit = await writeKit(join(tmp.dir, 'kit'), {
      key,
      mirror: [{ files }, { files: change('g2') }, { files: change('g3') }, { files: change('g4') }],
      tamper: { entries: (es) => es.filter((e) => e.generation !== 2) },
    });
    const r = await importBundles(ws, [kit.dir], { keys });
    expect(r.ok).toBe(false);
    expect(r.code).toBe('ERR_EXPORT_BASE_MISSING');
    expect(r.items.map((i) => [i.generation, i.outcome])).toEqual([[1, 'applied'], [3, 'refused'], [4, 'not-applied']]);
    expect(r.missing).toEqual([2]);
    expect(r.message).toMatch(/Missing generation\(s\): 2/);
    expect(r.warnings.join(' ')).toMatch(/not in its manifest/);
    expect((await workspaceStatus(ws)).generation).toBe(1);
  });

  it('refuses mix-and-match: right base id and generation, another base export.json', async () => {
    const kit = await writeKit(join(tmp.dir, 'kit'), { key, mirror: [{ files }] });
    expect((await importBundles(ws, [kit.dir], { keys })).ok).toBe(true);
    // Another full bundle with the same id and generation (different content), and a delta on it.
    const other = await writeMirrorBundle(join(tmp.dir, 'other-full.tar.zst'), { key, exportId: kit.mirror[0].exportId, generation: 1, files: samplePayload({ parts: 6, seed: 'other' }) });
    await writeMirrorBundle(join(tmp.dir, 'mix-delta.tar.zst'), { key, base: other, files: change('mix') });
    const before = readdirSync(ws.layout.staging).sort();
    const r = await importBundles(ws, [join(tmp.dir, 'mix-delta.tar.zst')], { keys });
    expect(r.code).toBe('ERR_EXPORT_BASE_MISSING');
    expect(r.items[0].message).toMatch(/mix-and-match/);
    expect(readdirSync(ws.layout.staging).sort()).toEqual(before);
    expect(readdirSync(ws.layout.incoming)).toEqual([]);
  });

  it('a resetBaseline delta replaces the tree without a base check; forced over non-monotonic only with a reason', async () => {
    const kit = await writeKit(join(tmp.dir, 'kit'), { key, mirror: [{ files }, { files: change('g2') }] });
    expect((await importBundles(ws, [kit.dir], { keys })).ok).toBe(true);
    const reset = await writeMirrorBundle(join(tmp.dir, 'reset.tar.zst'), {
      key,
      variant: 'delta',
      generation: 2,
      resetBaseline: true,
      base: kit.mirror[1],
      files: samplePayload({ parts: 3, seed: 'reset' }),
    });
    const refused = await importBundles(ws, [join(tmp.dir, 'reset.tar.zst')], { keys });
    expect(refused.code).toBe('ERR_IMPORT_NON_MONOTONIC');
    const forced = await importBundles(ws, [join(tmp.dir, 'reset.tar.zst')], { keys, forceReason: 'rebaseline after incident' });
    expect(forced.ok, forced.message).toBe(true);
    expect((await workspaceStatus(ws)).stateDigest).toBe(reset.exportJson.state.digest);
  });
});
