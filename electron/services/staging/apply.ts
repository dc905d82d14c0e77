/**
 * Applying one verified bundle: chain rules, the new generation built beside
 * the current one (hard links for unchanged files, verified incoming files
 * moved in), state digest from known digests, fsync, journal commit, atomic
 * switch, database transaction with the audit row, pruning.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { OpsError } from '../../../shared/errors';
import { escapeUntrusted } from '../../../shared/escape';
import { bundlePathProblem, describePathProblem, isPayloadPath } from '../../../shared/paths';
import type { StateEntry } from '../../../shared/state-digest';
import { appendAudit, type AuditEntryInput } from '../audit/index';
import type { Db } from '../db/index';
import { bumpCounter, logEvent, recordMetrics, type MetricChange } from '../obs/index';
import type { Workspace } from '../workspace/index';
import { generationDir, generationMetaDir, generationName, parseGenerationName } from '../workspace/layout';
import { freeBytes, hookedFs, isNoSpace, type StagingFile, type StagingFs, type StagingHooks } from './fsops';
import { readJournal, removeJournal, writeJournal, type ApplyJournal, type GenerationInsert } from './journal';
import { discardLibraryPlacement, placeInLibrary, planLibraryPlacement, type LibraryPlacement } from './library-place';
import { comparePaths, FileFolderCheck, FolderCursor, mergeJoin, parentOf, sortedPaths, stateFile, StateWriter, type MergedEntry } from './state';
import { fileSource, sparseMerge } from './sparse-state';
import { currentGeneration, getGeneration, insertGeneration, listLibrary, markGenerationPruned, maxSeq, readState, setCurrent, setLastApply, upsertLibrary } from './store';
import { currentLinkSeq, switchLink } from './switch';
import { ChainDiffer, chainChangedPaths, finishRecycle, generationsToDrop, RecycleDiffer, recycleCandidate, recycleTree, revertRecycle, type RecycleDiff, type RecyclePlan } from './recycle';
import { moveToTrash } from './trash';
import type { ApplyResult, ApplyStats, GenerationRow, PreparedBundle, StagingExport } from './types';
import { nowMs } from '../clock';

export interface ApplyOptions {
  /** Written reason that lets a full or resetBaseline bundle go over ERR_IMPORT_NON_MONOTONIC (audited). */
  forceReason?: string;
  operator?: string;
  hooks?: StagingHooks;
  /** Added to the audit row (for example the keys that verified the bundle). */
  auditDetails?: Record<string, unknown>;
  now?: () => Date;
  /**
   * Local sequence numbers of generations that must survive this apply's
   * pruning (a restore in progress returns to the generation it started
   * from if a later bundle of its chain fails).
   */
  keepSeqs?: number[];
  /** Build a delta by recycling the tree of a generation retention drops (default true; false: always a fresh tree of hard links). */
  recycle?: boolean;
  /** Progress of the apply (bytes of the bundle's files placed) and of the switch (0 then 1 of 1). */
  onStep?: (step: 'apply' | 'switch', done: number, total: number) => void;
}

export function isFullLike(exp: StagingExport): boolean {
  return exp.profile.variant === 'full' || exp.resetBaseline === true;
}

export function chainName(tenant: string | null, profileId: string | null): string {
  return `tenant "${tenant}" / profile "${profileId}"`;
}

/**
 * The spec's application rules, in its order. Returns the generation to build
 * on (null for a full or resetBaseline bundle) and whether force was used.
 */
export function checkChain(db: Db, exp: StagingExport, forceReason: string | undefined): { forced: boolean; base: GenerationRow | null } {
  const st = readState(db);
  const cur = currentGeneration(db);
  if (st.chain_tenant !== null && (st.chain_tenant !== exp.tenant || st.chain_profile_id !== exp.profile.id)) {
    throw new OpsError(
      'ERR_EXPORT_BASE_MISSING',
      `This bundle belongs to another chain: the workspace holds ${chainName(st.chain_tenant, st.chain_profile_id)}, the bundle ${exp.exportId} is ${chainName(exp.tenant, exp.profile.id)}. A workspace holds one chain; use another workspace for this one.`,
      { details: { workspaceChain: { tenant: st.chain_tenant, profileId: st.chain_profile_id }, bundleChain: { tenant: exp.tenant, profileId: exp.profile.id } } },
    );
  }
  const fullLike = isFullLike(exp);
  let forced = false;
  if (cur && exp.generation <= cur.generation) {
    const reason = forceReason?.trim();
    if (!fullLike || !reason) {
      const hint = !fullLike && reason ? ' (--force-reason only applies to a full bundle or a resetBaseline delta)' : '';
      throw new OpsError(
        'ERR_IMPORT_NON_MONOTONIC',
        `Bundle ${exp.exportId} is generation ${exp.generation}, not newer than the current generation ${cur.generation} (${cur.export_id}): a replay or a rollback. Nothing was changed${hint}.`,
        { details: { bundleGeneration: exp.generation, currentGeneration: cur.generation, currentExportId: cur.export_id } },
      );
    }
    forced = true;
  }
  if (fullLike) return { forced, base: null };
  const b = exp.base ?? null;
  if (!cur) {
    throw new OpsError(
      'ERR_EXPORT_BASE_MISSING',
      `Delta ${exp.exportId} (generation ${exp.generation}) needs its base ${b ? `${b.exportId} (generation ${b.generation})` : '(none named)'} staged first, but nothing is staged yet. Import the full bundle and the deltas before it, in order.`,
      { details: { base: b, current: null } },
    );
  }
  const curDigest = `sha256:${cur.export_json_sha256}`;
  if (!b || b.exportId !== cur.export_id || b.manifestDigest !== curDigest || exp.generation !== cur.generation + 1) {
    let why: string;
    if (!b) why = 'it names no base';
    else if (exp.generation > cur.generation + 1 || b.exportId !== cur.export_id) why = `it applies on ${b.exportId} (generation ${b.generation}), but staging holds ${cur.export_id} (generation ${cur.generation}): generations ${cur.generation + 1}..${exp.generation - 1} are missing`;
    else if (b.manifestDigest !== curDigest) why = `its base ${b.exportId} has export.json digest ${b.manifestDigest}, but the staged ${cur.export_id} has ${curDigest} (a different export with the same id: mix-and-match)`;
    else why = `its generation ${exp.generation} does not follow the current generation ${cur.generation}`;
    throw new OpsError('ERR_EXPORT_BASE_MISSING', `Delta ${exp.exportId} cannot be applied: ${why}. Nothing was changed.`, {
      details: { base: b, current: { exportId: cur.export_id, generation: cur.generation, manifestDigest: curDigest } },
    });
  }
  return { forced, base: cur };
}

