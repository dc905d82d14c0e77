/**
 * Deep verification of a staging generation: every file's sha256 and size
 * recomputed, and the state digest compared with the generation's signed
 * export.json state.digest. Each mismatch (changed, missing, extra) by path.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { OpsError } from '../../../shared/errors';
import type { StateEntry } from '../../../shared/state-digest';
import type { Check, Failure, Verdict } from '../../../shared/types';
import type { Db } from '../db/index';
import type { Workspace } from '../workspace/index';
import { generationDir, generationMetaDir, generationName } from '../workspace/layout';
import { digestOfText, parseStateText, sortEntries, stateText } from './state';
import { currentGeneration, getGeneration } from './store';
import type { GenerationRow } from './types';
import { buildVerdict, reportOf } from '../verify/verdict';

async function hashFile(file: string, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20, signal })) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}

/** Walks a payload tree; anything that is not a regular file or a folder is reported. */
async function walk(root: string): Promise<{ files: string[]; odd: string[] }> {
  const files: string[] = [];
  const odd: string[] = [];
  async function rec(rel: string): Promise<void> {
    const ents = await readdir(rel ? join(root, rel) : root, { withFileTypes: true });
    for (const d of ents) {
      const p = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) await rec(p);
      else if (d.isFile()) files.push(p);
      else odd.push(p);
    }
  }
  await rec('');
  return { files, odd };
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
  const bytes = readFileSync(exportFile);
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== row.export_json_sha256) {
    f.failures.push({ code: 'ERR_VERIFY_DIGEST', message: `The kept export.json of ${row.export_id} was altered (sha256 ${sha}, recorded ${row.export_json_sha256}).`, path: 'export.json' });
    f.checks.push({ name: 'export.json', ok: false, detail: 'altered since import' });
    return null;
  }
  try {
    const signedDigest = (JSON.parse(bytes.toString('utf8')) as { state: { digest: string } }).state.digest;
    f.checks.push({ name: 'export.json', ok: true, detail: `${row.export_id}, signed state ${signedDigest}` });
    return signedDigest;
  } catch {
    f.failures.push({ code: 'ERR_BUNDLE_CORRUPT', message: `The kept export.json of ${row.export_id} is unreadable.`, path: 'export.json' });
    return null;
  }
}

/** 1b. The kept list of expected files, which must hash to the signed state. */
function checkKeptState(f: TreeFindings, row: GenerationRow, metaDir: string, signedDigest: string | null): StateEntry[] {
  try {
    const text = readFileSync(join(metaDir, 'state.txt'), 'utf8');
    const expected = parseStateText(text);
    const d = digestOfText(text);
    const okState = signedDigest === null ? d === row.state_digest : d === signedDigest;
    f.checks.push({ name: 'state list', ok: okState, detail: okState ? `${expected.length} files` : `state list digest ${d} differs from the signed ${signedDigest ?? row.state_digest}` });
    if (!okState) f.failures.push({ code: 'ERR_VERIFY_DIGEST', message: 'The kept list of expected files was altered.', path: 'state.txt' });
    return expected;
  } catch {
    f.failures.push({ code: 'ERR_VERIFY_MISSING_FILE', message: 'The kept list of expected files is missing or unreadable.', path: 'state.txt' });
    return [];
  }
}

/** 2. The tree itself: every file hashed (a few at a time) and compared with the expected list; extra, changed and missing files. */
async function checkTreeFiles(f: TreeFindings, root: string, rootName: string, expected: StateEntry[], signal: AbortSignal | undefined): Promise<{ actual: StateEntry[]; bytes: number }> {
  const actual: StateEntry[] = [];
  let bytes = 0;
  if (!existsSync(root)) {
    f.failures.push({ code: 'ERR_VERIFY_MISSING_FILE', message: `The generation folder ${rootName} is missing.`, path: rootName });
    return { actual, bytes };
  }
  const { files, odd } = await walk(root);
  for (const p of odd) f.failures.push({ code: 'ERR_VERIFY_EXTRA_FILE', message: `Not a regular file in the staging tree: ${p}`, path: p });
  const exp = new Map(expected.map((e) => [e.path, e]));
  const seen = new Set<string>();
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < files.length) {
      const p = files[i++];
      if (signal?.aborted) throw new OpsError('ERR_CANCELLED', 'Verification cancelled.');
      const st = await lstat(join(root, p));
      const h = await hashFile(join(root, p), signal);
      bytes += h.size;
      actual.push({ path: p, sha256: h.sha256, size: h.size });
      const e = exp.get(p);
      seen.add(p);
      if (!e) f.failures.push({ code: 'ERR_VERIFY_EXTRA_FILE', message: `Extra file not in the signed state: ${p}`, path: p });
      else if (e.sha256 !== h.sha256 || e.size !== h.size || st.size !== e.size) f.failures.push({ code: 'ERR_VERIFY_DIGEST', message: `Changed: ${p} has sha256 ${h.sha256} (${h.size} bytes), the signed state says ${e.sha256} (${e.size} bytes).`, path: p });
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  for (const e of expected) if (!seen.has(e.path)) f.failures.push({ code: 'ERR_VERIFY_MISSING_FILE', message: `Missing: ${e.path}`, path: e.path });
  return { actual, bytes };
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
  const t0 = performance.now();
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
      stats: { bytes: 0, files: 0, seconds: (performance.now() - t0) / 1000 },
      okMessage: '',
      refusal: { message, action: 'Import a full bundle (mirror import <bundle> --workspace <dir>) and the deltas after it.' },
    });
  }
  const f: TreeFindings = { failures: [], checks: [] };
  const metaDir = generationMetaDir(ws.layout, row.seq);
  const signedDigest = checkKeptExport(f, row, metaDir);
  const expected = checkKeptState(f, row, metaDir, signedDigest);
  const { actual, bytes } = await checkTreeFiles(f, generationDir(ws.layout, row.seq), `staging/${generationName(row.seq)}`, expected, opts.signal);
  const tree = digestOfText(stateText(sortEntries(actual)));
  const want = signedDigest ?? row.state_digest;
  f.checks.push({ name: 'files', ok: !f.failures.some((x) => x.path && x.path !== 'export.json' && x.path !== 'state.txt'), detail: `${actual.length} files checked` });
  f.checks.push({ name: 'state digest', ok: tree === want, detail: tree === want ? want : `tree hashes to ${tree}, signed state is ${want}` });
  if (tree !== want && f.failures.length === 0) f.failures.push({ code: 'ERR_VERIFY_DIGEST', message: `The staging tree hashes to ${tree}, the signed state is ${want}.` });
  return generationVerdict(path, row, f, want, { bytes, files: actual.length, seconds: (performance.now() - t0) / 1000 });
}
