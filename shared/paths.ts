/**
 * Bundle path rules (spec conventions and section 2). Pure.
 * Paths inside a bundle are relative, '/'-separated, UTF-8 NFC, with no
 * '.'/'..' segments, no leading '/', no backslash, no NUL.
 */

export type PathProblem =
  | 'empty'
  | 'absolute'
  | 'backslash'
  | 'nul'
  | 'dot-segment'
  | 'dotdot-segment'
  | 'empty-segment'
  | 'not-nfc';

/** Returns the first problem with a relative bundle path, or null when it is safe. */
export function bundlePathProblem(p: string): PathProblem | null {
  if (p.length === 0) return 'empty';
  if (p.includes('\0')) return 'nul';
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) return 'absolute';
  if (p.includes('\\')) return 'backslash';
  for (const seg of p.split('/')) {
    if (seg === '..') return 'dotdot-segment';
    if (seg === '.') return 'dot-segment';
    if (seg === '') return 'empty-segment';
  }
  if (p.normalize('NFC') !== p) return 'not-nfc';
  return null;
}

export function describePathProblem(problem: PathProblem): string {
  switch (problem) {
    case 'empty': return 'an empty path';
    case 'absolute': return 'an absolute path';
    case 'backslash': return 'a path with a backslash';
    case 'nul': return 'a path with a NUL byte';
    case 'dot-segment': return 'a path with a "." segment';
    case 'dotdot-segment': return 'a path that climbs out with ".."';
    case 'empty-segment': return 'a path with an empty segment ("//")';
    case 'not-nfc': return 'a path that is not Unicode NFC';
  }
}

/** Bytewise (UTF-8) comparison, as the spec sorts paths. */
export function compareBytewise(a: string, b: string): number {
  if (a === b) return 0;
  // For strings without surrogates, UTF-16 order equals code point order except
  // for the U+E000..U+FFFF vs supplementary range; compare code points to match UTF-8 order.
  const ai = a[Symbol.iterator]();
  const bi = b[Symbol.iterator]();
  for (;;) {
    const x = ai.next();
    const y = bi.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

/** The payload files: everything under mirror/ except the control files (spec section 2). */
export function isPayloadPath(rel: string): boolean {
  return !(
    rel === 'export.json' ||
    rel === 'manifest.yaml' ||
    rel === 'provenance.json' ||
    rel.startsWith('signatures/') ||
    rel.startsWith('delta/')
  );
}