/** The state lines of a kept generation, as a stream read from its state.txt (each iteration reads the file again). */
export function generationState(ws: Workspace, seq: number): Iterable<StateEntry> {
  return stateFile(generationStateFile(ws, seq));
}

/** Where a generation's state.txt is (beside its tree, in <seq>.meta/). */
export function generationStateFile(ws: Workspace, seq: number): string {
  return join(generationMetaDir(ws.layout, seq), 'state.txt');
}

/** The next free local sequence number (never reuses one that the DB or the disk knows). */
export function nextSeq(ws: Workspace, db: Db): number {
  let m = maxSeq(db);
  for (const name of readdirSync(ws.layout.staging)) {
    const p = parseGenerationName(name);
    if (p && p.seq > m) m = p.seq;
  }
  const linked = currentLinkSeq(ws.layout);
  if (linked !== null && linked > m) m = linked;
  const j = readJournal(ws.layout);
  if (j && j.op === 'apply' && j.seq > m) m = j.seq;
  return m + 1;
}

export function noSpaceError(what: string, needed: number, free: number | null, cause?: unknown): OpsError {
  const freeText = free === null ? '' : ` (${free} bytes free now)`;
  return new OpsError(
    'ERR_NO_SPACE',
    `The workspace volume ran out of space while ${what}: the apply needs about ${needed} bytes${freeText}. The current generation is untouched; free space (for example mirror retention run) or move the workspace, then import again.`,
    { details: { neededBytes: needed, freeBytes: free }, cause },
  );
}

/** Makes the database reflect a committed apply (idempotent: recovery calls it too). */
export function finishApplyInDb(db: Db, j: ApplyJournal): boolean {
  let done = false;
  db.transaction(() => {
    const st = readState(db);
    if (getGeneration(db, j.seq) && st.current_seq === j.seq) return;
    if (!getGeneration(db, j.seq)) insertGeneration(db, j.row);
    // The recycled generation's tree is this one now: it is pruned in the same transaction.
    if (j.recycle) markGenerationPruned(db, j.recycle.fromSeq, j.startedAt);
    if (j.library) upsertLibrary(db, j.library.row);
    setCurrent(db, j.seq, j.chain);
    setLastApply(db, j.lastApply);
    for (const a of j.audits) appendAudit(db, a);
    done = true;
  })();
  return done;
}

/** Removes a not-switched new generation and its library copy (journal phase "building"); a recycled tree is put back as it was. */
export function discardApply(ws: Workspace, fs: StagingFs, j: ApplyJournal): void {
  if (j.recycle) revertRecycle(ws.layout, fs, j);
  else fs.rm(generationDir(ws.layout, j.seq));
  fs.rm(generationMetaDir(ws.layout, j.seq));
  discardLibraryPlacement(ws, fs, j.library);
  fs.rm(join(ws.layout.incoming, j.job));
  fs.fsyncDir(ws.layout.staging);
  removeJournal(fs, ws.layout);
}

/** Everything an apply will do, decided before any disk work (see planApply). */
export interface ApplyPlan {
  exp: StagingExport;
  /** The generation built on (null for a full or resetBaseline bundle: its extracted tree becomes the generation). */
  base: GenerationRow | null;
  forced: boolean;
  variant: 'full' | 'delta';
  seq: number;
  /** The base generation's state (null for a full-like bundle), read again by the build. */
  baseEntries: Iterable<StateEntry> | null;
  /** The bundle's files in path order (brought in from the verified incoming folder; the rest are hard links to the base). */
  files: Iterable<StateEntry>;
  /** The removed paths, sorted bytewise. */
  removed: string[];
  digest: string;
  fileCount: number;
  totalBytes: number;
  writtenBytes: number;
  /** Bytes the build needs on the staging volume besides the moved-in files. */
  neededBytes: number;
  journal: ApplyJournal;
  /** A delta built in the tree of a generation retention drops (recycle.ts). */
  recycle?: RecyclePlan;
  /** The new state.txt as the plan wrote it (with recycle: the build moves it into place). */
  stateText?: string;
}

