/**
 * Deep verification of a staging generation: every file's sha256 and size
 * recomputed, and the state digest compared with the generation's signed
 * export.json state.digest. Each mismatch (changed, missing, extra) by path.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants as fsc, createReadStream, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { OpsError } from '../../../shared/errors';
import type { StateEntry } from '../../../shared/state-digest';
import type { Check, Failure, Verdict } from '../../../shared/types';
import type { Db } from '../db/index';
import type { Workspace } from '../workspace/index';
import { generationDir, generationMetaDir, generationName } from '../workspace/layout';
import { comparePaths, scanStateFile, stateEntries, StateWriter } from './state';
import { readKeptExport } from './kept-export';
import { currentGeneration, getGeneration } from './store';
import type { GenerationRow } from './types';
import { buildVerdict, reportOf } from '../verify/verdict';
import { nowMs } from '../clock';

async function hashFile(file: string, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20, signal })) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}

/** Files up to this size are hashed with synchronous reads into one shared buffer (no stream per file). */
const SMALL_FILE = 8 << 20;
let shared: Buffer | null = null;

/**
 * Hashes a small regular file with plain reads (a stream per file costs
 * far more than hashing ~1 KiB); null when the file is larger than
 * SMALL_FILE (the caller streams it instead).
 */
function hashSmallFile(file: string): { sha256: string; size: number; statSize: number } | null {
  const fd = openSync(file, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  try {
    const st = fstatSync(fd);
    if (st.size > SMALL_FILE) return null;
    const buf = (shared ??= Buffer.allocUnsafe(1 << 20));
    const h = createHash('sha256');
    let size = 0;
    for (let n = readSync(fd, buf, 0, buf.length, null); n > 0; n = readSync(fd, buf, 0, buf.length, null)) {
      h.update(buf.subarray(0, n));
      size += n;
    }
    return { sha256: h.digest('hex'), size, statSize: st.size };
  } finally {
    closeSync(fd);
  }
}

/**
 * Walks a payload tree in the state's order (paths sorted bytewise: at each
 * folder, its entries sorted by name, a folder's name counting as "name/"),
 * yielding regular files; anything that is neither a regular file nor a
 * folder goes to `odd`. Memory: the listings of the folders on one path.
 */
async function* walkSorted(root: string, odd: (rel: string) => void): AsyncGenerator<string> {
  type Item = { key: string; rel: string; dir: boolean };
  const list = async (rel: string): Promise<Item[]> => {
    const items: Item[] = [];
    for (const d of await readdir(rel ? join(root, rel) : root, { withFileTypes: true })) {
      const p = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) items.push({ key: `${d.name}/`, rel: p, dir: true });
      else if (d.isFile()) items.push({ key: d.name, rel: p, dir: false });
      else odd(p);
    }
    return items.sort((a, b) => comparePaths(a.key, b.key));
  };
  const stack: { items: Item[]; i: number }[] = [{ items: await list(''), i: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.i >= top.items.length) {
      stack.pop();
      continue;
    }
    const it = top.items[top.i++];
    if (it.dir) stack.push({ items: await list(it.rel), i: 0 });
    else yield it.rel;
  }
}

export interface TreeVerifyOptions {
  /** Local sequence number of the generation to check (default: the current one). */
  seq?: number;
  signal?: AbortSignal;
  /** Input path to echo in the verdict (default: the workspace folder). */
  path?: string;
}


/** Findings of a tree verification, gathered step by step. */
interface TreeFindings {
  failures: Failure[];
  checks: Check[];
}

/** 1a. The signed export.json kept beside the generation: unaltered since import. Returns its signed state digest. */
function checkKeptExport(f: TreeFindings, row: GenerationRow, metaDir: string): string | null {
  const exportFile = join(metaDir, 'export.json');
  if (!existsSync(exportFile)) {
    f.failures.push({ code: 'ERR_VERIFY_MISSING_FILE', message: `The kept export.json of ${row.export_id} is missing.`, path: 'export.json' });
    f.checks.push({ name: 'export.json', ok: false, detail: 'missing' });
    return null;
  }
  // Read once through a fixed buffer: hashed, and its signed state digest picked out (it may be hundreds of MB).
  let kept: { sha256: string; stateDigest: string | null };
  try {
    kept = readKeptExport(exportFile);
  } catch {
    f.failures.push({ code: 'ERR_BUNDLE_CORRUPT', message: `The kept export.json of ${row.export_id} is unreadable.`, path: 'export.json' });
    return null;
  }
  const sha = kept.sha256;
  if (sha !== row.export_json_sha256) {
    f.failures.push({ code: 'ERR_VERIFY_DIGEST', message: `The kept export.json of ${row.export_id} was altered (sha256 ${sha}, recorded ${row.export_json_sha256}).`, path: 'export.json' });
    f.checks.push({ name: 'export.json', ok: false, detail: 'altered since import' });
    return null;
  }
  const signedDigest = kept.stateDigest;
  if (signedDigest === null) {
    f.failures.push({ code: 'ERR_BUNDLE_CORRUPT', message: `The kept export.json of ${row.export_id} is unreadable.`, path: 'export.json' });
    return null;
  }
  f.checks.push({ name: 'export.json', ok: true, detail: `${row.export_id}, signed state ${signedDigest}` });
  return signedDigest;
}

