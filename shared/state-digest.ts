/**
 * state.digest (spec section 3): SHA-256 of the UTF-8 text of one line per file,
 * sorted by path bytewise: `<sha256-hex> <size> <path>\n`.
 * Pure: the caller supplies a hasher so this file needs no `node:crypto`.
 */
import { compareBytewise } from './paths';

export interface StateEntry {
  path: string;
  sha256: string;
  size: number;
}

export function stateDigestText(entries: Iterable<StateEntry>): string {
  const list = [...entries].sort((a, b) => compareBytewise(a.path, b.path));
  let out = '';
  for (const e of list) out += `${e.sha256} ${e.size} ${e.path}\n`;
  return out;
}
