/**
 * A streaming parse of export.json (issue 13): its bytes are fed as they come
 * out of the tar stream and are never held whole. The top-level object is
 * cut into its members; each entry of `files` is parsed on its own (strict
 * JSON: UTF-8, no duplicate keys, no lone surrogates, safe integers) and
 * checked in order (schema, path rules, sorted bytewise without repeats, no
 * file that is also a folder), then stored in a compact FileList and fed to
 * the state digest (`<sha256-hex> <size> <path>\n` lines, spec section 3).
 * The other top-level values are small and parsed normally (their bytes
 * together are capped).
 *
 * Errors keep the codes, messages and precedence of the whole-document
 * parse (./export-schema): not JSON, then not strict JSON, then the schema
 * version, then the schema (fields in the schema's order), then paths,
 * `removed`, the variant rules and the per-file encryption fields.
 *
 * Memory: ~80 bytes per listed file (FileList) plus the largest single entry;
 * the only ceiling on export.json's size is the file count (the gate's
 * maxMembers, 1,000,000 by default: more entries than that is ERR_BUNDLE_LIMIT)
 * and 256 MiB for the top-level values other than `files` together.
 */
import { isAscii } from 'node:buffer';
import { createHash, type Hash } from 'node:crypto';
import { OpsError } from '../../../shared/errors';
import { escapeUntrusted } from '../../../shared/escape';
import { bundlePathProblem, describePathProblem, isPayloadPath, type PathPolicyOptions } from '../../../shared/paths';
import { isFlatStrict, strictJsonProblem } from '../../../shared/strict-json';
import { ExportJsonSchema, FileEntrySchema, SUPPORTED_SCHEMA_VERSION, corrupt, decodeUtf8Strict, isEncryptedFile, type ExportJson } from './export-schema';
import { FileList, type DigestSource, type FileEntry } from './file-list';

const MAX_NESTING = 256;
/** The top-level values other than `files`, together. */
export const OTHER_FIELDS_CAP = 256 * 1024 * 1024;
/** One entry of `files`. */
const ENTRY_CAP = 1024 * 1024;
const HEX64 = /^[0-9a-f]{64}$/;

const S_START = 0;
const S_KEY_OR_END = 1;
const S_KEY = 2;
const S_COLON = 3;
const S_VALUE = 4;
const S_CAPTURE = 5;
const S_AFTER_VALUE = 6;
const S_FILES_FIRST = 7;
const S_FILES_NEXT = 8;
const S_FILES_ELEM = 9;
const S_DONE = 10;
const S_FAILED = 11;

const T_KEY = 0;
const T_FIELD = 1;
const T_ENTRY = 2;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

export interface ExportStreamOptions extends PathPolicyOptions {
  /** More `files` entries than this is ERR_BUNDLE_LIMIT (the gate's member limit). */
  maxFiles?: number;
  /** Called for each accepted entry of `files`, in order. */
  onEntry?: (index: number, list: FileList) => void;
  /**
   * Digest sharing: `digests` holds digests by id, and `share` returns the id
   * under which it holds this entry's very digest (its member was read and
   * matched), or -1. The list then keeps 4 bytes for such an entry, not 32.
   * An id also vouches for the path: the tar gate admitted `mirror/<path>`
   * under the same path rules (see entry()).
   */
  digests?: DigestSource;
  share?: (e: FileEntry, pathBytes: Buffer) => number;
}

