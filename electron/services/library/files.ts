/**
 * A library bundle's file list for people (issue 11: "a bundle's 100,000-file
 * manifest in the library detail"), paged from disk so neither process holds
 * the whole list as objects.
 *
 * Source: the bundle's signed file list (export.json `files`, sorted by path),
 * taken from the library's own copy re-verified with the engine's verifier
 * (signatures, every file's digest), so what is shown is what was verified.
 * It is built once per bundle (a job) into
 * `library-index/<bundle sha256>/`:
 *   files.txt   one line per file: `<sha256> <size> <path>\n` (state.txt's format),
 *   files.off   little-endian Float64 byte offsets of each line (count + 1),
 *   index.json  what was verified, when, and the count; written last (the commit mark).
 * A page is one positional read of the offsets and one of the lines. A filter
 * (path substring, case-insensitive) is one streaming pass over files.txt
 * that keeps only the matching line numbers (a Uint32Array), cached for the
 * few most recent filters.
 */
import { closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { OpsError, type ErrorCode } from '../../../shared/errors';
import { removeTree } from '../safe-fs';
import type { Workspace } from '../workspace/index';

export const FILE_INDEX_VERSION = 1;

export interface FileIndexMeta {
  version: number;
  /** SHA-256 of the library copy the list was read from (its library key). */
  bundleSha256: string;
  name: string;
  kind: string;
  exportId: string;
  generation: number;
  /** Files in the bundle's signed list. */
  count: number;
  totalBytes: number;
  /** When the library copy was verified and the list written. */
  verifiedAt: string;
  /** Fingerprints of the keys whose signatures verified. */
  signedBy: string[];
}

export interface FileIndexRow {
  path: string;
  size: number;
  sha256: string;
}

export interface FileIndexPage {
  meta: FileIndexMeta;
  /** Rows matching the filter (all rows without one). */
  total: number;
  offset: number;
  rows: FileIndexRow[];
}

/** The file entries of a signed list (an array or the verifier's compact FileList): only `length` and iteration are used. */
export interface FileEntries extends Iterable<{ path: string; size: number; sha256: string }> {
  readonly length: number;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** library-index/ in the workspace (derived data: rebuilt from the library when missing). */
export function fileIndexRoot(ws: Workspace): string {
  return join(ws.dir, 'library-index');
}

export function fileIndexDir(ws: Workspace, bundleSha256: string): string {
  if (!HEX64.test(bundleSha256)) throw new OpsError('ERR_USAGE', `"${bundleSha256.slice(0, 80)}" is not a bundle's SHA-256 (64 lowercase hex digits).`);
  return join(fileIndexRoot(ws), bundleSha256);
}

function refuseLink(path: string): void {
  try {
    if (lstatSync(path).isSymbolicLink()) throw new OpsError('ERR_WORKSPACE_INVALID', `${path} is a symbolic link; the workspace's own folders must be real folders. Remove the link.`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** The index's description, or null when no complete index exists for this bundle. */
export function readFileIndexMeta(ws: Workspace, bundleSha256: string): FileIndexMeta | null {
  const dir = fileIndexDir(ws, bundleSha256);
  refuseLink(fileIndexRoot(ws));
  refuseLink(dir);
  const file = join(dir, 'index.json');
  if (!existsSync(file)) return null;
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as FileIndexMeta;
    return m.version === FILE_INDEX_VERSION && m.bundleSha256 === bundleSha256 && Number.isInteger(m.count) ? m : null;
  } catch {
    return null;
  }
}

/** Removes a bundle's index (retention pruned the bundle; the list is derived data). */
export function removeFileIndex(ws: Workspace, bundleSha256: string): void {
  refuseLink(fileIndexRoot(ws));
  removeTree(fileIndexDir(ws, bundleSha256));
}

/**
 * Writes the index of a verified bundle's file list (in a temp folder renamed
 * into place, index.json last): an interrupted build leaves no index, and the
 * next request builds it again.
 */
export function writeFileIndex(ws: Workspace, files: FileEntries, meta: Omit<FileIndexMeta, 'version' | 'count' | 'totalBytes'>): FileIndexMeta {
  const root = fileIndexRoot(ws);
  refuseLink(root);
  mkdirSync(root, { recursive: true });
  const dir = fileIndexDir(ws, meta.bundleSha256);
  const tmp = join(root, `.tmp-${meta.bundleSha256}-${process.pid}-${Date.now()}`);
  mkdirSync(tmp);
  try {
    const count = files.length;
    const offsets = new Float64Array(count + 1);
    const fd = openSync(join(tmp, 'files.txt'), 'w');
    let pos = 0;
    let totalBytes = 0;
    try {
      const chunk = Buffer.allocUnsafe(1 << 20);
      let used = 0;
      const flush = () => {
        if (used > 0) writeSync(fd, chunk, 0, used);
        used = 0;
      };
      let i = 0;
      for (const f of files) {
        if (i === count) throw new OpsError('ERR_INTERNAL', 'The signed file list holds more entries than its length.');
        const line = `${f.sha256} ${f.size} ${f.path}\n`;
        const n = Buffer.byteLength(line);
        offsets[i] = pos;
        pos += n;
        totalBytes += f.size;
        if (used + n > chunk.length) flush();
        if (n > chunk.length) writeSync(fd, line);
        else used += chunk.write(line, used);
        i++;
      }
      if (i !== count) throw new OpsError('ERR_INTERNAL', `The signed file list has ${i} entries, not the ${count} it declares.`);
      offsets[count] = pos;
      flush();
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    writeWhole(join(tmp, 'files.off'), Buffer.from(offsets.buffer, offsets.byteOffset, offsets.byteLength));
    const full: FileIndexMeta = { version: FILE_INDEX_VERSION, ...meta, count, totalBytes };
    writeWhole(join(tmp, 'index.json'), Buffer.from(`${JSON.stringify(full, null, 2)}\n`));
    removeTree(dir);
    renameSync(tmp, dir);
    return full;
  } catch (e) {
    removeTree(tmp);
    throw e;
  }
}

function writeWhole(file: string, bytes: Buffer): void {
  const fd = openSync(file, 'w');
  try {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function readAt(fd: number, length: number, position: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, b, done, length - done, position + done);
    if (n === 0) throw new OpsError('ERR_WORKSPACE_INVALID', 'The bundle file index ends early; it is rebuilt from the library on the next request.', { details: { cause: 'truncated index' } });
    done += n;
  }
  return b;
}

function parseLine(line: string): FileIndexRow {
  const a = line.indexOf(' ');
  const b = line.indexOf(' ', a + 1);
  return { sha256: line.slice(0, a), size: Number(line.slice(a + 1, b)), path: line.slice(b + 1) };
}

/** The matching line numbers of the most recent filters (per bundle and filter text). */
const matchCache = new Map<string, Uint32Array>();
const MATCH_CACHE_SIZE = 4;

/** Line numbers whose path contains `needle` (case-insensitive), in list order: one streaming pass over files.txt. */
function matchingLines(dir: string, meta: FileIndexMeta, needle: string): Uint32Array {
  const key = `${dir}\0${meta.verifiedAt}\0${needle}`;
  const hit = matchCache.get(key);
  if (hit) {
    matchCache.delete(key);
    matchCache.set(key, hit);
    return hit;
  }
  let out = new Uint32Array(1024);
  let n = 0;
  const fd = openSync(join(dir, 'files.txt'), 'r');
  try {
    const buf = Buffer.allocUnsafe(4 << 20);
    let carry = '';
    let line = 0;
    let pos = 0;
    for (;;) {
      const got = readSync(fd, buf, 0, buf.length, pos);
      if (got === 0) break;
      pos += got;
      const text = carry + buf.toString('utf8', 0, got);
      let start = 0;
      for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
        // The path starts after "<64 hex> <size> ".
        const pathStart = text.indexOf(' ', start + 65) + 1;
        if (text.slice(pathStart, nl).toLowerCase().includes(needle)) {
          if (n === out.length) {
            const bigger = new Uint32Array(out.length * 2);
            bigger.set(out);
            out = bigger;
          }
          out[n++] = line;
        }
        line++;
        start = nl + 1;
      }
      carry = text.slice(start);
    }
  } finally {
    closeSync(fd);
  }
  const result = out.slice(0, n);
  matchCache.set(key, result);
  while (matchCache.size > MATCH_CACHE_SIZE) matchCache.delete(matchCache.keys().next().value!);
  return result;
}

/** Rows [from, to) of the list, read with one read of their offsets and one of their lines. */
function readLines(fd: number, offFd: number, from: number, to: number): FileIndexRow[] {
  if (to <= from) return [];
  const offBytes = readAt(offFd, (to - from + 1) * 8, from * 8);
  const offs = new Float64Array(offBytes.buffer, offBytes.byteOffset, to - from + 1);
  const text = readAt(fd, offs[to - from] - offs[0], offs[0]).toString('utf8');
  const lines = text.split('\n');
  lines.pop();
  return lines.map(parseLine);
}

/**
 * One page of a bundle's file list at `offset` (list order: by path), with an
 * optional filter (a substring of the path, any case). Null when no index was
 * built for the bundle yet.
 */
export function pageFileIndex(ws: Workspace, bundleSha256: string, q: { offset: number; limit: number; filter?: string }): FileIndexPage | null {
  const meta = readFileIndexMeta(ws, bundleSha256);
  if (!meta) return null;
  const dir = fileIndexDir(ws, bundleSha256);
  const limit = Math.max(1, Math.min(1000, Math.floor(q.limit)));
  const offset = Math.max(0, Math.floor(q.offset));
  const needle = (q.filter ?? '').trim().toLowerCase();
  const fd = openSync(join(dir, 'files.txt'), 'r');
  const offFd = openSync(join(dir, 'files.off'), 'r');
  try {
    if (!needle) {
      const end = Math.min(meta.count, offset + limit);
      return { meta, total: meta.count, offset, rows: readLines(fd, offFd, Math.min(offset, end), end) };
    }
    const matches = matchingLines(dir, meta, needle);
    const rows: FileIndexRow[] = [];
    const end = Math.min(matches.length, offset + limit);
    // Runs of consecutive line numbers are read together.
    for (let i = offset; i < end; ) {
      let j = i + 1;
      while (j < end && matches[j] === matches[j - 1] + 1) j++;
      rows.push(...readLines(fd, offFd, matches[i], matches[j - 1] + 1));
      i = j;
    }
    return { meta, total: matches.length, offset, rows };
  } finally {
    closeSync(fd);
    closeSync(offFd);
  }
}

/** What building an index needs from the engine: the library row and the verifier with the workspace's trust and limits. */
export interface FileIndexSources {
  library(sha256: string): { file: string; name: string; kind: string; pruned: boolean } | null;
  verify(file: string): Promise<{ verdict: { ok: boolean; code: ErrorCode | null; message: string; action: string | null; keys?: { signedBy: string[] } }; rawSha256: string; exportJson?: { exportId: string; generation: number; files: FileEntries } }>;
  now?: () => Date;
}

/**
 * Re-verifies the library copy of a mirror bundle and writes the index of its
 * signed file list. Refuses (with the verifier's code) a copy that no longer
 * verifies or no longer has the digest it is stored under; nothing is written then.
 */
export async function buildFileIndex(ws: Workspace, bundleSha256: string, src: FileIndexSources): Promise<FileIndexMeta> {
  fileIndexDir(ws, bundleSha256);
  const row = src.library(bundleSha256);
  if (!row || row.pruned) throw new OpsError('ERR_INPUT_NOT_FOUND', `The library holds no bundle with SHA-256 ${bundleSha256}.`, { action: 'Reload the library page: the bundle may have been pruned by retention.' });
  if (row.kind !== 'mirror-full' && row.kind !== 'mirror-delta') {
    throw new OpsError('ERR_USAGE', `${row.name} is a ${row.kind} bundle: only mirror bundles carry a signed file list.`);
  }
  const file = join(ws.dir, row.file);
  if (!existsSync(file)) throw new OpsError('ERR_INPUT_NOT_FOUND', `The library copy ${row.file} is missing.`, { path: row.file, action: 'Run the restore preview (runbook 7.2): it names what to bring back from the media.' });
  const r = await src.verify(file);
  if (!r.verdict.ok || !r.exportJson) {
    throw new OpsError(r.verdict.code ?? 'ERR_BUNDLE_CORRUPT', `The library copy of ${row.name} does not verify: ${r.verdict.message}`, { path: row.file, ...(r.verdict.action ? { action: r.verdict.action } : {}) });
  }
  if (r.rawSha256 && r.rawSha256 !== bundleSha256) {
    throw new OpsError('ERR_VERIFY_DIGEST', `The library copy ${row.name} has SHA-256 ${r.rawSha256}, not the ${bundleSha256} it is stored under.`, { path: row.file, action: 'Run the restore preview (runbook 7.2): it names what to bring back from the media.' });
  }
  return writeFileIndex(ws, r.exportJson.files, {
    bundleSha256,
    name: row.name,
    kind: row.kind,
    exportId: r.exportJson.exportId,
    generation: r.exportJson.generation,
    verifiedAt: (src.now?.() ?? new Date()).toISOString(),
    signedBy: r.verdict.keys?.signedBy ?? [],
  });
}
