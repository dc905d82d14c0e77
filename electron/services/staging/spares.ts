/**
 * The workspace's spare files (spare/<seq>.spare/): files a recycled delta
 * build moved out of the tree it reused that no other tree holds (the old
 * versions of the paths the first delta after it changed, recycle.ts
 * RecyclePlan.keep), kept after the commit instead of deleted, for the next
 * delta's extraction to write into (verify/stream/spare.ts says why: on
 * this ext4 a file created right after others were deleted costs several
 * times one rewritten). Nothing refers to a spare: a file with more than
 * one link is never written. The newest KEEP_SPARE_SETS sets are kept;
 * older ones go to trash/ (removed after the command, trash.ts), with the
 * large files in them, which are never reused.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkspaceLayout } from '../workspace/layout';
import { openSpare, type SpareFile, type SpareFiles } from '../verify/stream/spare';
import type { StagingFs } from './fsops';
import { moveToTrash } from './trash';

/** Sets of spare files kept (each one delta's undo folder): enough for the next delta of the same size, twice over. */
export const KEEP_SPARE_SETS = 2;

const SET = /^(\d+)\.spare$/;

/** The spare sets, newest (highest sequence number) first. */
export function spareSets(layout: WorkspaceLayout): string[] {
  let names: string[];
  try {
    names = readdirSync(layout.spare);
  } catch {
    return [];
  }
  return names.filter((n) => SET.test(n)).sort((a, b) => Number(SET.exec(b)![1]) - Number(SET.exec(a)![1]));
}

/**
 * After a recycled delta's commit: its undo folder's files (`from`, a flat
 * folder) become spare set <seq> in one rename. Idempotent (finishRecycle
 * may run again in recovery): a `from` that is gone is skipped. Older sets
 * are dropped by trimSpares once the whole import is done: every bundle of
 * an import is extracted before the first is applied, so a later bundle's
 * files may still be in an older set.
 */
export function keepAsSpares(layout: WorkspaceLayout, fs: StagingFs, from: string, seq: number): void {
  try {
    if (!lstatSync(from).isDirectory()) return;
  } catch {
    return;
  }
  try {
    lstatSync(layout.spare);
  } catch {
    fs.mkdir(layout.spare);
  }
  const name = `${seq}.spare`;
  try {
    lstatSync(join(layout.spare, name));
    moveToTrash(layout, fs, join(layout.spare, name)); // a set of that name from before (a workspace restored from a backup): the new one wins
  } catch {
    /* none */
  }
  fs.rename(from, join(layout.spare, name));
}

/**
 * At the end of an import: the newest KEEP_SPARE_SETS sets stay, older ones
 * (and anything in spare/ that is not a set) go to trash/.
 */
export function trimSpares(layout: WorkspaceLayout, fs: StagingFs): void {
  let names: string[];
  try {
    names = readdirSync(layout.spare);
  } catch {
    return;
  }
  const keep = new Set(spareSets(layout).slice(0, KEEP_SPARE_SETS));
  for (const n of names) if (!keep.has(n)) moveToTrash(layout, fs, join(layout.spare, n));
}

/**
 * The spares an extraction may take, oldest set first, each file checked
 * when it is opened (openSpare: a regular file with one link, not large).
 * A set holds the files only the recycled tree held (RecyclePlan.keep), so
 * nearly every one qualifies; any other is passed over and left for the
 * trash with its set. Used under the workspace's write lock, by one import
 * at a time.
 */
export class SparePool implements SpareFiles {
  private readonly sets: string[];
  private set = -1;
  private names: string[] = [];
  private next = 0;
  /** Spares handed out (their paths). */
  readonly taken: string[] = [];

  constructor(private readonly layout: WorkspaceLayout) {
    this.sets = spareSets(layout).reverse();
  }

  take(): SpareFile | null {
    for (;;) {
      if (this.next >= this.names.length) {
        if (++this.set >= this.sets.length) return null;
        this.names = [];
        try {
          // A real folder only: a symbolic link planted as a set would lead the writes outside the workspace.
          const dir = join(this.layout.spare, this.sets[this.set]);
          if (lstatSync(dir).isDirectory()) this.names = readdirSync(dir);
        } catch {
          /* gone */
        }
        this.next = 0;
        continue;
      }
      const path = join(this.layout.spare, this.sets[this.set], this.names[this.next++]);
      // Checked on the open descriptor: what is written is what was checked.
      const r = openSpare(path);
      if ('spare' in r) {
        this.taken.push(path);
        return r.spare;
      }
    }
  }
}