export class ExportJsonStream {
  readonly files = new FileList();
  private st = S_START;
  private offset = 0;
  /** The first byte-level problem: not JSON (or a limit). */
  private invalid: OpsError | null = null;
  /** The first strictness problem (duplicate key, surrogate, big integer, nesting). */
  private strict: string | null = null;
  /** The first schema problem of an entry of `files` (as zod words it). */
  private entrySchema: OpsError | null = null;
  /** The first path problem in `files` (rules, order) and the first file/folder clash. */
  private entryPath: OpsError | null = null;
  private entryClash: OpsError | null = null;
  private readonly keys = new Set<string>();
  private readonly fields = new Map<string, unknown>();
  private fieldBytes = 0;
  private key = '';
  private filesSeen = false;
  /** Entries of `files` read so far (accepted or not). */
  private entries = 0;
  // Capture of one value (a key, a top-level value, an entry of files).
  private cap = Buffer.allocUnsafe(4096);
  private capLen = 0;
  private capTarget = T_KEY;
  private capDepth = 0;
  private capInStr = false;
  private capEsc = false;
  private capScalar = false;
  private capLimit = 0;
  // Order of files.
  private prevPath: Buffer | null = null;
  /** Earlier paths that later ones may lie below (each a prefix of the next). */
  private readonly prefixes: string[] = [];
  private readonly state: Hash = createHash('sha256');
  private stateLines = '';
  private stateDigest = '';
  // Backslash search cache for the current chunk.
  private bsChunk: Buffer | null = null;
  private bsNext = -1;

  constructor(private readonly o: ExportStreamOptions = {}) {
    if (o.digests) this.files.shareDigestsWith(o.digests);
  }

  /** A top-level value already read (undefined: not (yet) in the document). */
  field(name: string): unknown {
    return this.fields.get(name);
  }

  /** True once a problem makes the document unusable (the rest is still read for the first error). */
  get failed(): boolean {
    return this.invalid !== null || this.strict !== null || this.entrySchema !== null;
  }

  private fail(why: string): void {
    this.invalid ??= corrupt(`it is not valid JSON (${why} at byte ${this.offset})`);
    this.st = S_FAILED;
  }

  write(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    const base = this.offset;
    while (i < n && this.st !== S_FAILED) {
      if (this.st === S_CAPTURE) {
        i = this.captureStep(chunk, i);
        continue;
      }
      const c = chunk[i];
      if (isWs(c)) {
        i++;
        continue;
      }
      this.offset = base + i;
      switch (this.st) {
        case S_START:
          if (c !== 0x7b) return this.fail(`expected "{"${i === 0 && c === 0xef ? ' (a byte-order mark is not allowed)' : ''}`);
          this.st = S_KEY_OR_END;
          i++;
          break;
        case S_KEY_OR_END:
        case S_KEY:
          if (c === 0x7d && this.st === S_KEY_OR_END) {
            this.st = S_DONE;
            i++;
            break;
          }
          if (c !== 0x22) return this.fail('expected a key');
          this.beginCapture(T_KEY, 4096 * 4);
          break;
        case S_COLON:
          if (c !== 0x3a) return this.fail('expected ":"');
          this.st = S_VALUE;
          i++;
          break;
        case S_VALUE:
          if (this.key === 'files' && c === 0x5b) {
            this.filesSeen = true;
            this.st = S_FILES_FIRST;
            i++;
            break;
          }
          this.beginCapture(T_FIELD, OTHER_FIELDS_CAP - this.fieldBytes);
          break;
        case S_AFTER_VALUE:
          if (c === 0x2c) this.st = S_KEY;
          else if (c === 0x7d) this.st = S_DONE;
          else return this.fail('expected "," or "}"');
          i++;
          break;
        case S_FILES_FIRST:
        case S_FILES_ELEM:
          if (c === 0x5d && this.st === S_FILES_FIRST) {
            this.st = S_AFTER_VALUE;
            i++;
            break;
          }
          this.beginCapture(T_ENTRY, ENTRY_CAP);
          break;
        case S_FILES_NEXT:
          if (c === 0x2c) this.st = S_FILES_ELEM;
          else if (c === 0x5d) this.st = S_AFTER_VALUE;
          else return this.fail('expected "," or "]"');
          i++;
          break;
        case S_DONE:
          return this.fail('unexpected data after the JSON object');
        default:
          return this.fail('unexpected byte');
      }
    }
    this.offset = base + n;
  }

