/**
 * A delta whose cost is the delta's: instead of building the new generation
 * as a fresh tree (one hard link per unchanged file) and then removing the
 * generation that retention drops (one unlink per file), the tree of that
 * dropped generation is turned into the new one in place. Only the paths
 * that differ between the two states are touched: files the new state no
 * longer has (or has with other content) are moved into an undo folder,
 * then the new ones are linked in from the base (or moved in from the
 * verified incoming folder). A file that only the new bundle changes is
 * the base's own in the dropped tree too (unchanged since, so the same
 * inode): the bundle's file replaces it in one rename, and a revert links
 * the base's back. The current generation is never touched.
 *
 * Crash safety: before the first change, the list of touched paths is
 * written (fsynced) into `staging/<seq>.undo/paths.txt`, then the dropped
 * generation's tree is renamed to the new generation's name (the claim).
 * Until the commit point, `revertRecycle` restores the dropped generation
 * exactly from that list and the undo folder, whatever step a crash hit
 * (it is idempotent: it may itself be interrupted and run again). After the
 * commit, the dropped generation is marked pruned in the same database
 * transaction that records the new one, and its undo folder and metadata
 * are removed.
 */
import { hash } from 'node:crypto';
import { lstatSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../db/index';
import type { Workspace } from '../workspace/index';
import { generationDir, generationMetaDir, generationName, type WorkspaceLayout } from '../workspace/layout';
import type { StagingFs } from './fsops';
import { moveToTrash } from './trash';
import { keepAsSpares } from './spares';
import { SPARE_MAX_BYTES } from '../verify/stream/spare';
import type { ApplyJournal } from './journal';
import type { StateEntry } from '../../../shared/state-digest';
import { comparePaths, parentOf, type MergedEntry } from './state';
import { sortBytewise } from '../../../shared/paths';
import { listGenerations, readState } from './store';
import type { GenerationRow } from './types';

/** staging/<seq>.undo/: the touched-path list and the files moved out of the recycled tree. */
export function undoDir(layout: WorkspaceLayout, seq: number): string {
  return join(layout.staging, `${generationName(seq)}.undo`);
}

/** What the recycling build does, decided before any disk change (sizes: the delta's). */
export interface RecyclePlan {
  from: GenerationRow;
  /**
   * Paths of the recycled tree that go (removed, or replaced by other content), sorted. From a
   * chain's changed paths (ChainDiffer), the paths that may go: one the tree does not hold is
   * skipped by the move (recycleTree), so no lstat per path is needed to plan.
   */
  out: string[];
  /**
   * Paths placed into the tree (new, or replacing), sorted, with where they come from. `overBase`:
   * a path only this bundle changes since the recycled generation, so the tree's file there (if
   * any) is the base's own (the same inode): it is not moved out first, the bundle's file replaces
   * it in one rename, and a revert links the base's file back (not listed in `out`).
   */
  into: { path: string; fromBundle: boolean; size: number; overBase?: boolean }[];
  /**
   * Per path of `out`: true when the tree's file there is one only that tree
   * holds (a path the first delta after the recycled generation changed; its
   * older twin went to trash with the recycle before) and the new state's
   * file there is small. Such files are moved out to undo/keep/ and become
   * spare files after the commit (spares.ts: rewritten with small files);
   * the others moved out go to undo/tree/ and to trash.
   */
  keep?: boolean[];
  /**
   * Per path of `out`: true when generation `heldBy` holds the recycled
   * tree's file there (a path the chain's oldest delta did not change: an
   * unchanged path shares its base's file). Those names are removed instead
   * of moved out (paths.txt "~" lines), and a revert links that tree's file back.
   */
  held?: boolean[];
  heldBy?: number;
}

/**
 * The generations retention drops: all kept ones but `current` and the
 * `keep` most recent others (by local sequence number), and any protected
 * one. Before an apply, `current` is null (the new generation will be the
 * current one, and every kept generation is then one of the "others").
 */
export function generationsToDrop(db: Db, keep: number, protect: readonly number[], current: number | null = readState(db).current_seq): GenerationRow[] {
  const others = listGenerations(db)
    .filter((g) => g.seq !== current)
    .sort((a, b) => b.seq - a.seq);
  return others.slice(keep).filter((g) => !protect.includes(g.seq));
}

/**
 * The difference between a dropped generation's state and the new state,
 * fed the new state entry by entry (planApply's one pass) and reading the
 * dropped generation's state.txt alongside (both sorted: a merge-join).
 * Gives up (result null) once the difference passes `limit` paths: building
 * by links then costs no more (a link per file of the new tree, and the
 * prune an unlink per file of the dropped one, against a move or placement
 * per differing path).
 */
export class RecycleDiffer implements RecycleDiff {
  private readonly old: Iterator<StateEntry>;
  private o: IteratorResult<StateEntry>;
  private readonly out: string[] = [];
  private readonly into: RecyclePlan['into'] = [];
  private over = false;

  constructor(
    private readonly from: GenerationRow,
    oldEntries: Iterable<StateEntry>,
    private readonly limit: number = Math.max(16, from.file_count),
  ) {
    this.old = oldEntries[Symbol.iterator]();
    this.o = this.old.next();
  }

  add(e: MergedEntry): void {
    if (this.over) return;
    while (!this.o.done && comparePaths(this.o.value.path, e.path) < 0) {
      this.out.push(this.o.value.path);
      this.o = this.old.next();
    }
    if (!this.o.done && this.o.value.path === e.path) {
      if (this.o.value.sha256 !== e.sha256 || this.o.value.size !== e.size) {
        this.out.push(e.path);
        this.into.push({ path: e.path, fromBundle: e.changed, size: e.size });
      }
      this.o = this.old.next();
    } else this.into.push({ path: e.path, fromBundle: e.changed, size: e.size });
    this.check();
  }

  private check(): void {
    if (this.out.length + this.into.length <= this.limit) return;
    this.over = true;
    this.out.length = 0;
    this.into.length = 0;
    this.old.return?.();
  }

  /** After the last entry: the plan, or null when the difference is too large. */
  finish(): RecyclePlan | null {
    while (!this.over && !this.o.done) {
      this.out.push(this.o.value.path);
      this.o = this.old.next();
      this.check();
    }
    return this.over ? null : { from: this.from, out: this.out, into: this.into };
  }
}

/** What a plan's pass feeds the difference between the recycled tree and the new state. */
export interface RecycleDiff {
  add(e: MergedEntry): void;
  finish(): RecyclePlan | null;
}

/** Kept export.json files larger than this are not read for a chain's changes (the state diff is used). */
const MAX_CHAIN_EXPORT_BYTES = 64 << 20;

/**
 * The paths a chain of kept delta generations changed or removed: from
 * `base` back along base_seq to (not including) `fromSeq`, read from each
 * generation's kept export.json (its SHA-256 checked against the database
 * first). Null when the chain is not deltas only, a file is missing, altered
 * or too large, or the paths pass `limit`: the caller then diffs states.
 * `firstHop` receives the paths of the delta right after `fromSeq` (the
 * chain's oldest), a subset of the result, and its `seq`.
 */
export function chainChangedPaths(layout: WorkspaceLayout, getRow: (seq: number) => GenerationRow | undefined, base: GenerationRow, fromSeq: number, limit: number, firstHop?: string[] & { seq?: number }): string[] | null {
  const paths: string[] = [];
  let hopStart = 0;
  let hopSeq = base.seq;
  let g: GenerationRow | undefined = base;
  for (let hops = 0; g && g.seq !== fromSeq; hops++) {
    hopStart = paths.length;
    hopSeq = g.seq;
    if (hops > 64 || g.variant !== 'delta' || g.reset_baseline || g.base_seq === null) return null;
    let bytes: Buffer;
    try {
      const file = join(generationMetaDir(layout, g.seq), 'export.json');
      if (statSync(file).size > MAX_CHAIN_EXPORT_BYTES) return null;
      bytes = readFileSync(file);
    } catch {
      return null;
    }
    if (hash('sha256', bytes) !== g.export_json_sha256) return null;
    let doc: { files?: unknown; removed?: unknown };
    try {
      doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
    } catch {
      return null;
    }
    if (!Array.isArray(doc.files) || (doc.removed != null && !Array.isArray(doc.removed))) return null;
    for (const f of doc.files as { path?: unknown }[]) {
      if (typeof f?.path !== 'string') return null;
      paths.push(f.path);
    }
    for (const r of (doc.removed ?? []) as unknown[]) {
      if (typeof r !== 'string') return null;
      paths.push(r);
    }
    if (paths.length > limit) return null;
    g = getRow(g.base_seq);
  }
  if (!g) return null;
  if (firstHop) {
    for (let i = hopStart; i < paths.length; i++) firstHop.push(paths[i]);
    firstHop.seq = hopSeq;
  }
  return paths;
}

/**
 * The same difference as RecycleDiffer, from the paths the deltas since the
 * recycled generation changed (chainChangedPaths plus this bundle's files
 * and removals) instead of the recycled generation's whole state: every
 * other path is the same in both (the recycled generation is an ancestor of
 * the base through exactly those deltas). Every changed path may go out (the
 * move skips one the recycled tree does not hold: nothing is looked up
 * here), and the new state's file for it is placed. (A changed path's file
 * in the recycled tree is never the new state's: every change since placed a
 * new inode.) Cost: the delta's paths, not the state.
 */
export class ChainDiffer implements RecycleDiff {
  private readonly changed: string[];
  private readonly chain: Set<string>;
  private i = 0;
  private readonly hits: { path: string; e: MergedEntry | null }[] = [];

  /** `chainPaths`: what the kept deltas since the recycled generation changed; `ownPaths`: this bundle's files and removals. */
  private readonly firstHop: Set<string>;
  private readonly heldBy: number | undefined;

  /**
   * `firstHop`: the chain's paths the delta right after the recycled generation changed, and that
   * generation's seq (RecyclePlan.keep and heldBy; a chain of one delta holds none of the others).
   */
  constructor(
    private readonly from: GenerationRow,
    chainPaths: readonly string[],
    ownPaths: readonly string[] = [],
    private readonly limit: number = Math.max(16, from.file_count),
    firstHop: readonly string[] & { seq?: number } = [],
  ) {
    const sorted = sortBytewise([...chainPaths, ...ownPaths]);
    this.changed = sorted.filter((p, k) => k === 0 || p !== sorted[k - 1]);
    this.chain = new Set(chainPaths);
    this.firstHop = new Set(firstHop);
    this.heldBy = firstHop.seq;
  }

  /** The paths it asks about, sorted, without duplicates (the sparse pass visits exactly these besides the delta's). */
  get keys(): readonly string[] {
    return this.changed;
  }

  add(e: MergedEntry): void {
    const c = this.changed;
    while (this.i < c.length && comparePaths(c[this.i], e.path) < 0) this.hits.push({ path: c[this.i++], e: null });
    if (this.i < c.length && c[this.i] === e.path) {
      this.hits.push({ path: e.path, e });
      this.i++;
    }
  }

  finish(): RecyclePlan | null {
    while (this.i < this.changed.length) this.hits.push({ path: this.changed[this.i++], e: null });
    const out: string[] = [];
    const keep: boolean[] = [];
    const held: boolean[] = [];
    const into: RecyclePlan['into'] = [];
    for (const { path, e } of this.hits) {
      if (e && e.changed && !this.chain.has(path)) into.push({ path, fromBundle: true, size: e.size, overBase: true });
      else {
        out.push(path);
        const first = this.firstHop.has(path);
        held.push(this.heldBy !== undefined && !first);
        // Spares serve small files (SPARE_MAX_BYTES): the old version at a path that is large now (or
        // gone) most likely is large too, and would only wait in spare/ until its set is dropped.
        keep.push(first && e !== null && e.size <= SPARE_MAX_BYTES);
        if (e) into.push({ path, fromBundle: e.changed, size: e.size });
      }
      if (out.length + into.length > this.limit) return null;
    }
    return { from: this.from, out, into, keep, ...(this.heldBy !== undefined ? { held, heldBy: this.heldBy } : {}) };
  }
}

/** The generation to recycle among those retention drops: the newest one (nearest to the new state). */
export function recycleCandidate(drop: readonly GenerationRow[]): GenerationRow | null {
  return drop.length === 0 ? null : [...drop].sort((a, b) => b.seq - a.seq)[0];
}

/**
 * The touched-path list: "-" a path that may be moved out, "~" a path whose
 * name may be removed (generation `heldBy` holds its file: "@<heldBy>" on the
 * first line), "+" a path placed, "=" a path placed over the base's own file
 * (one per line; paths hold no newline). The k-th "-" or "~" line is out[k].
 */
function pathsText(plan: RecyclePlan): string {
  const lines: string[] = [];
  if (plan.heldBy !== undefined) lines.push(`@${plan.heldBy}`);
  plan.out.forEach((p, k) => lines.push(`${dropped(plan, k) ? '~' : '-'}${p}`));
  for (const e of plan.into) lines.push(`${e.overBase ? '=' : '+'}${e.path}`);
  return lines.join('\n') + '\n';
}

/** Whether out[k]'s name is removed (its file held by generation heldBy) rather than moved to the undo folder. */
function dropped(plan: RecyclePlan, k: number): boolean {
  return plan.heldBy !== undefined && plan.held?.[k] === true;
}

function parsePathsText(text: string): { out: string[]; held: boolean[]; heldBy: number | null; into: string[]; overBase: string[] } {
  const out: string[] = [];
  const held: boolean[] = [];
  let heldBy: number | null = null;
  const into: string[] = [];
  const overBase: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('-') || line.startsWith('~')) {
      out.push(line.slice(1));
      held.push(line.startsWith('~'));
    } else if (line.startsWith('+')) into.push(line.slice(1));
    else if (line.startsWith('=')) overBase.push(line.slice(1));
    else if (line.startsWith('@')) heldBy = Number(line.slice(1));
  }
  return { out, held, heldBy, into, overBase };
}

