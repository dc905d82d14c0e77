/**
 * Strict reading of signed JSON (spec conventions: "Signed JSON has no
 * duplicate object keys anywhere"). A signature covers bytes; two parsers must
 * not read different values from them. Pure.
 *
 * Refused, besides what JSON.parse refuses:
 * - a duplicate key in any object (compared after unescaping: "a" and "\u0061" are the same key),
 * - a lone UTF-16 surrogate escape (\ud800 without its pair): not Unicode text,
 * - an integer literal beyond ±(2^53 − 1): parsers disagree on its value,
 * - nesting deeper than 256 levels.
 *
 * The check is one scan over the text without building values (JSON.parse,
 * native and fast, builds them), holding only the key sets of the objects
 * that are open at that point.
 */

const MAX_NESTING = 256;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function stringEnd(text: string, start: number): number {
  let j = start;
  for (;;) {
    j = text.indexOf('"', j + 1);
    if (j < 0) return text.length;
    let k = j - 1;
    while (text.charCodeAt(k) === 0x5c) k--;
    if ((j - 1 - k) % 2 === 0) return j;
  }
}

/**
 * The first strictness problem of a text that JSON.parse accepted, or null.
 * (On text JSON.parse refuses the answer is meaningless: call it after.)
 */
export function strictJsonProblem(text: string): string | null {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const end = stringEnd(text, i);
      const raw = text.slice(i + 1, end);
      const escaped = raw.includes('\\');
      const value = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
      if (escaped && raw.includes('\\u') && LONE_SURROGATE.test(value)) return `a string with a lone surrogate escape ("${raw.slice(0, 80)}")`;
      if (expectKey) {
        const keys = stack[stack.length - 1]!;
        if (keys.has(value)) return `the key "${value.slice(0, 120)}" appears twice in one object`;
        keys.add(value);
        expectKey = false;
      }
      i = end + 1;
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      stack.push(c === 0x7b ? new Set() : null);
      if (stack.length > MAX_NESTING) return `nesting deeper than ${MAX_NESTING} levels`;
      expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack.length > 0 && stack[stack.length - 1] !== null;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      let integer = true;
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        if (d >= 0x30 && d <= 0x39) continue;
        if (d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d) {
          integer = false;
          continue;
        }
        break;
      }
      if (integer && j - i > 15 && !Number.isSafeInteger(Number(text.slice(i, j)))) return `the integer ${text.slice(i, Math.min(j, i + 40))} is beyond 2^53, where JSON parsers disagree on its value`;
      i = j;
      continue;
    }
    i++;
  }
  return null;
}

/**
 * strictJsonProblem's answer for a flat object without scanning it (an entry
 * of export.json's file list, 100,000s of them), given the value JSON.parse
 * made of `text`: no value an object or array (no nesting), no backslash in
 * the text (so no escape, hence no lone surrogate, and no '"' inside a
 * string: every '"' starts or ends one), as many keys in the text as
 * JSON.parse kept (a duplicate key leaves fewer) and no integer beyond 2^53.
 * True: strictJsonProblem would say null. False: not known, it decides.
 * A rule added to strictJsonProblem must be added here too.
 */
export function isFlatStrict(text: string, value: unknown): boolean {
  if (!value || typeof value !== 'object' || Array.isArray(value) || text.indexOf('\\') !== -1) return false;
  let keys = 0;
  for (const k in value) {
    const v = (value as Record<string, unknown>)[k];
    if (typeof v === 'object' && v !== null) return false;
    if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) return false;
    keys++;
  }
  // A string followed by ':' (after any whitespace) is a key.
  let named = 0;
  for (let q = text.indexOf('"'); q !== -1; ) {
    let j = text.indexOf('"', q + 1) + 1;
    for (let c = text.charCodeAt(j); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = text.charCodeAt(++j));
    if (text.charCodeAt(j) === 0x3a) named++;
    q = text.indexOf('"', j);
  }
  return named === keys;
}

export class StrictJsonError extends Error {}

/** JSON.parse, then the strictness check; throws StrictJsonError (message: the problem) on either. */
export function parseStrictJson(text: string): unknown {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new StrictJsonError(`it is not valid JSON (${(e as Error).message})`);
  }
  const problem = strictJsonProblem(text);
  if (problem) throw new StrictJsonError(`it is not strict JSON: ${problem}`);
  return v;
}