/** 1b. The kept list of expected files, which must hash to the signed state. Returns the file to read it from (null when unreadable). */
function checkKeptState(f: TreeFindings, row: GenerationRow, metaDir: string, signedDigest: string | null): string | null {
  const file = join(metaDir, 'state.txt');
  try {
    const { digest: d, count } = scanStateFile(file);
    const okState = signedDigest === null ? d === row.state_digest : d === signedDigest;
    f.checks.push({ name: 'state list', ok: okState, detail: okState ? `${count} files` : `state list digest ${d} differs from the signed ${signedDigest ?? row.state_digest}` });
    if (!okState) f.failures.push({ code: 'ERR_VERIFY_DIGEST', message: 'The kept list of expected files was altered.', path: 'state.txt' });
    return file;
  } catch {
    f.failures.push({ code: 'ERR_VERIFY_MISSING_FILE', message: 'The kept list of expected files is missing or unreadable.', path: 'state.txt' });
    return null;
  }
}

type Hashed = { path: string; sha256: string; size: number; statSize: number } | { path: string; error: unknown };

/**
 * 2. The tree itself, as a merge-join of the tree walked in path order with
 * the kept state.txt read as a stream: every file hashed (a few at a time,
 * taken in order) and compared; extra, changed and missing files; the tree's
 * own state digest hashed as the files pass. Nothing is held per file.
 */
async function checkTreeFiles(f: TreeFindings, root: string, rootName: string, stateFile: string | null, signal: AbortSignal | undefined): Promise<{ files: number; bytes: number; digest: string }> {
  const tree = new StateWriter();
  if (!existsSync(root)) {
    f.failures.push({ code: 'ERR_VERIFY_MISSING_FILE', message: `The generation folder ${rootName} is missing.`, path: rootName });
    return { files: 0, bytes: 0, digest: tree.digest() };
  }
  const expected = stateFile ? stateEntries(stateFile) : null;
  let e: IteratorResult<StateEntry> | undefined = expected?.next();
  const missing = (x: StateEntry): void => {
    f.failures.push({ code: 'ERR_VERIFY_MISSING_FILE', message: `Missing: ${x.path}`, path: x.path });
  };
  const take = (h: Hashed): void => {
    if ('error' in h) throw h.error;
    const p = h.path;
    tree.add(h);
    while (e && !e.done && comparePaths(e.value.path, p) < 0) {
      missing(e.value);
      e = expected!.next();
    }
    if (!e || e.done || e.value.path !== p) {
      f.failures.push({ code: 'ERR_VERIFY_EXTRA_FILE', message: `Extra file not in the signed state: ${p}`, path: p });
      return;
    }
    const x = e.value;
    e = expected!.next();
    if (x.sha256 !== h.sha256 || x.size !== h.size || h.statSize !== x.size) f.failures.push({ code: 'ERR_VERIFY_DIGEST', message: `Changed: ${p} has sha256 ${h.sha256} (${h.size} bytes), the signed state says ${x.sha256} (${x.size} bytes).`, path: p });
  };
  const hashOne = async (p: string): Promise<Hashed> => {
    try {
      const small = hashSmallFile(join(root, p));
      if (small) return { path: p, ...small };
      const st = await lstat(join(root, p));
      const h = await hashFile(join(root, p), signal);
      return { path: p, sha256: h.sha256, size: h.size, statSize: st.size };
    } catch (error) {
      return { path: p, error };
    }
  };
  const odd = (p: string): void => {
    f.failures.push({ code: 'ERR_VERIFY_EXTRA_FILE', message: `Not a regular file in the staging tree: ${p}`, path: p });
  };
  try {
    // Large files: up to four hashed at once (streams), their results taken in path order.
    const pending: Promise<Hashed>[] = [];
    let n = 0;
    for await (const p of walkSorted(root, odd)) {
      // Small files hash synchronously: let timers and signals through now and then.
      if (++n % 256 === 0) await new Promise((r) => setImmediate(r));
      if (signal?.aborted) throw new OpsError('ERR_CANCELLED', 'Verification cancelled.');
      pending.push(hashOne(p));
      if (pending.length >= 4) take(await pending.shift()!);
    }
    while (pending.length > 0) take(await pending.shift()!);
    while (e && !e.done) {
      missing(e.value);
      e = expected!.next();
    }
  } finally {
    expected?.return(undefined);
  }
  return { files: tree.count, bytes: tree.totalBytes, digest: tree.digest() };
}