  private beginCapture(target: number, limit: number): void {
    this.capTarget = target;
    this.capLen = 0;
    this.capDepth = 0;
    this.capInStr = false;
    this.capEsc = false;
    this.capScalar = false;
    this.capLimit = limit;
    this.st = S_CAPTURE;
    this.capFirst = true;
  }
  private capFirst = true;

  private append(chunk: Buffer, from: number, to: number): boolean {
    const len = to - from;
    if (len <= 0) return true;
    if (this.capLen + len > this.capLimit) {
      const what = this.capTarget === T_ENTRY ? `an entry of "files" larger than ${ENTRY_CAP} bytes` : this.capTarget === T_KEY ? 'a key longer than 16 KiB' : `top-level values other than "files" larger than ${OTHER_FIELDS_CAP} bytes together`;
      this.invalid ??= new OpsError('ERR_BUNDLE_LIMIT', `export.json holds ${what}; this console does not read it.`, { path: 'mirror/export.json', details: { member: 'mirror/export.json' } });
      this.st = S_FAILED;
      return false;
    }
    if (this.capLen + len > this.cap.length) {
      let size = this.cap.length * 2;
      while (size < this.capLen + len) size *= 2;
      const next = Buffer.allocUnsafe(size);
      this.cap.copy(next, 0, 0, this.capLen);
      this.cap = next;
    }
    chunk.copy(this.cap, this.capLen, from, to);
    this.capLen += len;
    return true;
  }

  /** Index of the next backslash at or after i in chunk, or -1. */
  private nextBackslash(chunk: Buffer, i: number): number {
    if (this.bsChunk !== chunk || (this.bsNext !== -1 && this.bsNext < i)) {
      this.bsChunk = chunk;
      this.bsNext = chunk.indexOf(0x5c, i);
    }
    return this.bsNext;
  }

  /** Scans one value's bytes; returns where the scan stopped. Calls finish() when the value is complete. */
  private captureStep(chunk: Buffer, start: number): number {
    let i = start;
    const n = chunk.length;
    if (this.capFirst) {
      this.capFirst = false;
      const c = chunk[i];
      if (c === 0x22) {
        this.capInStr = true;
        i++;
      } else if (c === 0x7b || c === 0x5b) {
        this.capDepth = 1;
        i++;
      } else {
        if (this.capTarget === T_KEY) {
          this.fail('expected a key');
          return n;
        }
        this.capScalar = true;
      }
      if (this.depthBase() + this.capDepth > MAX_NESTING) this.strict ??= `nesting deeper than ${MAX_NESTING} levels`;
    }
    while (i < n) {
      if (this.capInStr) {
        if (this.capEsc) {
          this.capEsc = false;
          i++;
          continue;
        }
        const q = chunk.indexOf(0x22, i);
        const b = this.nextBackslash(chunk, i);
        if (b !== -1 && (q === -1 || b < q)) {
          this.capEsc = true;
          i = b + 1;
          continue;
        }
        if (q === -1) {
          i = n;
          break;
        }
        this.capInStr = false;
        i = q + 1;
        if (this.capDepth === 0) return this.finish(chunk, start, i);
        continue;
      }
      const c = chunk[i];
      if (this.capScalar) {
        if (c === 0x2c || c === 0x7d || c === 0x5d || isWs(c)) return this.finish(chunk, start, i);
        i++;
        continue;
      }
      if (c === 0x22) this.capInStr = true;
      else if (c === 0x7b || c === 0x5b) {
        if (this.depthBase() + ++this.capDepth > MAX_NESTING) this.strict ??= `nesting deeper than ${MAX_NESTING} levels`;
      } else if (c === 0x7d || c === 0x5d) {
        if (--this.capDepth === 0) return this.finish(chunk, start, i + 1);
      }
      i++;
    }
    this.append(chunk, start, n);
    return n;
  }

  private depthBase(): number {
    return this.capTarget === T_ENTRY ? 2 : 1;
  }

