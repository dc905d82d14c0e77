/**
 * The verification engine's entry point: `verifyPath` decides what the input
 * is (mirror bundle, Trivy bundle, kit folder, workspace) and verifies it.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { OpsError } from '../../../shared/errors';
import type { Verdict } from '../../../shared/types';
import { KIT_MANIFEST, verifyKit } from './kit';
import { buildVerdict, Report, verifyMirrorBundle } from './mirror';
import { trivyKindFromName, verifyTrivyBundle } from './trivy';
import type { VerifyOptions } from './types';
import { nowMs } from '../clock';

export type { VerifyOptions, WorkspaceVerifier } from './types';
export type { TrustedKey } from './keys';
export { loadPublicKey, verifyDetached, fingerprintOf } from './keys';
export { verifyMirrorBundle, type MirrorBundleResult, type MirrorVerifyOptions } from './mirror';
export { verifyKit, type KitVerdict, type PlanStep, type KitManifest } from './kit';
export { type ExportJson } from './export-schema';
export { parseExportJson } from './export-stream';
export { FileList, type FileEntry, type FileListLike } from './file-list';
export { TarGate } from './tar-gate';

export type InputKind = 'mirror' | 'trivy' | 'kit' | 'workspace' | 'unknown';

function head(file: string, n: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(n);
    return b.subarray(0, readSync(fd, b, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/** What the input is, from its name and first bytes (never from its claims). */
export function classifyInput(path: string): InputKind {
  const st = statSync(path);
  if (st.isDirectory()) {
    if (existsSync(join(path, KIT_MANIFEST))) return 'kit';
    if (existsSync(join(path, 'workspace.json'))) return 'workspace';
    return 'unknown';
  }
  const name = basename(path).toLowerCase();
  if (name.endsWith('.tar.zst') || name.endsWith('.tar.zst.age') || name.endsWith('.tzst')) return 'mirror';
  if (name.endsWith('.bundle')) return 'trivy';
  const b = head(path, 32);
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'trivy';
  if (b.length >= 4 && b.readUInt32LE(0) === 0xfd2fb528) return 'mirror';
  if (b.toString('latin1').startsWith('age-encryption.org/v1') || b.toString('latin1').startsWith('-----BEGIN AGE')) return 'mirror';
  return 'unknown';
}

function failed(path: string, code: 'ERR_INPUT_NOT_FOUND' | 'ERR_USAGE', message: string): Verdict {
  const report = new Report();
  report.fail('input', code, message);
  return buildVerdict({ report, path, kind: 'mirror-full', exportId: null, generation: null, bytes: 0, files: 0, started: nowMs(), okMessage: '' });
}

/**
 * Verifies a mirror bundle, a Trivy bundle, a kit folder or a workspace's
 * staging tree. Returns a verdict for every bad input; throws OpsError only
 * for usage problems.
 */
export async function verifyPath(path: string, opts: VerifyOptions): Promise<Verdict> {
  let kind: InputKind;
  try {
    kind = classifyInput(path);
  } catch (e) {
    return failed(path, 'ERR_INPUT_NOT_FOUND', `${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}). Check the path and that the media is mounted.`);
  }
  switch (kind) {
    case 'mirror':
      return (await verifyMirrorBundle(path, { ...opts, rawDigest: false, controlBytes: false })).verdict;
    case 'trivy': {
      const k = trivyKindFromName(path);
      return verifyTrivyBundle(path, { ...opts, ...(k ? { kind: k } : {}) });
    }
    case 'kit':
      return verifyKit(path, opts);
    case 'workspace':
      // A staging tree is checked against the workspace's own state (the engine passes verifyWorkspace).
      if (!opts.verifyWorkspace) throw new OpsError('ERR_USAGE', `${path} is a workspace: its staging tree is verified through the engine (mirror verify <workspace>), not as a bundle.`);
      return opts.verifyWorkspace(path, { signal: opts.signal });
    default:
      throw new OpsError('ERR_USAGE', `${path} is not something mirror verify knows: give a mirror bundle (*.tar.zst, *.tar.zst.age), a Trivy bundle (db.bundle, java-db.bundle), an offline kit folder (with ${KIT_MANIFEST}) or a workspace folder (with workspace.json).`);
  }
}
