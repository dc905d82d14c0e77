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
 * Before either, a line-by-line recogniser accepts the shape manifests have
 * (top-level `key: scalar`, `key:` + indented `k: scalar` lines, block lists
 * of `- k: v` items or scalars, one-line canonical JSON values) without
 * loading the `yaml` library at all: it is valid YAML by construction. The
 * library (~150–300 ms to load) is loaded only when that does not recognise
 * the document.
 */
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

export const SMALL_YAML = 1024 * 1024;
const PIECE = 256 * 1024;

let yamlParse: typeof Yaml.parse | null = null;
/** The `yaml` parser, loaded on first use. */
function parse(text: string, opts: Yaml.ParseOptions & Yaml.DocumentOptions & Yaml.SchemaOptions): unknown {
  yamlParse ??= (createRequire(import.meta.url)('yaml') as typeof Yaml).parse;
  return yamlParse(text, opts);
}

/** Throws an Error whose message says what is wrong when `text` is not YAML. */
export function checkYaml(text: string): void {
  if (isSimpleManifest(text)) return;
  if (text.length <= SMALL_YAML || !checkInPieces(text)) parse(text, { uniqueKeys: true });
}

/** Lines of a text without the empty lines that end it (the last "\n" gives one). */
function linesOf(text: string): string[] {
  const lines = text.split('\n');
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Returns true when the document was checked in pieces; false to fall back. */
function checkInPieces(text: string): boolean {
  const lines = linesOf(text);
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
// A plain scalar that YAML reads as itself: no spaces, no indicator first, no ": " or " #",
// not a lone "-" (a sequence indicator) and no ":" at its end (a nested mapping).
const PLAIN = '(?!-(?:\\s|$))[A-Za-z0-9_./+-][A-Za-z0-9_./+:=@-]*(?<!:)';
// A double-quoted scalar with JSON-style escapes only.
const QUOTED = '"(?:[^"\\\\\\x00-\\x1f]|\\\\["\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4})*"';
const HEAD_RE = new RegExp(`^${KEY}:\\s*$`);
const ITEM_RE = new RegExp(`^  - (${KEY}): (?:${PLAIN}|${QUOTED})\\s*$`);
const FIELD_RE = new RegExp(`^    (${KEY}): (?:${PLAIN}|${QUOTED})\\s*$`);
const TOP_SCALAR_RE = new RegExp(`^(${KEY}): (?:${PLAIN}|${QUOTED})\\s*$`);
const TOP_JSON_RE = new RegExp(`^(${KEY}): ([[{].*)$`);
const TOP_HEAD_RE = new RegExp(`^(${KEY}):$`);
const MAP_FIELD_RE = new RegExp(`^  (${KEY}): (?:${PLAIN}|${QUOTED})\\s*$`);
const SCALAR_ITEM_RE = new RegExp(`^  - (?:${PLAIN}|${QUOTED})\\s*$`);
/** Flow values longer than this go to the library (YAML limits implicit keys to 1024 characters). */
const JSON_FLOW_MAX = 1024;

/**
 * The whole-document fast path: true when every line is one of the shapes
 * manifests use, with unique keys at each level. Such a document is valid
 * YAML by construction. Anything else (comments, anchors, block scalars,
 * other indentation) returns false and goes to the library.
 */
function isSimpleManifest(text: string): boolean {
  const r = new SimpleManifestLines();
  for (const line of linesOf(text)) if (!r.line(line)) return false;
  return r.end();
}

/**
 * The fast path fed line by line (a streamed manifest.yaml is recognised as
 * its bytes arrive, never held whole): `line()` returns false as soon as a
 * line is not one of the recognised shapes; `end()` says whether the whole
 * document was recognised. Empty lines at the end are ignored (as `linesOf`).
 */
export class SimpleManifestLines {
  private readonly top = new Set<string>();
  // What the lines after a `key:` head may be: a nested mapping, a list of mappings, or a list of scalars.
  private block: 'none' | 'head' | 'map' | 'items' | 'scalars' = 'none';
  private seen = new Set<string>();
  /** The current item's lines so far (block 'items'). */
  private readonly itemLines: string[] = [];
  private pendingEmpty = 0;
  private ok = true;

  line(line: string): boolean {
    if (!this.ok) return false;
    if (line === '') {
      this.pendingEmpty++;
      return true;
    }
    for (; this.pendingEmpty > 0; this.pendingEmpty--) if (!this.one('')) return (this.ok = false);
    if (!this.one(line)) this.ok = false;
    return this.ok;
  }

  end(): boolean {
    return this.ok && this.block !== 'head' && this.top.size > 0;
  }

  private one(line: string): boolean {
    let m: RegExpExecArray | null;
    if (line.length > 0 && line[0] !== ' ') {
      if (this.block === 'head') return false; // an empty block: null value, leave it to the library
      if ((m = TOP_SCALAR_RE.exec(line))) this.block = 'none';
      else if ((m = TOP_JSON_RE.exec(line))) {
        const v = m[2];
        // Canonical one-line JSON is YAML flow; the round trip also proves there are no duplicate keys.
        try {
          if (v.length > JSON_FLOW_MAX || JSON.stringify(JSON.parse(v)) !== v) return false;
        } catch {
          return false;
        }
        this.block = 'none';
      } else if ((m = TOP_HEAD_RE.exec(line))) this.block = 'head';
      else return false;
      if (this.top.has(m[1])) return false;
      this.top.add(m[1]);
      return true;
    }
    if (this.block === 'none') return false;
    if (this.block === 'head') {
      if (ITEM_RE.test(line)) {
        this.block = 'items';
        this.itemLines.length = 0;
        this.itemLines.push(line);
      } else if (SCALAR_ITEM_RE.test(line)) this.block = 'scalars';
      else if ((m = MAP_FIELD_RE.exec(line))) {
        this.block = 'map';
        this.seen = new Set([m[1]]);
      } else return false;
      return true;
    }
    if (this.block === 'map') {
      m = MAP_FIELD_RE.exec(line);
      if (!m || this.seen.has(m[1])) return false;
      this.seen.add(m[1]);
    } else if (this.block === 'items') {
      // The file list's three lines per file: test() (no match array), and the item's keys
      // compared in place in its earlier lines (a handful per item): no substring and no set per
      // line or item.
      if (ITEM_RE.test(line)) {
        this.itemLines.length = 0;
      } else {
        if (!FIELD_RE.test(line)) return false;
        const lines = this.itemLines;
        for (let j = 0; j < lines.length; j++) if (sameKeyAt4(line, lines[j])) return false;
      }
      this.itemLines.push(line);
    } else if (!SCALAR_ITEM_RE.test(line)) return false;
    return true;
  }
}

/** Whether two item lines (`  - k: v` / `    k: v`, matched by ITEM_RE or FIELD_RE) have the same key (it starts at 4, ends at its ':'). */
function sameKeyAt4(a: string, b: string): boolean {
  const end = a.indexOf(':', 4);
  if (b.indexOf(':', 4) !== end) return false;
  for (let i = 4; i < end; i++) if (a.charCodeAt(i) !== b.charCodeAt(i)) return false;
  return true;
}

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