  /** A value is complete: chunk[start, end) is its last part. */
  private finish(chunk: Buffer, start: number, end: number): number {
    let bytes: Buffer;
    if (this.capLen === 0 && end - start <= this.capLimit) {
      // The whole value is in this chunk (most are): read in place, not copied to the capture buffer first.
      bytes = chunk.subarray(start, end);
      this.capLen = end - start;
    } else {
      if (!this.append(chunk, start, end)) return chunk.length;
      bytes = this.cap.subarray(0, this.capLen);
    }
    const target = this.capTarget;
    if (target === T_ENTRY) {
      // The shape producers write, read straight from the bytes (no text, no JSON.parse, nothing to re-check).
      const e = readPlainEntry(bytes);
      if (e) {
        this.entry(e, true);
        this.st = S_FILES_NEXT;
        if (this.cap.length > 1 << 20) this.cap = Buffer.allocUnsafe(4096);
        return end;
      }
    }
    let value: unknown;
    let text: string;
    try {
      text = decodeUtf8Strict(bytes);
      value = JSON.parse(text);
    } catch (e) {
      this.fail((e as Error).message);
      return chunk.length;
    }
    if (!this.strict && !(target === T_ENTRY && isFlatStrict(text, value))) {
      const problem = strictJsonProblem(text);
      if (problem) this.strict = problem;
    }
    if (target === T_KEY) {
      const key = value as string;
      if (this.keys.has(key)) this.strict ??= `the key "${key.slice(0, 120)}" appears twice in one object`;
      this.keys.add(key);
      this.key = key;
      this.st = S_COLON;
    } else if (target === T_FIELD) {
      this.fieldBytes += this.capLen;
      this.fields.set(this.key, value);
      this.st = S_AFTER_VALUE;
    } else {
      this.entry(value);
      this.st = S_FILES_NEXT;
    }
    if (this.cap.length > 1 << 20) this.cap = Buffer.allocUnsafe(4096);
    return end;
  }

  /** One entry of `files`, in order (`plain`: readPlainEntry read it, its shape is known good). */
  private entry(value: unknown, plain = false): void {
    const i = this.entries++;
    if (this.failed) return;
    const max = this.o.maxFiles;
    if (max !== undefined && i + 1 > max) {
      this.invalid ??= new OpsError('ERR_BUNDLE_LIMIT', `export.json lists more than ${max} files, the member limit of a bundle.`, { path: 'mirror/export.json', details: { member: 'mirror/export.json', limit: 'maxMembers', value: max } });
      this.st = S_FAILED;
      return;
    }
    const e = value as FileEntry;
    if (!plain && !isPlainEntry(e)) {
      const r = FileEntrySchema.safeParse(value);
      if (!r.success) {
        const issue = r.error.issues[0];
        this.entrySchema = corrupt(`"${['files', i, ...issue.path].join('.')}" ${issue.message.charAt(0).toLowerCase()}${issue.message.slice(1)}`);
        return;
      }
    }
    const pathBytes = Buffer.from(e.path, 'utf8');
    let shared = -1;
    if (!this.entryPath) {
      shared = this.o.share?.(e, pathBytes) ?? -1;
      // A shared entry names a member the tar gate admitted as `mirror/<path>` under the same rules
      // (one call per path, not two): on that name they say the same of <path>, its segments,
      // depth, length and normal form being a part of it, except a drive-letter start
      // ("C:..."), absolute alone at the start of a name.
      const problem = shared >= 0 ? (DRIVE_PREFIX.test(e.path) ? 'absolute' : null) : bundlePathProblem(e.path, this.o);
      if (problem) this.entryPath = corrupt(`"files" holds ${describePathProblem(problem, this.o)}: "${escapeUntrusted(e.path)}"`);
      else if (!isPayloadPath(e.path)) this.entryPath = corrupt(`"files" lists the control file "${escapeUntrusted(e.path)}", which is not a payload file`);
      else if (this.prevPath) {
        const c = Buffer.compare(this.prevPath, pathBytes);
        if (c === 0) this.entryPath = corrupt(`"files" lists "${escapeUntrusted(e.path)}" twice`);
        else if (c > 0) this.entryPath = corrupt(`"files" is not sorted by path ("${escapeUntrusted(this.prevPath.toString('utf8'))}" comes before "${escapeUntrusted(e.path)}")`);
      }
      if (!this.entryPath && !this.entryClash) this.checkClash(e.path);
    }
    this.prevPath = pathBytes;
    if (this.entryPath) return; // the list is refused; only schema problems of later entries still matter
    // sha256 (and storedSha256) were checked above: by readPlainEntry, isPlainEntry or the schema.
    const at = this.files.push(e, pathBytes, shared, true);
    // The state digest's lines, hashed some 64 KiB at a time (one call per line cost more than the hashing).
    this.stateLines += `${e.sha256} ${e.size} ${e.path}\n`;
    if (this.stateLines.length > 65536) {
      this.state.update(this.stateLines, 'utf8');
      this.stateLines = '';
    }
    this.o.onEntry?.(at, this.files);
  }