/** What planApply needs, read from the workspace by gatherPlanInput. */
export interface PlanInput {
  prepared: PreparedBundle;
  base: GenerationRow | null;
  forced: boolean;
  /** The base generation's state lines, sorted (null for a full-like bundle); iterated once by the plan and once by the build. */
  baseEntries: Iterable<StateEntry> | null;
  /** exp.files is in strict path order (checkListedPaths); otherwise the plan sorts a copy. */
  filesInOrder?: boolean;
  seq: number;
  prevSeq: number | null;
  /** The generation current before this apply (named in a forced import's audit row). */
  previous: GenerationRow | null;
  library: LibraryPlacement | null;
  appliedAt: string;
  operator?: string;
  forceReason?: string;
  auditDetails?: Record<string, unknown>;
  /** The base generation's state.txt (read whole by the sparse pass of a recycling delta). */
  baseStateFile?: string;
  /** The difference between the recycled generation and the new state, fed by the plan's pass. */
  recycleDiff?: RecycleDiff | null;
  /** Receives the new state's text as the plan's pass produces it (kept by a recycling build: no second pass). */
  stateSink?: (chunk: Buffer) => void;
}

/**
 * Defence in depth (the verifier already refused these): every listed path
 * stays inside the tree. Returns whether exp.files is in strict path order
 * (the verifier refuses any other, so the plan can merge without sorting).
 */
export function checkListedPaths(exp: StagingExport): boolean {
  // Checked as export.json was parsed, with the workspace's limits (export-stream.ts): nothing to add.
  if ((exp.files as { pathsChecked?: unknown }).pathsChecked === true) return true;
  const check = (p: string): void => {
    const problem = bundlePathProblem(p);
    if (problem || !isPayloadPath(p)) {
      throw new OpsError('ERR_BUNDLE_UNSAFE_ENTRY', `Bundle ${exp.exportId} lists "${p}" (${problem ? describePathProblem(problem) : 'not a payload path'}); nothing was changed.`, { path: p });
    }
  };
  let prev: string | null = null;
  let inOrder = true;
  for (const f of exp.files) {
    check(f.path);
    if (prev !== null && comparePaths(prev, f.path) >= 0) inOrder = false;
    prev = f.path;
  }
  for (const p of exp.removed ?? []) check(p);
  return inOrder;
}

/** The bundle's files in path order: exp.files itself (in order, as verified), else a sorted copy. */
export function filesInOrder(exp: StagingExport, inOrder: boolean): Iterable<StateEntry> {
  if (inOrder) return exp.files;
  const copy: StateEntry[] = [];
  for (const f of exp.files) copy.push({ path: f.path, sha256: f.sha256, size: f.size });
  return copy.sort((a, b) => comparePaths(a.path, b.path));
}

/** Reads what the plan depends on: the chain's base state, the next sequence number, the library copy's place. */
function gatherPlanInput(ws: Workspace, db: Db, prepared: PreparedBundle, chain: { forced: boolean; base: GenerationRow | null }, opts: ApplyOptions, appliedAt: string, filesInOrder: boolean): PlanInput {
  const exp = prepared.exp;
  const { base, forced } = chain;
  const baseStateFile = base ? generationStateFile(ws, base.seq) : undefined;
  const baseEntries = baseStateFile ? stateFile(baseStateFile) : null;
  const seq = nextSeq(ws, db);
  const prevSeq = readState(db).current_seq;
  const previous = base ?? (prevSeq !== null ? getGeneration(db, prevSeq) ?? null : null);
  const lib = prepared.library;
  const library = lib
    ? planLibraryPlacement(ws, db, lib, {
        kind: exp.profile.variant === 'full' ? 'mirror-full' : 'mirror-delta',
        size: lib.size,
        export_id: exp.exportId,
        generation: exp.generation,
        reset_baseline: exp.resetBaseline ? 1 : 0,
        export_json_sha256: prepared.exportJsonSha256,
        created_at: exp.createdAt,
        imported_at: appliedAt,
      })
    : null;
  return { prepared, base, forced, baseEntries, baseStateFile, filesInOrder, seq, prevSeq, previous, library, appliedAt, operator: opts.operator, forceReason: opts.forceReason, auditDetails: opts.auditDetails };
}

/** The new state as a stream: the base merged with the bundle's files and removals (a full-like bundle: its files). */
export function newStateOf(plan: Pick<ApplyPlan, 'baseEntries' | 'files' | 'removed'>): Iterable<MergedEntry> {
  return mergeJoin(plan.baseEntries, plan.files, plan.removed);
}

/** What the plan's pass over the new state found. */
interface StatePass {
  digest: string;
  fileCount: number;
  totalBytes: number;
  textBytes: number;
  writtenBytes: number;
  /** Folders the build may create (the whole tree's for a line-by-line pass, the roots included). */
  dirCount: number;
  clash: [string, string] | null;
  /** Made by the sparse pass (which visits only the delta's and the chain's paths). */
  sparse?: boolean;
}

/**
 * One pass over every line of the new state (a merge-join, nothing held per
 * file): the file/folder check, the digest, counts and folders. Stops at the
 * first clash.
 */
function fullPass(input: PlanInput, files: Iterable<StateEntry>, removed: string[], differ: RecycleDiff | null): StatePass {
  const text = new StateWriter(input.stateSink ?? null);
  const tree = new FileFolderCheck();
  const folders = new FolderCursor();
  let writtenBytes = 0;
  for (const e of newStateOf({ baseEntries: input.baseEntries, files, removed })) {
    differ?.add(e);
    const clash = tree.add(e.path);
    if (clash) return { digest: '', fileCount: 0, totalBytes: 0, textBytes: 0, writtenBytes, dirCount: 0, clash };
    text.add(e);
    folders.enter(parentOf(e.path));
    if (e.changed) writtenBytes += e.size;
  }
  const digest = text.digest();
  return { digest, fileCount: text.count, totalBytes: text.totalBytes, textBytes: text.textBytes, writtenBytes, dirCount: folders.count, clash: null };
}

