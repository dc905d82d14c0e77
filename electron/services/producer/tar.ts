/**
 * A minimal POSIX tar writer (ustar headers, pax extended headers where a name
 * or size does not fit). Written by hand so that the producer can also emit the
 * deliberately unsafe members (links, devices, traversal, absolute paths) that
 * refusal tests need.
 */

export type TarType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'chardev' | 'blockdev' | 'fifo';

const TYPE_FLAG: Record<TarType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  chardev: '3',
  blockdev: '4',
  directory: '5',
  fifo: '6',
};

export interface TarHeaderInput {
  name: string;
  type?: TarType;
  size?: number;
  mode?: number;
  linkname?: string;
  mtime?: number;
}

const BLOCK = 512;
export const TAR_END = Buffer.alloc(BLOCK * 2);

function writeString(buf: Buffer, s: string, offset: number, length: number): void {
  const b = Buffer.from(s, 'utf8');
  if (b.length > length) throw new Error(`tar field too long: ${s}`);
  b.copy(buf, offset);
}

function writeOctal(buf: Buffer, value: number, offset: number, length: number): void {
  const s = value.toString(8).padStart(length - 1, '0');
  if (s.length > length - 1) throw new Error(`tar numeric field overflow: ${value}`);
  buf.write(`${s}\0`, offset, length, 'ascii');
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body, 'utf8');
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return Buffer.from(`${len}${body}`, 'utf8');
}

function rawHeader(h: Required<Omit<TarHeaderInput, 'mtime'>> & { mtime: number; prefix: string }, typeFlag: string): Buffer {
  const buf = Buffer.alloc(BLOCK);
  writeString(buf, h.name, 0, 100);
  writeOctal(buf, h.mode, 100, 8);
  writeOctal(buf, 0, 108, 8); // uid
  writeOctal(buf, 0, 116, 8); // gid
  writeOctal(buf, h.size, 124, 12);
  writeOctal(buf, h.mtime, 136, 12);
  buf.fill(0x20, 148, 156); // checksum placeholder: spaces
  buf.write(typeFlag, 156, 1, 'ascii');
  writeString(buf, h.linkname, 157, 100);
  buf.write('ustar\0', 257, 6, 'ascii');
  buf.write('00', 263, 2, 'ascii');
  writeString(buf, 'root', 265, 32);
  writeString(buf, 'root', 297, 32);
  writeOctal(buf, 0, 329, 8);
  writeOctal(buf, 0, 337, 8);
  writeString(buf, h.prefix, 345, 155);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += buf[i];
  buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return buf;
}

/** Splits a long name into ustar prefix/name, or returns null when it cannot. */
function splitUstar(name: string): { prefix: string; name: string } | null {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest.length > 0) return { prefix, name: rest };
  }
  return null;
}

/** The header block(s) of one member (a pax 'x' header first when needed). */
export function tarHeader(input: TarHeaderInput): Buffer {
  const type = input.type ?? 'file';
  const size = type === 'file' ? (input.size ?? 0) : 0;
  const mode = input.mode ?? (type === 'directory' ? 0o755 : 0o644);
  const linkname = input.linkname ?? '';
  const mtime = input.mtime ?? 0;
  const pax: Buffer[] = [];
  let split = splitUstar(input.name);
  if (!split) {
    pax.push(paxRecord('path', input.name));
    split = { prefix: '', name: Buffer.from(input.name, 'utf8').subarray(0, 99).toString('utf8').replace(/\uFFFD+$/, '') };
  }
  let link = linkname;
  if (Buffer.byteLength(linkname) > 100) {
    pax.push(paxRecord('linkpath', linkname));
    link = '';
  }
  let sizeField = size;
  if (size >= 8 ** 11) {
    pax.push(paxRecord('size', String(size)));
    sizeField = 0;
  }
  const main = rawHeader({ name: split.name, prefix: split.prefix, type, size: sizeField, mode, linkname: link, mtime }, TYPE_FLAG[type]);
  if (pax.length === 0) return main;
  const body = Buffer.concat(pax);
  // 99 bytes at most (not characters): a multi-byte name must not overflow the field.
  const paxName = Buffer.from(`PaxHeaders/${split.name}`, 'utf8').subarray(0, 99).toString('utf8').replace(/\uFFFD+$/, '');
  const paxHead = rawHeader({ name: paxName, prefix: '', type: 'file', size: body.length, mode: 0o644, linkname: '', mtime }, 'x');
  return Buffer.concat([paxHead, body, Buffer.alloc(padding(body.length)), main]);
}

/** Zero bytes needed after `size` content bytes to reach a block boundary. */
export function padding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}
