/** Test support: hashing trees on disk independently of the engine. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stateDigestText, type StateEntry } from '../../../shared/state-digest';

/** The spec's state.digest of the files below `root`, computed from what is on disk. */
export function treeDigest(root: string): string {
  const entries: StateEntry[] = [];
  const walk = (rel: string): void => {
    for (const d of readdirSync(rel ? join(root, rel) : root, { withFileTypes: true })) {
      const p = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) walk(p);
      else {
        const b = readFileSync(join(root, p));
        entries.push({ path: p, sha256: createHash('sha256').update(b).digest('hex'), size: b.length });
      }
    }
  };
  walk('');
  return 'sha256:' + createHash('sha256').update(stateDigestText(entries)).digest('hex');
}

/** A digest of every path and byte below `root` (any change, addition or removal changes it). */
export function treeHash(root: string): string {
  const h = createHash('sha256');
  const walk = (rel: string): void => {
    for (const d of readdirSync(join(root, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) walk(p);
      else h.update(`${p}\0`).update(readFileSync(join(root, p)));
    }
  };
  walk('');
  return h.digest('hex');
}