  /** A file listed as a file and as a folder of a later entry (the list is sorted, so such pairs nest). */
  private checkClash(path: string): void {
    const s = this.prefixes;
    while (s.length) {
      const top = s[s.length - 1];
      if (path.startsWith(top) && path.length > top.length && path.charCodeAt(top.length) <= 0x2f) break;
      s.pop();
    }
    if (s.length && path.charCodeAt(s[s.length - 1].length) === 0x2f) {
      this.entryClash = corrupt(`"files" lists "${escapeUntrusted(s[s.length - 1])}" as a file and "${escapeUntrusted(path)}" below it`);
      return;
    }
    s.push(path);
  }

  /** The document is complete: the checks that need all of it; returns the parsed export.json. */
  end(): ExportJson {
    if (this.st !== S_DONE && !this.invalid) {
      this.offset = Math.max(this.offset, 0);
      this.invalid = corrupt(`it is not valid JSON (unexpected end of the document at byte ${this.offset})`);
    }
    if (this.invalid) throw this.invalid;
    if (this.strict) throw corrupt(`it is not strict JSON: ${this.strict}`);
    const version = this.fields.get('schemaVersion');
    if (version === undefined) throw corrupt('"schemaVersion" is missing');
    if (version !== SUPPORTED_SCHEMA_VERSION) {
      throw new OpsError(
        'ERR_EXPORT_UNSUPPORTED_SCHEMA',
        `export.json has schemaVersion ${JSON.stringify(version)}; this console accepts only schemaVersion ${SUPPORTED_SCHEMA_VERSION}.`,
        { path: 'mirror/export.json', details: { schemaVersion: version } },
      );
    }
    const doc: Record<string, unknown> = {};
    for (const [k, v] of this.fields) doc[k] = v;
    if (this.filesSeen) doc.files = [];
    const r = ExportJsonSchema.safeParse(doc);
    if (!r.success) {
      const issue = r.error.issues[0];
      const afterFiles = ['removed', 'state', 'encryption'].includes(String(issue.path[0]));
      if (!(afterFiles && this.entrySchema)) {
        const where = issue.path.length ? `"${issue.path.join('.')}"` : 'the document';
        throw corrupt(`${where} ${issue.message.charAt(0).toLowerCase()}${issue.message.slice(1)}`);
      }
    }
    if (this.entrySchema) throw this.entrySchema;
    if (this.entryPath) throw this.entryPath;
    if (this.entryClash) throw this.entryClash;
    const files = this.files.done();
    this.state.update(this.stateLines, 'utf8');
    this.stateLines = '';
    this.stateDigest = 'sha256:' + this.state.digest('hex');
    files.stateDigest = this.stateDigest;
    const exp = { ...r.data!, files } as ExportJson;
    checkRemoved(exp, this.o);
    files.pathsChecked = true;
    return exp;
  }
}

/** What bundlePathProblem calls absolute besides a leading '/' (which a gate-admitted member's part never has). */
const DRIVE_PREFIX = /^[A-Za-z]:/;