/** What is at `p`: null when nothing is (or a file stands where a folder of it would be). */
function lstatKind(p: string): 'file' | 'dir' | 'other' | null {
  try {
    const st = lstatSync(p);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw e;
  }
}

/** Removes `rel`'s folders inside `root` while they are empty (never `root` itself), recording the folder whose entries changed. */
function pruneEmptyParents(fs: StagingFs, root: string, rel: string, touched: Set<string>): void {
  for (let d = parentOf(rel); d !== ''; d = parentOf(d)) {
    if (!fs.rmdirIfEmpty(`${root}/${d}`)) {
      touched.add(d);
      return;
    }
  }
  touched.add('');
}

/** Makes `rel`'s folder chain inside `root` (those not known to exist), recording the folders changed. */
function ensureFolders(fs: StagingFs, root: string, rel: string, known: Set<string>, touched: Set<string>, cp: (s: string) => void): void {
  const dir = parentOf(rel);
  if (dir === '' || known.has(dir)) return;
  const parts = dir.split('/');
  let cur = '';
  for (const part of parts) {
    const next = cur === '' ? part : `${cur}/${part}`;
    if (!known.has(next)) {
      const kind = lstatKind(`${root}/${next}`);
      if (kind === null) {
        cp('recycle:dir');
        fs.mkdir(`${root}/${next}`);
        touched.add(cur);
      } else if (kind !== 'dir') throw new Error(`cannot place ${rel}: ${next} is not a folder in ${root}`);
      known.add(next);
    }
    cur = next;
  }
}

