import { closeSync, constants as fsc, openSync, writeSync } from 'node:fs';

/**
 * A file being written straight from the caller's buffers (decompression
 * slots: no copy; a write returns before the slot is reused). Durability is
 * the caller's: extracted trees are flushed together by makeTreeDurable.
 */
export class SinkFile {
  private fd: number;
  constructor(readonly path: string) {
    this.fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  }
  write(chunk: Buffer): void {
    writeAll(this.fd, chunk);
  }
  close(): void {
    closeSync(this.fd);
    this.fd = -1;
  }
  abandon(): void {
    if (this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch {
        /* already closed */
      }
      this.fd = -1;
    }
  }
}

export function writeAll(fd: number, b: Buffer): void {
  let off = 0;
  while (off < b.length) off += writeSync(fd, b, off, b.length - off);
}