/** 1 for the bytes of lowercase hex digits. */
const LOWER_HEX = new Uint8Array(256);
for (const c of '0123456789abcdef') LOWER_HEX[c.charCodeAt(0)] = 1;

const K_PATH = 1;
const K_SHA256 = 2;
const K_SIZE = 4;
const K_MEDIA = 8;
const K_REQUIRED = K_PATH | K_SHA256 | K_SIZE;

function skipWs(b: Buffer, i: number, n: number): number {
  while (i < n && isWs(b[i])) i++;
  return i;
}

/** The known keys as bytes, and what each is (parallel arrays: indexed loops, no iterator per call). */
const KEY_WORDS: readonly Buffer[] = ['path', 'sha256', 'size', 'mediaType'].map((w) => Buffer.from(w, 'latin1'));
const KEY_IDS: readonly number[] = [K_PATH, K_SHA256, K_SIZE, K_MEDIA];

/** Which known key b[s, e) spells (0: another one), compared as bytes (no string made). */
function keyOf(b: Buffer, s: number, e: number): number {
  const n = e - s;
  for (let w = 0; w < KEY_WORDS.length; w++) {
    const word = KEY_WORDS[w];
    if (word.length !== n) continue;
    let j = 0;
    while (j < n && b[s + j] === word[j]) j++;
    if (j === n) return KEY_IDS[w];
  }
  return 0;
}

/**
 * An entry of `files` in the shape producers write, read straight from its
 * bytes: a flat object of exactly the keys path, sha256 and size, and
 * optionally mediaType, each once, in any order, with JSON whitespace
 * anywhere between tokens; strings of printable ASCII without escapes,
 * sha256 as 64 lowercase hex digits, size as a plain decimal integer of at
 * most 15 digits (no sign, fraction, exponent or leading zero). Such bytes
 * are strict JSON that JSON.parse reads as the object returned here and
 * isPlainEntry accepts; anything else returns null, and the general parse
 * (JSON.parse, the strictness scan, zod's messages) decides.
 */
export function readPlainEntry(b: Buffer): FileEntry | null {
  const n = b.length;
  // No escape and no byte beyond ASCII anywhere (each a native scan): strings are then their own bytes.
  if (b.indexOf(0x5c) !== -1 || !isAscii(b)) return null;
  let i = skipWs(b, 0, n);
  if (b[i] !== 0x7b) return null;
  i = skipWs(b, i + 1, n);
  let seen = 0;
  let path = '';
  let sha256 = '';
  let size = 0;
  let mediaType: string | undefined;
  for (;;) {
    if (b[i] !== 0x22) return null;
    const ks = i + 1;
    const ke = b.indexOf(0x22, ks);
    if (ke === -1) return null;
    const key = keyOf(b, ks, ke);
    if (key === 0 || (seen & key) !== 0) return null;
    seen |= key;
    i = skipWs(b, ke + 1, n);
    if (b[i] !== 0x3a) return null;
    i = skipWs(b, i + 1, n);
    if (key === K_SIZE) {
      const s = i;
      if (b[i] === 0x30) i++;
      else while (i < n && b[i] >= 0x30 && b[i] <= 0x39) size = size * 10 + (b[i++] - 0x30);
      if (i === s || i - s > 15) return null;
    } else {
      if (b[i] !== 0x22) return null;
      const vs = i + 1;
      const ve = b.indexOf(0x22, vs);
      if (ve === -1) return null;
      if (key === K_SHA256) {
        if (ve - vs !== 64) return null;
        for (let k = vs; k < ve; k++) if (LOWER_HEX[b[k]] === 0) return null;
        sha256 = b.toString('latin1', vs, ve);
      } else {
        // A control character is not allowed raw in a JSON string.
        for (let k = vs; k < ve; k++) if (b[k] < 0x20) return null;
        if (key === K_PATH) path = b.toString('latin1', vs, ve);
        else mediaType = b.toString('latin1', vs, ve);
      }
      i = ve + 1;
    }
    i = skipWs(b, i, n);
    if (b[i] === 0x2c) {
      i = skipWs(b, i + 1, n);
      continue;
    }
    if (b[i] !== 0x7d) return null;
    break;
  }
  if (skipWs(b, i + 1, n) !== n || (seen & K_REQUIRED) !== K_REQUIRED) return null;
  return mediaType === undefined ? { path, sha256, size } : { path, sha256, size, mediaType };
}