/**
 * The same result for a recycling delta, visiting only the delta's paths
 * and the chain's (sparse-state.ts), through a window whatever the base's
 * size: null when the base state.txt cannot be opened or does not end a
 * line (the line-by-line pass then decides).
 */
function sparsePass(input: PlanInput, files: Iterable<StateEntry>, removed: readonly string[], differ: ChainDiffer): StatePass | null {
  const { base, baseStateFile } = input;
  if (!base || !baseStateFile || !input.filesInOrder) return null;
  let fd: number;
  try {
    fd = openSync(baseStateFile, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      if (readSync(fd, last, 0, 1, size - 1) !== 1 || last[0] !== 0x0a) return null;
    }
    const list: StateEntry[] = [];
    for (const f of files) list.push({ path: f.path, sha256: f.sha256, size: f.size });
    const r = sparseMerge({ base: fileSource(fd, size), baseCount: base.file_count, baseTotal: base.total_bytes, files: list, removed, keys: differ.keys, onEntry: (e) => differ.add(e), sink: input.stateSink ?? null });
    return { ...r, dirCount: r.newDirs + 1, sparse: true };
  } finally {
    closeSync(fd);
  }
}

/**
 * The plan (pure): the new state from the base and the bundle's changes, the
 * checks that it is a tree and matches the signed state, and the journal
 * (generation row, library row, audit rows) the commit will apply. Throws
 * ERR_BUNDLE_UNSAFE_ENTRY or ERR_VERIFY_DIGEST with nothing changed.
 */
export function planApply(input: PlanInput): ApplyPlan {
  const { prepared, base, forced, seq, prevSeq, appliedAt } = input;
  const exp = prepared.exp;
  const files = filesInOrder(exp, input.filesInOrder ?? false);
  const removed = input.baseEntries ? sortedPaths(exp.removed) : [];
  const baseEntries = input.baseEntries;
  const differ = baseEntries ? input.recycleDiff ?? null : null;
  const pass = (differ instanceof ChainDiffer ? sparsePass(input, files, removed, differ) : null) ?? fullPass(input, files, removed, differ);
  if (pass.clash) {
    // The resulting tree has no path that is both a file and a folder (spec conventions): a delta
    // adding "data/x" over a base holding "data/x/y" (not removed) is refused before any disk work.
    throw new OpsError('ERR_BUNDLE_UNSAFE_ENTRY', `Applying ${exp.exportId} would make "${escapeUntrusted(pass.clash[0])}" both a file and a folder (of "${escapeUntrusted(pass.clash[1])}"); nothing was changed.`, { path: pass.clash[0] });
  }
  const { digest, fileCount, totalBytes, writtenBytes } = pass;
  if (digest !== exp.state.digest || fileCount !== exp.state.fileCount || totalBytes !== exp.state.totalBytes) {
    throw new OpsError(
      'ERR_VERIFY_DIGEST',
      `Applying ${exp.exportId} would give a staging tree with digest ${digest} (${fileCount} files, ${totalBytes} bytes), but the bundle's signed state is ${exp.state.digest} (${exp.state.fileCount} files, ${exp.state.totalBytes} bytes). The new generation was discarded; the current generation is unchanged.`,
      { details: { computed: digest, expected: exp.state.digest } },
    );
  }
  const neededBytes = pass.textBytes + exportJsonSize(prepared) + (pass.dirCount + 4) * 4096 + 65536;
  const variant = exp.profile.variant === 'full' ? 'full' : 'delta';
  const row: GenerationInsert = {
    seq,
    export_id: exp.exportId,
    generation: exp.generation,
    variant,
    reset_baseline: exp.resetBaseline ? 1 : 0,
    tenant: exp.tenant,
    profile_id: exp.profile.id,
    run_id: exp.runId ?? null,
    created_at: exp.createdAt,
    export_json_sha256: prepared.exportJsonSha256,
    state_digest: digest,
    file_count: fileCount,
    total_bytes: totalBytes,
    base_seq: base ? base.seq : null,
    library_sha256: prepared.library?.sha256 ?? null,
    applied_at: appliedAt,
    // What the build adds to the disk (ledgerBytes): a tree of its own, or the bundle's
    // files beside hard links to the base's; and the .meta folder (state.txt and export.json).
    new_bytes: base ? writtenBytes : totalBytes,
    meta_bytes: pass.textBytes + exportJsonSize(prepared),
  };
  const journal: ApplyJournal = {
    op: 'apply',
    phase: 'building',
    job: prepared.job,
    seq,
    prevSeq,
    startedAt: appliedAt,
    row,
    chain: { tenant: exp.tenant, profileId: exp.profile.id },
    library: input.library,
    audits: applyAudits(input, variant, digest),
    lastApply: { ok: true, at: appliedAt, path: prepared.path, exportId: exp.exportId, generation: exp.generation, seq, code: null },
  };
  const recycle = differ?.finish() ?? undefined;
  // Too large a difference to recycle (more than the tree's files): the build makes a fresh tree of
  // links, and every folder of it, which the sparse pass did not count. Plan line by line.
  if (pass.sparse && !recycle) return planApply({ ...input, recycleDiff: null, stateSink: undefined });
  if (recycle) journal.recycle = { fromSeq: recycle.from.seq };
  return { exp, base, forced, variant, seq, baseEntries, files, removed, digest, fileCount, totalBytes, writtenBytes, neededBytes, journal, recycle };
}

