/**
 * A generation's state as text: exactly the lines the spec's state.digest is
 * computed over (`<sha256-hex> <size> <path>\n`, sorted by path bytewise).
 * Kept beside each generation as state.txt, so a delta's new state and digest
 * are computed from known per-file digests without re-reading any file.
 */
import { createHash } from 'node:crypto';
import { compareBytewise } from '../../../shared/paths';
import type { StateEntry } from '../../../shared/state-digest';

export function parseStateText(text: string): StateEntry[] {
  const out: StateEntry[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.length === 0) continue;
    const a = line.indexOf(' ');
    const b = line.indexOf(' ', a + 1);
    if (a !== 64 || b === -1) throw new Error(`malformed state line: ${line.slice(0, 80)}`);
    out.push({ sha256: line.slice(0, a), size: Number(line.slice(a + 1, b)), path: line.slice(b + 1) });
  }
  return out;
}

export function stateText(entries: readonly StateEntry[]): string {
  const parts: string[] = new Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    parts[i] = `${e.sha256} ${e.size} ${e.path}\n`;
  }
  return parts.join('');
}

export function digestOfText(text: string): string {
  return 'sha256:' + createHash('sha256').update(text, 'utf8').digest('hex');
}

export function sortEntries<T extends { path: string }>(list: T[]): T[] {
  return list.sort((a, b) => compareBytewise(a.path, b.path));
}

/**
 * The state after a delta: base (sorted) minus removed, with `changed`
 * replacing or adding entries. Linear merge; `changed` and `removed` need not be sorted.
 */
export function mergeState(base: readonly StateEntry[], changed: readonly StateEntry[], removed: readonly string[]): StateEntry[] {
  const ch = sortEntries([...changed]);
  const gone = new Set(removed);
  const out: StateEntry[] = [];
  let j = 0;
  for (const e of base) {
    while (j < ch.length && compareBytewise(ch[j].path, e.path) < 0) out.push(ch[j++]);
    if (j < ch.length && ch[j].path === e.path) {
      out.push(ch[j++]);
      continue;
    }
    if (gone.has(e.path)) continue;
    out.push(e);
  }
  while (j < ch.length) out.push(ch[j++]);
  return out;
}
