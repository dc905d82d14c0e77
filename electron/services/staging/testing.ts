/**
 * Test support: stands in for the verifier's extraction, to exercise the
 * generation machinery on trees built directly (and in the fault-injection
 * driver). Writes the payload files into incoming/<job>/files exactly as the
 * verifier would, and builds a consistent export.json.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { StateEntry } from '../../../shared/state-digest';
import type { Workspace } from '../workspace/index';
import { incomingJobDir } from '../workspace/layout';
import { digestOfText, mergeState, sortEntries, stateText } from './state';
import type { PreparedBundle, StagingExport } from './types';

export interface FakeBundleSpec {
  exportId: string;
  generation: number;
  variant: 'full' | 'delta';
  tenant?: string;
  profileId?: string;
  resetBaseline?: boolean;
  createdAt?: string;
  /** For a delta: the base export (id, generation, export.json bytes) and its state. */
  base?: { exportId: string; generation: number; exportJsonBytes: Buffer; state: StateEntry[] };
  files: Record<string, Buffer | string>;
  removed?: string[];
  /** Overrides the computed state digest (to make an inconsistent bundle). */
  stateDigest?: string;
}

export interface FakeBundle {
  prepared: PreparedBundle & { exportJsonBytes: Buffer };
  state: StateEntry[];
  exp: StagingExport;
  /** (Re)writes the incoming files if they are not there (recovery on open removes stale incoming folders). */
  materialize(): void;
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Computes export.json for the spec (no disk writes). */
export function fakeExport(spec: FakeBundleSpec): { exp: StagingExport; bytes: Buffer; state: StateEntry[] } {
  const files = sortEntries(Object.entries(spec.files).map(([path, c]) => {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(c);
    return { path, sha256: sha(b), size: b.length };
  }));
  const state = spec.variant === 'full' || spec.resetBaseline ? files : mergeState(spec.base?.state ?? [], files, spec.removed ?? []);
  const text = stateText(state);
  let total = 0;
  for (const e of state) total += e.size;
  const exp: StagingExport & Record<string, unknown> = {
    schemaVersion: 1,
    exportId: spec.exportId,
    runId: createHash('sha256').update(`${spec.exportId}:${spec.generation}`).digest('hex').slice(0, 32),
    tenant: spec.tenant ?? 'acme',
    profile: { id: spec.profileId ?? 'mirror-nightly', kind: 'mirror', variant: spec.variant },
    generation: spec.generation,
    createdAt: spec.createdAt ?? '2025-11-01T02:00:00Z',
    base: spec.base ? { exportId: spec.base.exportId, generation: spec.base.generation, manifestDigest: `sha256:${sha(spec.base.exportJsonBytes)}` } : null,
    resetBaseline: !!spec.resetBaseline,
    files: files.map((f) => ({ ...f, mediaType: 'application/octet-stream' })),
    removed: [...(spec.removed ?? [])].sort(),
    state: { fileCount: state.length, totalBytes: total, digest: spec.stateDigest ?? digestOfText(text) },
    encryption: null,
  };
  return { exp, bytes: Buffer.from(JSON.stringify(exp, null, 2) + '\n'), state };
}

/** Writes the spec's files into a fresh incoming/<job>/files (fsynced) and returns the prepared bundle. */
export function fakeVerifiedBundle(ws: Workspace, spec: FakeBundleSpec, opts: { onFile?: (path: string) => void; fsync?: boolean } = {}): FakeBundle {
  const { exp, bytes, state } = fakeExport(spec);
  const job = `test-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const filesDir = join(incomingJobDir(ws.layout, job), 'files');
  const materialize = (): void => {
    if (existsSync(filesDir)) return;
    mkdirSync(filesDir, { recursive: true });
    for (const [path, c] of Object.entries(spec.files)) {
      opts.onFile?.(path);
      const f = join(filesDir, ...path.split('/'));
      mkdirSync(dirname(f), { recursive: true });
      const fd = openSync(f, 'w');
      writeSync(fd, Buffer.isBuffer(c) ? c : Buffer.from(c));
      if (opts.fsync !== false) fsyncSync(fd);
      closeSync(fd);
    }
  };
  materialize();
  return {
    exp,
    state,
    materialize,
    prepared: { path: `${spec.exportId}.tar.zst`, exp, exportJsonBytes: bytes, exportJsonSha256: sha(bytes), filesDir, job },
  };
}

/** A deterministic payload tree of `count` files spread over folders. */
export function syntheticFiles(count: number, seed: string, size = 64): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (let i = 0; i < count; i++) {
    const dir = `data/raw/part-${String(i % 17).padStart(2, '0')}/${String(i % 5)}`;
    out[`${dir}/f-${String(i).padStart(6, '0')}.jsonl.zst`] = Buffer.from(`${seed}:${i}:`.padEnd(size, 'x'));
  }
  return out;
}
