import type { LibraryEntry } from '../../../../shared/contract';

/** Mirror bundles in generation order (full, then its deltas), then the rest (Trivy DBs) by kind and file. */
export function sortLibrary(entries: readonly LibraryEntry[]): LibraryEntry[] {
  return [...entries].sort((a, b) => {
    const ga = a.generation ?? Number.POSITIVE_INFINITY;
    const gb = b.generation ?? Number.POSITIVE_INFINITY;
    if (ga !== gb) return ga - gb;
    return a.kind.localeCompare(b.kind) || a.file.localeCompare(b.file);
  });
}
