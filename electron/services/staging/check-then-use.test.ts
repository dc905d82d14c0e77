/**
 * Check-then-use: the bytes applied are the bytes that were verified. A bundle
 * that changes on the media after its verification must not get in.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KITS, tempDir } from '../testing/fixtures';
import { loadPublicKey } from '../verify/keys';
import { openWorkspace, type Workspace } from '../workspace/index';
import { importBundles, verifyStagingTree, workspaceStatus } from './index';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** Replaces a file on the "media" with other bytes (a new file renamed over it, as a re-copy would). */
function replaceOnMedia(file: string, bytes: Buffer): void {
  writeFileSync(`${file}.new`, bytes);
  renameSync(`${file}.new`, file);
}
const key = () => [loadPublicKey(readFileSync(join(KITS, 'ecdsa-p256.trusted.pub'), 'utf8'), 'cli')];

let tmp: { dir: string; cleanup: () => void };
let ws: Workspace;
beforeEach(() => {
  tmp = tempDir('okc-ctu-');
  ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
});
afterEach(() => tmp.cleanup());

describe('check-then-use', () => {
  it('a mirror bundle replaced on the media after verification: the verified bytes are applied and kept in the library', async () => {
    const media = join(tmp.dir, 'media');
    mkdirSync(media);
    const bundle = join(media, 'mirror-20251029-full.tar.zst');
    copyFileSync(join(KITS, 'ecdsa-p256', 'mirror', 'mirror-20251029-full.tar.zst'), bundle);
    const original = readFileSync(bundle);
    const tampered = readFileSync(join(KITS, 'bad', 'digest-mismatch', 'mirror', 'mirror-20251029-full.tar.zst'));
    expect(sha(tampered)).not.toBe(sha(original));

    let swapped = false;
    await importBundles(ws, [bundle], {
      keys: key(),
      hooks: {
        // The first apply step runs after verification finished: swap the media file now.
        checkpoint: () => {
          if (!swapped) {
            replaceOnMedia(bundle, tampered);
            swapped = true;
          }
        },
      },
    });
    expect(swapped).toBe(true);
    const status = await workspaceStatus(ws, { deep: false });
    expect(status.generation).toBe(1);
    const lib = status.library.find((l) => l.kind === 'mirror-full')!;
    expect(lib.sha256).toBe(sha(original));
    expect(sha(readFileSync(join(ws.dir, lib.file)))).toBe(sha(original));
    const tree = await verifyStagingTree(ws);
    expect(tree.ok).toBe(true);
  });

  it('a Trivy bundle: the library copy is the verified read, not a second read of the media', async () => {
    const media = join(tmp.dir, 'kit');
    mkdirSync(join(media, 'signatures'), { recursive: true });
    mkdirSync(join(media, 'trivy'), { recursive: true });
    const file = join(media, 'trivy', 'db.bundle');
    copyFileSync(join(KITS, 'ecdsa-p256', 'trivy', 'db.bundle'), file);
    copyFileSync(join(KITS, 'ecdsa-p256', 'signatures', 'trivy-db.sig'), join(media, 'signatures', 'trivy-db.sig'));
    const original = readFileSync(file);
    let swapped = false;
    await importBundles(ws, [file], {
      keys: key(),
      // As soon as the verifier has read the bytes, the media file changes.
      onProgress: (p) => {
        if (!swapped && p.bytesTotal !== null && p.bytesDone >= p.bytesTotal) {
          replaceOnMedia(file, Buffer.concat([original, Buffer.from('appended after verification')]));
          swapped = true;
        }
      },
    });
    expect(swapped).toBe(true);
    const lib = (await workspaceStatus(ws, { deep: false })).library.find((l) => l.kind === 'trivy-db')!;
    expect(lib.sha256).toBe(sha(original));
    expect(sha(readFileSync(join(ws.dir, lib.file)))).toBe(sha(original));
  });
});