/** The audit rows a committed apply writes (with the database change, in one transaction). */
function applyAudits(input: PlanInput, variant: 'full' | 'delta', digest: string): AuditEntryInput[] {
  const { prepared, previous } = input;
  const exp = prepared.exp;
  const audits: AuditEntryInput[] = [];
  if (input.forced) {
    audits.push({
      action: 'mirror.import.forced',
      subject: exp.exportId,
      operator: input.operator,
      details: { reason: input.forceReason!.trim(), generation: exp.generation, currentGeneration: previous?.generation ?? null, currentExportId: previous?.export_id ?? null },
    });
  }
  audits.push({
    action: variant === 'full' ? 'mirror.bundle.imported' : 'mirror.delta.applied',
    subject: exp.exportId,
    operator: input.operator,
    details: {
      path: prepared.path,
      generation: exp.generation,
      seq: input.seq,
      previousSeq: input.prevSeq,
      stateDigest: digest,
      exportJsonSha256: prepared.exportJsonSha256,
      bundleSha256: prepared.library?.sha256 ?? null,
      resetBaseline: !!exp.resetBaseline,
      ...(input.auditDetails ?? {}),
    },
  });
  return audits;
}

/** Disk operations of one apply: the hooked fs, its checkpoints and the timings. */
interface ApplyCtx {
  ws: Workspace;
  fs: StagingFs;
  cp: (step: string) => void;
  stats: ApplyStats;
  /** Progress (ApplyOptions.onStep). */
  step: (step: 'apply' | 'switch', done: number, total: number) => void;
  /** The plan's state text still to be fsynced: started by the recycled build once it is in place, waited for before the build ends. */
  stateSync?: 'due' | { wait(): void };
}

/**
 * The new state.txt, written as the build walks the new state: hashed as it
 * goes and checked against the plan's digest at the end (the base cannot
 * change under the write lock; a difference means a broken disk).
 */
class StateFileWriter {
  private readonly file: StagingFile;
  readonly text: StateWriter;

  constructor(fs: StagingFs, path: string) {
    this.file = fs.createFile(path);
    this.text = new StateWriter((chunk) => this.file.write(chunk));
  }

  add(e: StateEntry): void {
    this.text.add(e);
  }

  end(exp: StagingExport, plan: ApplyPlan): void {
    const digest = this.text.digest();
    if (digest !== plan.digest || this.text.count !== plan.fileCount) {
      throw new OpsError('ERR_VERIFY_DIGEST', `Applying ${exp.exportId}: the state written (${digest}, ${this.text.count} files) differs from the state planned (${plan.digest}, ${plan.fileCount} files). The new generation was discarded; the current generation is unchanged.`, {
        details: { computed: digest, expected: plan.digest },
      });
    }
    this.file.end();
  }

  close(): void {
    this.file.close();
  }
}

/** Fsyncs each folder of a generation once its subtree is finished (sorted order: it never comes back). */
function fsyncOnLeave(fs: StagingFs, genDir: string): (rel: string) => void {
  return (rel) => fs.fsyncDir(rel === '' ? genDir : `${genDir}/${rel}`);
}

/** Where the verified file at `path` of a bundle is: a spare file the extraction wrote it into, or the incoming folder. */
function incomingFile(prepared: PreparedBundle, path: string): string {
  return prepared.placed?.get(path) ?? `${prepared.filesDir}/${path}`;
}

/**
 * A full (or resetBaseline) bundle's verified extraction tree holds exactly
 * the listed files (the verifier refused missing and extra ones), so it
 * becomes the generation in one rename. Its state.txt is written from the
 * file list, and its folders are fsynced as the list passes them.
 */
function buildFromTree(ctx: ApplyCtx, prepared: PreparedBundle, plan: ApplyPlan): FolderCursor {
  const { fs, cp, ws } = ctx;
  const genDir = generationDir(ws.layout, plan.seq);
  const t = nowMs();
  // The extraction writes only a delta's files into spare files (never a full-like bundle's); should
  // one be there, it joins the tree before the tree moves.
  for (const [path, from] of prepared.placed ?? []) {
    mkdirSync(dirname(`${prepared.filesDir}/${path}`), { recursive: true, mode: 0o755 });
    fs.rename(from, `${prepared.filesDir}/${path}`);
  }
  cp('build:move-tree');
  fs.rename(prepared.filesDir, genDir);
  cp('build:chmod');
  fs.chmod(genDir, 0o755);
  cp('build:mkdir');
  fs.mkdir(generationMetaDir(ws.layout, plan.seq));
  const folders = new FolderCursor(undefined, fsyncOnLeave(fs, genDir));
  const state = new StateFileWriter(fs, generationStateFile(ws, plan.seq));
  try {
    for (const e of newStateOf(plan)) {
      folders.enter(parentOf(e.path));
      state.add(e);
    }
    state.end(plan.exp, plan);
  } finally {
    state.close();
  }
  ctx.stats.writtenFiles = plan.fileCount;
  ctx.stats.writeSeconds = (nowMs() - t) / 1000;
  return folders;
}

/**
 * A delta: the new tree beside the base, walked in path order as a
 * merge-join of the base's state.txt with the bundle's files and removals:
 * changed files moved in from the incoming folder, the rest hard-linked;
 * each folder made once (a cursor, not a set of paths) and fsynced when its
 * subtree is done; state.txt written as the walk goes.
 */