export interface RecycleCounts {
  moved: number;
  linked: number;
  placedFromBundle: number;
  placedBytes: number;
  touchedDirs: number;
}

/**
 * The recycling build's disk work, after the journal (with `recycle`) is
 * written: the touched-path list, the claim, the moves out, the placements,
 * and the fsync of every folder touched. `incoming` says where the verified
 * file of a path is; `baseDir` is the base generation's tree.
 */
export function recycleTree(
  ws: Workspace,
  fs: StagingFs,
  cp: (s: string) => void,
  seq: number,
  plan: RecyclePlan,
  dirs: { incoming: (path: string) => string; baseDir: string; afterClaim?: () => void },
  progress: (placedBytes: number) => void,
): RecycleCounts {
  const layout = ws.layout;
  const undo = undoDir(layout, seq);
  const tree = generationDir(layout, seq);
  const counts: RecycleCounts = { moved: 0, linked: 0, placedFromBundle: 0, placedBytes: 0, touchedDirs: 0 };
  cp('recycle:list');
  fs.mkdir(undo);
  fs.writeFile(join(undo, 'paths.txt'), pathsText(plan));
  fs.mkdir(join(undo, 'tree'));
  fs.mkdir(join(undo, 'keep'));
  fs.fsyncDir(undo);
  fs.fsyncDir(layout.staging);
  cp('recycle:claim');
  fs.rename(generationDir(layout, plan.from.seq), tree);
  fs.fsyncDir(layout.staging);
  dirs.afterClaim?.();

  const touched = new Set<string>();
  const undoTree = join(undo, 'tree');
  const undoKeep = join(undo, 'keep');
  const replaced = new Set<string>();
  for (const e of plan.into) replaced.add(e.path);
  // The undo folder is flat: the k-th path moved out is tree/<k> or keep/<k> (paths.txt names it; keep/
  // for the files that become spares, RecyclePlan.keep), so no folders are made or fsynced there, and
  // removing it after the commit is one unlink per file. A path the tree does not hold has neither.
  // In reverse path order: the files under a name go before the name itself comes up, so a folder
  // that becomes a file is emptied, pruned, and then not there.
  for (let k = plan.out.length - 1; k >= 0; k--) {
    const p = plan.out[k];
    cp('recycle:undo');
    if (dropped(plan, k) ? !unlinkIfThere(fs, `${tree}/${p}`) : !moveIfThere(fs, `${tree}/${p}`, `${plan.keep?.[k] ? undoKeep : undoTree}/${k}`)) continue;
    counts.moved++;
    // A folder left empty goes (the new tree may need a file of that name; an empty folder is no state).
    if (replaced.has(p)) touched.add(parentOf(p));
    else pruneEmptyParents(fs, tree, p, touched);
  }
  fs.fsyncDir(undoTree);
  fs.fsyncDir(undoKeep);
  // Every path that may go has gone (or was not there): from here on, the revert takes a file at a
  // placed path that the undo folder does not hold for one placed (see revertRecycle).
  cp('recycle:placing');
  fs.mkdir(join(undo, 'placing'));
  fs.fsyncDir(undo);

  const known = new Set<string>();
  for (const e of plan.into) {
    ensureFolders(fs, tree, e.path, known, touched, cp);
    if (e.fromBundle) {
      cp('recycle:move');
      fs.rename(dirs.incoming(e.path), `${tree}/${e.path}`);
      counts.placedFromBundle++;
      counts.placedBytes += e.size;
      progress(counts.placedBytes);
    } else {
      cp('recycle:link');
      fs.link(`${dirs.baseDir}/${e.path}`, `${tree}/${e.path}`);
      counts.linked++;
    }
    touched.add(parentOf(e.path));
  }
  cp('recycle:fsync');
  fsyncFolders(fs, tree, touched);
  counts.touchedDirs = touched.size;
  return counts;
}