/** The verdict of a tree verification (verify/verdict.buildVerdict): ok with the signed state, or the mismatches with the rollback / rebuild advice. */
function generationVerdict(path: string, row: GenerationRow, f: TreeFindings, want: string, stats: Verdict['stats']): Verdict {
  const { failures } = f;
  failures.sort((a, b) => (a.path ?? '').localeCompare(b.path ?? ''));
  return buildVerdict({
    report: reportOf(f.checks, failures),
    path,
    kind: 'workspace',
    exportId: row.export_id,
    generation: row.generation,
    stats,
    okMessage: `Staging generation ${row.generation} (${row.export_id}, staging/${generationName(row.seq)}) matches its signed state ${want}: ${stats.files} files.`,
    refusal: {
      message: `Staging generation ${row.generation} (${row.export_id}) does not match its signed state: ${failures.length} mismatch${failures.length === 1 ? '' : 'es'} (${failures.slice(0, 5).map((x) => x.path ?? x.message).join(', ')}${failures.length > 5 ? ', …' : ''}).`,
      // The bundles are not at fault here: the tree on disk changed. Copying a bundle again would not help.
      action: 'The staging tree changed on disk (damage or tampering). Roll back to a kept generation (mirror rollback --workspace <dir>; it is deep-verified before the switch) or rebuild staging from the library (mirror checklist run 7.2). Keep a copy of the damaged tree as evidence.',
      member: failures[0]?.path,
    },
  });
}

/** Deep-verifies one generation (current by default) and returns a Verdict of kind 'workspace': kept export.json → kept state list → the tree → the state digest. */
export async function verifyGeneration(ws: Workspace, db: Db, opts: TreeVerifyOptions = {}): Promise<Verdict> {
  const t0 = nowMs();
  const path = opts.path ?? ws.dir;
  const row = opts.seq !== undefined ? getGeneration(db, opts.seq) : currentGeneration(db);
  if (!row || row.status !== 'kept') {
    const message = opts.seq !== undefined ? `Generation folder staging/${generationName(opts.seq)} is not kept in this workspace.` : 'Nothing is staged in this workspace yet: import a full bundle first.';
    return buildVerdict({
      report: reportOf([], [{ code: 'ERR_INPUT_NOT_FOUND', message }]),
      path,
      kind: 'workspace',
      exportId: null,
      generation: null,
      stats: { bytes: 0, files: 0, seconds: (nowMs() - t0) / 1000 },
      okMessage: '',
      refusal: { message, action: 'Import a full bundle (mirror import <bundle> --workspace <dir>) and the deltas after it.' },
    });
  }
  const f: TreeFindings = { failures: [], checks: [] };
  const metaDir = generationMetaDir(ws.layout, row.seq);
  const signedDigest = checkKeptExport(f, row, metaDir);
  const stateFile = checkKeptState(f, row, metaDir, signedDigest);
  const { files, bytes, digest: tree } = await checkTreeFiles(f, generationDir(ws.layout, row.seq), `staging/${generationName(row.seq)}`, stateFile, opts.signal);
  const want = signedDigest ?? row.state_digest;
  f.checks.push({ name: 'files', ok: !f.failures.some((x) => x.path && x.path !== 'export.json' && x.path !== 'state.txt'), detail: `${files} files checked` });
  f.checks.push({ name: 'state digest', ok: tree === want, detail: tree === want ? want : `tree hashes to ${tree}, signed state is ${want}` });
  if (tree !== want && f.failures.length === 0) f.failures.push({ code: 'ERR_VERIFY_DIGEST', message: `The staging tree hashes to ${tree}, the signed state is ${want}.` });
  return generationVerdict(path, row, f, want, { bytes, files, seconds: (nowMs() - t0) / 1000 });
}