function buildByLinks(ctx: ApplyCtx, prepared: PreparedBundle, plan: ApplyPlan): FolderCursor {
  const { fs, cp, ws, stats } = ctx;
  const genDir = generationDir(ws.layout, plan.seq);
  const baseDir = generationDir(ws.layout, plan.base!.seq);
  cp('build:mkdir');
  fs.mkdir(genDir);
  fs.mkdir(generationMetaDir(ws.layout, plan.seq));
  const folders = new FolderCursor((rel) => {
    cp('build:dir');
    fs.mkdir(`${genDir}/${rel}`);
  }, fsyncOnLeave(fs, genDir));
  const state = new StateFileWriter(fs, generationStateFile(ws, plan.seq));
  let linkMs = 0;
  let moveMs = 0;
  let placed = 0;
  try {
    for (const e of newStateOf(plan)) {
      const t = nowMs();
      folders.enter(parentOf(e.path));
      if (e.changed) {
        cp('build:move');
        fs.rename(incomingFile(prepared, e.path), `${genDir}/${e.path}`);
        stats.writtenFiles++;
        placed += e.size;
        ctx.step('apply', placed, plan.writtenBytes);
        moveMs += nowMs() - t;
      } else {
        cp('build:link');
        fs.link(`${baseDir}/${e.path}`, `${genDir}/${e.path}`);
        stats.linkedFiles++;
        linkMs += nowMs() - t;
      }
      state.add(e);
    }
    state.end(plan.exp, plan);
  } finally {
    state.close();
  }
  stats.linkSeconds = linkMs / 1000;
  stats.writeSeconds = moveMs / 1000;
  return folders;
}

/**
 * A delta in the tree of a generation retention drops (recycle.ts): the new
 * state.txt (written and fsynced by the plan's pass) moved into place, then only the paths that differ
 * between that generation and the new state are moved out or placed. The
 * folders it touched are fsynced there (no cursor over the whole tree).
 */
function buildByRecycling(ctx: ApplyCtx, prepared: PreparedBundle, plan: ApplyPlan): null {
  const { fs, cp, ws, stats } = ctx;
  const rp = plan.recycle!;
  const t = nowMs();
  cp('build:mkdir');
  fs.mkdir(generationMetaDir(ws.layout, plan.seq));
  fs.rename(plan.stateText!, generationStateFile(ws, plan.seq));
  // The state text's fsync (when due) starts once the undo list and the claim are durable: started
  // earlier, their few fsyncs would queue behind its 10 MB; the moves that follow take longer than it.
  const afterClaim = (): void => {
    if (ctx.stateSync === 'due') ctx.stateSync = fs.fsyncStart!(generationStateFile(ws, plan.seq));
  };
  const counts = recycleTree(ws, fs, cp, plan.seq, rp, { incoming: (path) => incomingFile(prepared, path), baseDir: generationDir(ws.layout, plan.base!.seq), afterClaim }, (placed) => ctx.step('apply', placed, plan.writtenBytes));
  stats.linkedFiles = counts.linked;
  stats.writtenFiles = counts.placedFromBundle;
  stats.recycled = { fromSeq: rp.from.seq, movedOut: counts.moved, placed: counts.linked + counts.placedFromBundle, touchedDirs: counts.touchedDirs };
  stats.writeSeconds = (nowMs() - t) / 1000;
  return null;
}

/** Whether generation `seq` is an ancestor of `g` through delta builds only (the base_seq chain, no full or resetBaseline between). */
export function isDeltaAncestor(db: Db, g: GenerationRow, seq: number): boolean {
  let cur: GenerationRow | undefined = g;
  for (let hops = 0; cur && cur.base_seq !== null && hops < 10_000; hops++) {
    if (cur.base_seq === seq) return true;
    cur = getGeneration(db, cur.base_seq);
  }
  return false;
}

/** Size of the bundle's export.json (in memory or in its spool file). */
export function exportJsonSize(prepared: PreparedBundle): number {
  if (prepared.exportJsonBytes) return prepared.exportJsonBytes.length;
  if (prepared.exportJsonFile) return statSync(prepared.exportJsonFile).size;
  throw new Error(`the prepared bundle ${prepared.path} carries no export.json`);
}

/** Keeps export.json beside the generation: its bytes, or a copy of its spool file through one fixed buffer (fsynced either way). */
function writeExportJson(fs: StagingFs, prepared: PreparedBundle, dest: string): void {
  if (prepared.exportJsonBytes) {
    fs.writeFile(dest, prepared.exportJsonBytes);
    return;
  }
  const src = openSync(prepared.exportJsonFile!, 'r');
  const out = fs.createFile(dest);
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n = readSync(src, buf, 0, buf.length, null); n > 0; n = readSync(src, buf, 0, buf.length, null)) out.write(buf.subarray(0, n));
    out.end();
  } finally {
    out.close();
    closeSync(src);
  }
}

/**
 * The build: journal "building", the new generation's tree and metadata, the
 * library copy, everything fsynced. The current generation is not touched.
 */
function buildGeneration(ctx: ApplyCtx, prepared: PreparedBundle, plan: ApplyPlan): void {
  const { fs, cp, ws, stats } = ctx;
  // The extraction's flush (started when its verify ended) is done before anything builds on it.
  if (prepared.durable) {
    const tFlush = nowMs();
    // The plan's state text (outside the extracted tree) is durable only through a syncfs run now;
    // after a flush file by file, or one started before the plan wrote it, it is fsynced here.
    const method = prepared.durable.wait();
    if (plan.stateText && !(method === 'syncfs' && prepared.durable.atWait)) {
      // Not covered by the flush (it started before the plan wrote it): fsynced on the native
      // module's thread while the recycled build moves names (fsyncStart), else here.
      if (fs.fsyncStart && plan.recycle) ctx.stateSync = 'due';
      else fs.fsyncFile(plan.stateText);
    }
    stats.fsyncSeconds += (nowMs() - tFlush) / 1000;
  }
  ctx.step('apply', 0, plan.writtenBytes);
  cp('journal:begin');
  writeJournal(fs, ws.layout, plan.journal);
  const folders = plan.recycle ? buildByRecycling(ctx, prepared, plan) : plan.base ? buildByLinks(ctx, prepared, plan) : buildFromTree(ctx, prepared, plan);
  stats.dirs = folders ? folders.count : 0;
  const metaDir = generationMetaDir(ws.layout, plan.seq);
  const tMeta = nowMs();
  cp('meta:write');
  writeExportJson(fs, prepared, join(metaDir, 'export.json'));
  if (plan.journal.library) placeInLibrary(ws, fs, cp, plan.journal.library);
  stats.writeSeconds += (nowMs() - tMeta) / 1000;
  const tSync = nowMs();
  cp('build:fsync');
  if (ctx.stateSync === 'due') fs.fsyncFile(generationStateFile(ws, plan.seq)); // never started: fsynced here
  else if (ctx.stateSync) ctx.stateSync.wait();
  folders?.finish();
  fs.fsyncDir(metaDir);
  fs.fsyncDir(ws.layout.staging);
  stats.fsyncSeconds += (nowMs() - tSync) / 1000;
  ctx.step('apply', plan.writtenBytes, plan.writtenBytes);
}