/** fsync of each folder of `tree` whose entries changed ('' is the tree itself) that is still a folder. */
function fsyncFolders(fs: StagingFs, tree: string, touched: Iterable<string>): void {
  const dirs: string[] = [];
  for (const d of touched) {
    const p = d === '' ? tree : `${tree}/${d}`;
    if (lstatKind(p) === 'dir') dirs.push(p);
  }
  if (fs.fsyncAll) fs.fsyncAll(dirs);
  else for (const p of dirs) fs.fsyncDir(p);
}

/**
 * Removes the file name `p`; false when no file is there (nothing, a file where a folder of it would
 * be, or an empty folder a build cut short left: removed too).
 */
function unlinkIfThere(fs: StagingFs, p: string): boolean {
  try {
    fs.unlink(p);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    if (code === 'EISDIR' && fs.rmdirIfEmpty(p)) return false;
    throw e;
  }
}

/** Renames `from` to `to`; false when `from` is not there (nothing at that path, or a file where a folder of it would be). */
function moveIfThere(fs: StagingFs, from: string, to: string): boolean {
  try {
    fs.rename(from, to);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw e;
  }
}

/**
 * Puts a recycled generation back exactly as it was (journal phase
 * "building" with `recycle`): placed files removed, files placed over the
 * base's own replaced by the base's again, moved-out files linked back from
 * the undo folder, the tree renamed back to its own name. Idempotent (the
 * undo folder is only removed at the end), also when interrupted and run
 * again; a no-op when the claim never happened.
 */
