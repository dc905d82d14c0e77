/** State of a mirror tree (spec section 3): the entries and their `state.digest`. */
import { createHash } from 'node:crypto';
import { compareBytewise } from '../../../shared/paths';
import { stateDigestText, type StateEntry } from '../../../shared/state-digest';

export type { StateEntry };

/** `sha256:<hex>` of the state text of these entries. */
export function stateDigest(entries: Iterable<StateEntry>): string {
  return `sha256:${createHash('sha256').update(stateDigestText(entries), 'utf8').digest('hex')}`;
}

/** The state after applying changes (added/changed files, removed paths) to a previous state. */
export function nextState(prev: Iterable<StateEntry>, changes: { files?: Iterable<StateEntry>; removed?: Iterable<string> }): StateEntry[] {
  const map = new Map<string, StateEntry>();
  for (const e of prev) map.set(e.path, { path: e.path, sha256: e.sha256, size: e.size });
  for (const p of changes.removed ?? []) map.delete(p);
  for (const e of changes.files ?? []) map.set(e.path, { path: e.path, sha256: e.sha256, size: e.size });
  return [...map.values()].sort((a, b) => compareBytewise(a.path, b.path));
}

/** `{fileCount, totalBytes, digest}` as export.json carries it. */
export function stateSummary(entries: StateEntry[]): { fileCount: number; totalBytes: number; digest: string } {
  let total = 0;
  for (const e of entries) total += e.size;
  return { fileCount: entries.length, totalBytes: total, digest: stateDigest(entries) };
}
