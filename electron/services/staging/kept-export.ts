/**
 * A generation's kept export.json read as a stream (issue 13: with a long
 * file list it is hundreds of MB): its SHA-256 and its signed `state.digest`
 * in one pass through a fixed buffer, without parsing the file list.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Strings longer than this are not collected (keys and the digest are short). */
const MAX_COLLECT = 512;

/**
 * Finds the top-level object's "state" object's "digest" string in JSON fed
 * in chunks. Tracks only nesting, strings and the keys at the two levels it
 * needs; the last occurrence wins, as with JSON.parse. Meant for a document
 * already known to be well-formed (its digest matches the verified bytes).
 */
export class StateDigestScanner {
  private depth = 0;
  private inString = false;
  private escape = false;
  private collected: number[] | null = null;
  private afterColon = false;
  /** A string just finished that may be a key (waiting for ':'). */
  private pending: string | null = null;
  private topKey: string | null = null;
  private stateDepth = 0;
  private stateKey: string | null = null;
  digest: string | null = null;

  update(chunk: Buffer): void {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (c === BACKSLASH) this.escape = true;
        else if (c === QUOTE) {
          this.inString = false;
          this.endString();
          continue;
        }
        if (this.collected) {
          if (this.collected.length < MAX_COLLECT) this.collected.push(c);
          else this.collected = null;
        }
        continue;
      }
      switch (c) {
        case QUOTE:
          this.inString = true;
          // Only strings at the levels that matter are collected.
          this.collected = this.depth === 1 || (this.stateDepth > 0 && this.depth === this.stateDepth) ? [] : null;
          break;
        case 0x3a: // ':'
          // A key not collected (too long) is none of the ones looked for.
          if (this.depth === 1) this.topKey = this.pending;
          else if (this.stateDepth > 0 && this.depth === this.stateDepth) this.stateKey = this.pending;
          this.pending = null;
          this.afterColon = true;
          break;
        case 0x7b: // '{'
        case 0x5b: // '['
          if (c === 0x7b && this.depth === 1 && this.afterColon && this.topKey === 'state') {
            this.stateDepth = 2;
            this.stateKey = null;
          }
          this.depth++;
          this.afterColon = false;
          this.pending = null;
          break;
        case 0x7d: // '}'
        case 0x5d: // ']'
          if (this.stateDepth > 0 && this.depth === this.stateDepth) this.stateDepth = 0;
          this.depth--;
          this.afterColon = false;
          this.pending = null;
          break;
        case 0x2c: // ','
          this.afterColon = false;
          this.pending = null;
          break;
        default:
          break;
      }
    }
  }

  private endString(): void {
    const raw = this.collected;
    this.collected = null;
    const text = raw ? decodeJsonString(raw) : null;
    if (this.afterColon) {
      this.afterColon = false;
      if (this.stateDepth > 0 && this.depth === this.stateDepth && this.stateKey === 'digest' && text !== null) this.digest = text;
      return;
    }
    this.pending = text;
  }
}

function decodeJsonString(raw: number[]): string | null {
  try {
    return JSON.parse(`"${Buffer.from(raw).toString('utf8')}"`) as string;
  } catch {
    return null;
  }
}

/** SHA-256 (hex) of a kept export.json and its signed state digest (null when it has none), read once through a fixed buffer. */
export function readKeptExport(file: string): { sha256: string; stateDigest: string | null } {
  const fd = openSync(file, 'r');
  try {
    const h = createHash('sha256');
    const scan = new StateDigestScanner();
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n = readSync(fd, buf, 0, buf.length, null); n > 0; n = readSync(fd, buf, 0, buf.length, null)) {
      const chunk = buf.subarray(0, n);
      h.update(chunk);
      scan.update(chunk);
    }
    return { sha256: h.digest('hex'), stateDigest: scan.digest };
  } finally {
    closeSync(fd);
  }
}