export function revertRecycle(layout: WorkspaceLayout, fs: StagingFs, j: ApplyJournal): void {
  if (!j.recycle) return;
  const fromSeq = j.recycle.fromSeq;
  const tree = generationDir(layout, j.seq);
  const undo = undoDir(layout, j.seq);
  if (lstatKind(tree) === 'dir') {
    const { out, held, heldBy, into, overBase } = parsePathsText(readFileSync(join(undo, 'paths.txt'), 'utf8'));
    const touched = new Set<string>();
    // What was moved out is what the undo folder holds (tree/<k> or keep/<k> for the k-th listed path).
    // It stays there until the end (put back by a link, not a rename), so a revert that is itself
    // interrupted finds the same when run again, and never takes a file it put back for a placed one.
    // A "~" path's file is generation heldBy's at that path (the same file, not changed since): the
    // tree had one there exactly when that tree has one, whether or not its name was removed yet.
    const heldTree = heldBy === null ? null : generationDir(layout, heldBy);
    const movedTo = out.map((p, k) =>
      held[k] ? (heldTree !== null && lstatKind(`${heldTree}/${p}`) === 'file' ? `${heldTree}/${p}` : null) : ([join(undo, 'tree', String(k)), join(undo, 'keep', String(k))].find((f) => lstatKind(f) === 'file') ?? null),
    );
    const moved = movedTo.map((f) => f !== null);
    const wasThere = new Set(out.filter((_, k) => moved[k]));
    // Before "placing" (the moves out not all done), nothing was placed: a file at a listed path is
    // the old tree's own, not yet moved.
    const placing = lstatKind(join(undo, 'placing')) === 'dir';
    const known = new Set<string>();
    // A placed file at `p` removed (only a file: a folder there is the old tree's), and the folders the
    // placement made, also when it was cut short between making them and moving the file in.
    const removePlaced = (p: string): void => {
      if (lstatKind(`${tree}/${p}`) === 'file') fs.rm(`${tree}/${p}`);
      pruneEmptyParents(fs, tree, p, touched);
    };
    // `source`'s inode put at `p` (over a placed file, if any) through a temporary link: `source` stays.
    const putBack = (source: string, p: string): void => {
      ensureFolders(fs, tree, p, known, touched, () => {});
      const tmp = join(undo, 'put-back');
      fs.rm(tmp);
      fs.link(source, tmp);
      fs.rename(tmp, `${tree}/${p}`);
      touched.add(parentOf(p));
    };
    // 1. Files placed where the old tree had none: removed.
    for (const p of placing ? into : []) if (!wasThere.has(p)) removePlaced(p);
    // 1b. Files placed over the base's own: the base's file linked back (the tree held that inode),
    // or removed where the base has none (the tree had none either).
    const baseTree = j.row.base_seq === null ? null : generationDir(layout, j.row.base_seq);
    for (const p of placing ? overBase : []) {
      if (baseTree !== null && lstatKind(`${baseTree}/${p}`) === 'file') putBack(`${baseTree}/${p}`, p);
      else removePlaced(p);
    }
    // 2. Files moved out: put back from the undo folder.
    for (let k = 0; k < out.length; k++) if (movedTo[k] !== null) putBack(movedTo[k]!, out[k]);
    fsyncFolders(fs, tree, touched);
    fs.rename(tree, generationDir(layout, fromSeq));
    fs.fsyncDir(layout.staging);
  }
  fs.rm(undo);
}

/**
 * After the commit: the undo folder (one file per path the delta touched)
 * and the recycled generation's metadata (a state.txt as large as the
 * tree's file list) are no longer needed. The undo folder's files become
 * spare files for the next delta's extraction (spares.ts: rewriting them
 * costs less than creating files after deleting as many); the rest goes to
 * trash/ in one rename, removed right after the command by a detached
 * process, or by the next import (trash.ts).
 */
export function finishRecycle(layout: WorkspaceLayout, fs: StagingFs, j: ApplyJournal): void {
  if (!j.recycle) return;
  keepAsSpares(layout, fs, join(undoDir(layout, j.seq), 'keep'), j.seq);
  moveToTrash(layout, fs, undoDir(layout, j.seq));
  moveToTrash(layout, fs, generationMetaDir(layout, j.recycle.fromSeq));
}