/** The commit: journal "committed" (from here recovery finishes the apply), then the atomic switch of `current`. */
function commitApply(ctx: ApplyCtx, plan: ApplyPlan): void {
  const { fs, cp, ws } = ctx;
  ctx.step('switch', 0, 1);
  cp('journal:commit');
  plan.journal.phase = 'committed';
  writeJournal(fs, ws.layout, plan.journal);
  const tSwitch = nowMs();
  switchLink(fs, ws.layout.current, generationName(plan.seq), cp);
  ctx.stats.switchSeconds = (nowMs() - tSwitch) / 1000;
}

/**
 * After the switch: the database (generation, library, audit rows) in one
 * transaction, the journal and incoming folder removed, old generations
 * pruned, the log event and metrics.
 */
function afterCommit(ctx: ApplyCtx, db: Db, prepared: PreparedBundle, plan: ApplyPlan, now: () => Date, keepSeqs: number[] = []): number[] {
  const { fs, cp, ws } = ctx;
  cp('db:commit');
  finishApplyInDb(db, plan.journal);
  ctx.step('switch', 1, 1);
  cp('journal:end');
  removeJournal(fs, ws.layout);
  // What is left of the extraction (its emptied folders, the kept export.json) goes in one rename.
  moveToTrash(ws.layout, fs, join(ws.layout.incoming, prepared.job));
  cp('recycle:finish');
  finishRecycle(ws.layout, fs, plan.journal);
  const pruned = pruneGenerations(ws, db, ws.settings.keepGenerations, { fs, cp, now }, keepSeqs);
  return plan.recycle ? [plan.recycle.from.seq, ...pruned].sort((a, b) => a - b) : pruned;
}

/**
 * Applies one verified bundle: chain rules, plan (pure), build, commit,
 * after-commit. Synchronous disk work; throws OpsError with nothing changed
 * (ERR_IMPORT_NON_MONOTONIC, ERR_EXPORT_BASE_MISSING, ERR_BUNDLE_UNSAFE_ENTRY,
 * ERR_VERIFY_DIGEST, ERR_NO_SPACE), or returns the new generation.
 */
export function applyPrepared(ws: Workspace, db: Db, prepared: PreparedBundle, opts: ApplyOptions = {}): ApplyResult {
  const tStart = nowMs();
  const { fs, cp } = hookedFs(opts.hooks);
  const now = opts.now ?? (() => new Date());
  const exp = prepared.exp;
  const chain = checkChain(db, exp, opts.forceReason);
  const inOrder = checkListedPaths(exp);
  const input = gatherPlanInput(ws, db, prepared, chain, opts, now().toISOString(), inOrder);
  // A delta when retention will drop a generation: the plan's pass also diffs the new state against
  // it (never the base: its files are linked from) and keeps the state text it writes anyway.
  // Only an ancestor of the base through deltas: its unchanged files are then the base's own (hard
  // links), so they are trusted exactly as links from the base would be. A tree from before a full or
  // resetBaseline import (a restore after damage, say) is never reused.
  const from = chain.base && opts.recycle !== false ? recycleCandidate(generationsToDrop(db, ws.settings.keepGenerations, opts.keepSeqs ?? [], null).filter((g) => g.seq !== chain.base!.seq && isDeltaAncestor(db, chain.base!, g.seq))) : null;
  let plan: ApplyPlan;
  if (from) {
    const stateText = join(ws.layout.incoming, prepared.job, 'state.txt');
    const out = fs.createFile(stateText);
    try {
      // The deltas since the recycled generation say which paths can differ (their kept export.json);
      // failing that (a long chain, a missing or altered file), its whole state is diffed.
      const limit = Math.max(16, from.file_count);
      const own = exp.files.length + (exp.removed?.length ?? 0);
      const firstHop: string[] & { seq?: number } = [];
      const fromChain = own <= limit ? chainChangedPaths(ws.layout, (s) => getGeneration(db, s), chain.base!, from.seq, limit - own, firstHop) : null;
      const ownPaths: string[] = [];
      if (fromChain) {
        for (const f of exp.files) ownPaths.push(f.path);
        for (const r of exp.removed ?? []) ownPaths.push(r);
      }
      const recycleDiff: RecycleDiff = fromChain
        ? new ChainDiffer(from, fromChain, ownPaths, limit, firstHop)
        : new RecycleDiffer(from, generationState(ws, from.seq), limit);
      plan = planApply({ ...input, recycleDiff, stateSink: (chunk) => out.write(chunk) });
      // With an extraction flush still to come, the build makes this file durable after it
      // (buildGeneration): a syncfs run at that point covers it, one journal commit instead of two.
      // Without one, fsync it now.
      if (!prepared.durable) out.end();
    } finally {
      out.close();
    }
    plan.stateText = stateText;
  } else plan = planApply(input);
  const free = freeBytes(ws.layout.staging);
  if (free !== null && free < plan.neededBytes) throw noSpaceError(`preparing ${exp.exportId}`, plan.neededBytes, free);

  const stats: ApplyStats = { linkedFiles: 0, linkSeconds: 0, writtenFiles: 0, writtenBytes: plan.writtenBytes, writeSeconds: 0, dirs: 0, fsyncSeconds: 0, switchSeconds: 0, verifySeconds: prepared.verifySeconds ?? 0, totalSeconds: 0 };
  const ctx: ApplyCtx = { ws, fs, cp, stats, step: opts.onStep ?? (() => {}) };
  try {
    buildGeneration(ctx, prepared, plan);
    commitApply(ctx, plan);
  } catch (e) {
    // Switched already (the failure came after the rename): the apply stands, finish it below.
    // Not switched: the current generation is what it was. Undo what was built.
    if (currentLinkSeq(ws.layout) !== plan.seq) {
      try {
        discardApply(ws, fs, plan.journal);
      } catch {
        /* the journal stays; recovery finishes the cleanup on next start */
      }
      if (isNoSpace(e)) throw noSpaceError(`applying ${exp.exportId}`, plan.neededBytes + plan.writtenBytes, freeBytes(ws.layout.staging), e);
      throw e;
    }
  }
  const prunedSeqs = afterCommit(ctx, db, prepared, plan, now, opts.keepSeqs);
  stats.totalSeconds = (nowMs() - tStart) / 1000 + stats.verifySeconds;
  logEvent(ws, { event: plan.variant === 'full' ? 'mirror.bundle.imported' : 'mirror.delta.applied', exportId: exp.exportId, runId: exp.runId ?? undefined, profile: exp.profile.id, generation: exp.generation, seq: plan.seq, forced: plan.forced, stats });
  updateGauges(ws, db, now(), [{ counter: 'imports_total', labels: { kind: plan.variant === 'full' ? 'mirror-full' : 'mirror-delta' } }]);
  return { seq: plan.seq, exportId: exp.exportId, generation: exp.generation, stateDigest: plan.digest, forced: plan.forced, prunedSeqs, stats };
}

