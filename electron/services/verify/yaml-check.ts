/**
 * "manifest.yaml must parse as YAML" without holding a whole document tree in
 * memory. A manifest that lists 100,000 files is ~15 MB of YAML, and the
 * `yaml` library's document for it takes several hundred MB and seconds. The
 * content is informational (spec section 3), so only its well-formedness is
 * checked:
 * - up to SMALL_YAML bytes: one ordinary parse (unique keys);
 * - larger: the document is cut at its top-level keys, and a top-level block
 *   sequence at its items, and each piece is parsed on its own (with its key
 *   line, so indentation is unchanged); top-level keys must stay unique.
 *   Anything the cut cannot represent (directives, several documents, a piece
 *   that does not parse alone) falls back to the ordinary parse, so a valid
 *   document is never refused because of the cut.
 */
import { parse } from 'yaml';

export const SMALL_YAML = 1024 * 1024;
const PIECE = 256 * 1024;

/** Throws an Error whose message says what is wrong when `text` is not YAML. */
export function checkYaml(text: string): void {
  if (text.length <= SMALL_YAML || !checkInPieces(text)) parse(text, { uniqueKeys: true });
}

/** Returns true when the document was checked in pieces; false to fall back. */
function checkInPieces(text: string): boolean {
  const lines = text.split('\n');
  if (lines.some((l) => l.startsWith('%') || l.startsWith('---') || l.startsWith('...'))) return false;
  const keys = new Set<string>();
  let piece: string[] = [];
  let pieceLen = 0;
  let head: string | null = null; // the current top-level key line, repeated before each item piece
  const flush = (): boolean => {
    if (piece.length === 0) return true;
    if (!isSimpleSequencePiece(piece)) {
      try {
        parse(piece.join('\n'), { uniqueKeys: true });
      } catch {
        return false;
      }
    }
    piece = [];
    pieceLen = 0;
    return true;
  };
  for (const line of lines) {
    const topLevel = line.length > 0 && line[0] !== ' ' && line[0] !== '#' && line[0] !== '\t';
    if (topLevel) {
      if (line.startsWith('- ') || line === '-') return false; // a top-level sequence: not a manifest mapping
      const m = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^:#]+?)\s*:(?:\s|$)/.exec(line);
      if (!m) return false;
      if (keys.has(m[1])) throw new Error(`duplicate top-level key ${m[1]}`);
      keys.add(m[1]);
      if (!flush()) return false;
      head = line;
      piece.push(line);
      pieceLen = line.length;
      continue;
    }
    if (head === null) {
      if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
      return false;
    }
    // An item of a block sequence under the current key: a place to cut once the piece is big.
    if (pieceLen > PIECE && /^ *- /.test(line) && line.indexOf('-') <= 2) {
      if (!flush()) return false;
      piece.push(head);
      pieceLen = head.length;
    }
    piece.push(line);
    pieceLen += line.length + 1;
  }
  return flush();
}

const KEY = '[A-Za-z_][A-Za-z0-9_]*';
// A plain scalar that YAML reads as itself: no spaces, no indicator first, no ": " or " #".
const PLAIN = '[A-Za-z0-9_./+-][A-Za-z0-9_./+:=@-]*';
// A double-quoted scalar with JSON-style escapes only.
const QUOTED = '"(?:[^"\\\\\\x00-\\x1f]|\\\\["\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4})*"';
const HEAD_RE = new RegExp(`^${KEY}:\\s*$`);
const ITEM_RE = new RegExp(`^  - (${KEY}): (?:${PLAIN}|${QUOTED})\\s*$`);
const FIELD_RE = new RegExp(`^    (${KEY}): (?:${PLAIN}|${QUOTED})\\s*$`);

/**
 * The shape manifests use for their file lists, recognised line by line (fast
 * path): `key:` then items of `  - k: scalar` / `    k: scalar` lines with
 * simple keys, plain or JSON-quoted scalars and no repeated key in an item.
 * Such a piece is valid YAML by construction; anything else is parsed.
 */
function isSimpleSequencePiece(piece: string[]): boolean {
  if (!HEAD_RE.test(piece[0]) || piece.length < 2) return false;
  let seen = new Set<string>();
  for (let i = 1; i < piece.length; i++) {
    const line = piece[i];
    let m = ITEM_RE.exec(line);
    if (m) {
      seen = new Set([m[1]]);
      continue;
    }
    m = FIELD_RE.exec(line);
    if (!m || i === 1 || seen.has(m[1])) return false;
    seen.add(m[1]);
  }
  return true;
}