/** The common shape of an entry, checked without zod (zod words the message when this says no). */
function isPlainEntry(e: unknown): e is FileEntry {
  if (!e || typeof e !== 'object' || Array.isArray(e)) return false;
  const f = e as Record<string, unknown>;
  if (typeof f.path !== 'string' || typeof f.sha256 !== 'string' || !HEX64.test(f.sha256)) return false;
  if (typeof f.size !== 'number' || !Number.isSafeInteger(f.size) || f.size < 0) return false;
  if (f.mediaType !== undefined && typeof f.mediaType !== 'string') return false;
  if (f.storedSha256 !== undefined && (typeof f.storedSha256 !== 'string' || !HEX64.test(f.storedSha256))) return false;
  if (f.storedSize !== undefined && (typeof f.storedSize !== 'number' || !Number.isSafeInteger(f.storedSize) || f.storedSize < 0)) return false;
  return true;
}

/** `removed` (sorted, unique, safe), not also listed; the variant rules; the per-file encryption fields. */
function checkRemoved(exp: ExportJson, policy: PathPolicyOptions): void {
  let prev: string | null = null;
  for (const p of exp.removed) {
    const problem = bundlePathProblem(p, policy);
    if (problem) throw corrupt(`"removed" holds ${describePathProblem(problem, policy)}: "${escapeUntrusted(p)}"`);
    if (!isPayloadPath(p)) throw corrupt(`"removed" lists the control file "${escapeUntrusted(p)}", which is not a payload file`);
    if (prev !== null) {
      const c = Buffer.compare(Buffer.from(prev, 'utf8'), Buffer.from(p, 'utf8'));
      if (c === 0) throw corrupt(`"removed" lists "${escapeUntrusted(p)}" twice`);
      if (c > 0) throw corrupt(`"removed" is not sorted by path ("${escapeUntrusted(prev)}" comes before "${escapeUntrusted(p)}")`);
    }
    prev = p;
  }
  for (const p of exp.removed) if (exp.files.indexOfPath(p) >= 0) throw corrupt(`"${p}" is both in "files" and in "removed"`);
  if (exp.profile.variant === 'full') {
    if (exp.base !== null) throw corrupt('a full bundle must have "base": null');
    if (exp.removed.length) throw corrupt('a full bundle must have an empty "removed" list');
  } else if (exp.base === null && !exp.resetBaseline) {
    throw corrupt('a delta bundle must name its "base"');
  }
  if (!exp.encryption) return;
  const files = exp.files;
  for (let i = 0; i < files.length; i++) {
    const path = files.pathAt(i);
    if (!isEncryptedFile(exp, path)) continue;
    const st = files.storedAt(i);
    const size = files.sizeAt(i);
    if (st.sha256 === undefined || st.size === undefined) throw corrupt(`the encrypted file "${path}" lacks "storedSha256"/"storedSize"`);
    if (st.size !== size + 28) throw corrupt(`the encrypted file "${path}" has storedSize ${st.size}, but nonce + ciphertext + tag of ${size} bytes is ${size + 28}`);
  }
}

/**
 * Parses whole export.json bytes (through the stream). Throws ERR_BUNDLE_CORRUPT
 * (not JSON, or breaks the schema: fields, sorted unique safe paths, variant
 * rules) or ERR_EXPORT_UNSUPPORTED_SCHEMA (a schemaVersion other than 1).
 */
export function parseExportJson(bytes: Buffer, opts: ExportStreamOptions = {}): ExportJson {
  const s = new ExportJsonStream(opts);
  s.write(bytes);
  return s.end();
}