/** The staging and library gauges from the database, with `also` (a counter the caller bumps), in one metrics write. */
export function updateGauges(ws: Workspace, db: Db, now: Date, also: readonly MetricChange[] = []): void {
  const cur = currentGeneration(db);
  let lib = 0;
  for (const r of listLibrary(db)) lib += r.size;
  const changes: MetricChange[] = [...also, { gauge: 'staging_bytes', value: cur?.total_bytes ?? 0 }, { gauge: 'library_bytes', value: lib }];
  if (cur) changes.push({ gauge: 'last_successful_apply_timestamp_seconds', value: Math.floor(Date.parse(cur.applied_at) / 1000) || Math.floor(now.getTime() / 1000) });
  recordMetrics(ws, changes);
}

/**
 * Keeps the current generation plus the `keep` most recent others (by local
 * sequence number), and any generation in `protect` (one a restore in
 * progress needs); the rest are marked pruned in the database first, then
 * moved to trash/ (removed after the command, trash.ts).
 */
export function pruneGenerations(ws: Workspace, db: Db, keep: number, ctx: { fs: StagingFs; cp: (s: string) => void; now: () => Date }, protect: readonly number[] = []): number[] {
  const drop = generationsToDrop(db, keep, protect);
  if (drop.length === 0) return [];
  const at = ctx.now().toISOString();
  db.transaction(() => {
    for (const g of drop) markGenerationPruned(db, g.seq, at);
  })();
  // A dropped tree goes to trash/ in one rename (an unlink per file is trash.ts's, after the command).
  for (const g of drop) {
    ctx.cp('prune:rm');
    moveToTrash(ws.layout, ctx.fs, generationDir(ws.layout, g.seq));
    moveToTrash(ws.layout, ctx.fs, generationMetaDir(ws.layout, g.seq));
  }
  ctx.fs.fsyncDir(ws.layout.staging);
  return drop.map((g) => g.seq);
}

/** Records a failed apply: last apply result, audit row, log event and counter. The event names the bundle kind (a full bundle is not a delta). */
export function recordApplyFailure(ws: Workspace, db: Db, info: { path: string; kind?: string | null; exportId?: string | null; generation?: number | null; runId?: string | null; profile?: string | null; operator?: string; facts?: Record<string, unknown> }, err: { code: string; message: string }, now = new Date()): void {
  const at = now.toISOString();
  const event = info.kind === 'mirror-full' ? 'mirror.full.apply_failed' : info.kind === 'trivy-db' || info.kind === 'trivy-java-db' ? 'trivy.install_failed' : 'mirror.delta.apply_failed';
  db.transaction(() => {
    setLastApply(db, { ok: false, at, path: info.path, exportId: info.exportId ?? null, generation: info.generation ?? null, code: err.code, message: err.message });
    appendAudit(db, { action: event, subject: info.exportId ?? info.path, operator: info.operator, details: { path: info.path, generation: info.generation ?? null, ...(info.facts ?? {}), errorCode: err.code, message: err.message } });
  })();
  logEvent(ws, { event, level: 'error', exportId: info.exportId ?? undefined, runId: info.runId ?? undefined, profile: info.profile ?? undefined, errorCode: err.code, message: err.message, path: info.path });
  bumpCounter(ws, 'apply_failures_total', { error_code: err.code });
}
