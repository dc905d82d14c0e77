/**
 * Extracting into spare files (issue 13, a delta that costs the delta): a
 * workspace keeps the files a recycled delta build moved out (the old
 * versions of the paths it changed) instead of deleting them, and the next
 * delta's extraction writes its small files into those inodes instead of
 * creating new ones. On ext4 without a journal (this project's build and
 * benchmark machines), creating a file right after others were deleted is
 * slow: the allocator passes over inodes freed in the last minute, so a
 * daily delta's 1,000 creates took 80-100 ms after the previous delta's
 * removal had freed 1,000 inodes, against ~35 ms to reuse them. A reused
 * inode is never one anything else refers to: it must be a regular file
 * with exactly one link (a name a kept generation still holds has two or
 * more), checked on the open descriptor, under the workspace's write lock.
 */
import { closeSync, constants as fsc, fchmodSync, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs';

/** A spare file opened for writing (one link, a regular file, at most SPARE_MAX_BYTES). */
export interface SpareFile {
  fd: number;
  /** Where it is: the extraction names it for the apply (PreparedBundle.placed). */
  path: string;
  /** Its size before it was taken: bytes past what is written are cut off at the end. */
  size: number;
}

/** Where the extraction may take spare files from (the workspace's pool: staging/spares.ts). */
export interface SpareFiles {
  /** An open spare, or null when none is left (the extraction then creates files as usual). */
  take(): SpareFile | null;
}

/** Members larger than this are extracted into new files: a spare holds the small files of a delta. */
export const SPARE_MAX_BYTES = 64 * 1024;

/** The mode extracted files are created with (sink.ts): a reused inode gets the same. */
const FILE_MODE = 0o600;

/**
 * Opens `path` for writing if it can be reused: a regular file (not followed
 * if a symbolic link), exactly one link, at most SPARE_MAX_BYTES. Otherwise
 * `why` says what it is ('linked': another name, a kept generation's say,
 * holds the same file).
 */
export function openSpare(path: string): { spare: SpareFile } | { why: 'gone' | 'linked' | 'other' | 'large' } {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_WRONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch {
    return { why: 'gone' }; // removed meanwhile, a symbolic link (ELOOP), a folder (EISDIR), a FIFO without reader
  }
  try {
    const st = fstatSync(fd);
    const why = !st.isFile() ? 'other' : st.nlink !== 1 ? 'linked' : st.size > SPARE_MAX_BYTES ? 'large' : null;
    if (why) {
      closeSync(fd);
      return { why };
    }
    if ((st.mode & 0o7777) !== FILE_MODE) fchmodSync(fd, FILE_MODE);
    return { spare: { fd, path, size: st.size } };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/**
 * Whole pages only: a spare is an old file, and its pages are rarely still
 * cached when a daily delta comes. Writing part of a page that is on disk
 * but not in memory makes the kernel read that page first (a synchronous
 * disk read per file: 1,000 rewrites of 1 KiB took 60-86 ms with the cache
 * dropped, against 19-31 ms written as whole pages and cut to size, and
 * 16-29 ms against 18-25 ms with the old pages cached).
 */
const PAGE = 4096;

/** One tail page for the sink being written (members come one at a time); a second open sink gets its own. */
let sharedTail: Buffer | null = null;
let sharedTailBusy = false;

/**
 * Writes a member into a spare file from its start, a whole page at a time:
 * the last page goes out padded with zeros, and close() cuts the file to
 * exactly what was written (the padding and what is left of the old content).
 */
export class SpareSink {
  /** Bytes written to the file: whole pages. */
  private written = 0;
  private tail: Buffer | null = null;
  private tailLen = 0;
  private usesShared = false;
  private open = true;

  constructor(private readonly f: SpareFile) {}

  get path(): string {
    return this.f.path;
  }

  write(chunk: Buffer): void {
    let off = 0;
    if (this.tailLen > 0) {
      const tail = this.tail!;
      off = chunk.copy(tail, this.tailLen, 0, Math.min(chunk.length, PAGE - this.tailLen));
      this.tailLen += off;
      if (this.tailLen < PAGE) return;
      this.writeOut(tail, 0, PAGE);
      this.tailLen = 0;
    }
    const whole = (chunk.length - off) - ((chunk.length - off) % PAGE);
    if (whole > 0) this.writeOut(chunk, off, whole);
    off += whole;
    if (off < chunk.length) this.tailLen = chunk.copy(this.tailPage(), 0, off);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    try {
      let size = this.written;
      if (this.tailLen > 0) {
        const tail = this.tail!;
        tail.fill(0, this.tailLen);
        this.writeOut(tail, 0, PAGE);
        size = this.written - PAGE + this.tailLen;
      }
      if (Math.max(this.f.size, this.written) !== size) ftruncateSync(this.f.fd, size);
    } finally {
      this.release();
      closeSync(this.f.fd);
    }
  }

  private writeOut(b: Buffer, from: number, length: number): void {
    for (let off = from; off < from + length; ) {
      const n = writeSync(this.f.fd, b, off, from + length - off, this.written);
      off += n;
      this.written += n;
    }
  }

  private tailPage(): Buffer {
    if (this.tail) return this.tail;
    if (!sharedTailBusy) {
      sharedTailBusy = this.usesShared = true;
      this.tail = sharedTail ??= Buffer.allocUnsafeSlow(PAGE);
    } else this.tail = Buffer.allocUnsafe(PAGE);
    return this.tail;
  }

  private release(): void {
    if (this.usesShared) sharedTailBusy = this.usesShared = false;
    this.tail = null;
  }

  abandon(): void {
    if (!this.open) return;
    this.open = false;
    this.release();
    try {
      closeSync(this.f.fd);
    } catch {
      /* already closed */
    }
  }
}
