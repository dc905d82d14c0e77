/**
 * The last stream stage: the tar reader's members, judged by the gate, then
 * collected. Control files (export.json, manifest.yaml, signatures, delta
 * files) are kept in memory within caps; payload files are hashed (small ones
 * here, large ones on the hashing thread) and, when extracting, written below
 * the extraction root straight from the decompression slots. export.json is
 * parsed as soon as its bytes are in (once).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { OpsError, isOpsError } from '../../../../shared/errors';
import { isPayloadPath } from '../../../../shared/paths';
import { escapeUntrusted } from '../../../../shared/escape';
import { removeTreeQuiet } from '../../safe-fs';
import { isEncryptedFile, parseExportJson, type ExportJson } from '../export-schema';
import type { HashPool } from '../hash-pool';
import type { TarGate } from '../tar-gate';
import { checkAbort } from './read';
import { SinkFile } from './sink';
import { TarReader, type TarHeader, type TarMemberSink } from './tar-reader';

export interface Member {
  size: number;
  sha256: string;
  /** Where the stored bytes are on disk (extract target or private spool), if kept. */
  location?: string;
}

const CONTROL_CAP: Record<string, number> = {
  'export.json': 256 * 1024 * 1024,
  'manifest.yaml': 256 * 1024 * 1024,
  'provenance.json': 16 * 1024 * 1024,
  'delta/manifest.diff.json': 256 * 1024 * 1024,
  'delta/tombstones.jsonl': 256 * 1024 * 1024,
  'signatures/export.dsse.json': 384 * 1024 * 1024,
};
const OTHER_CONTROL_CAP = 16 * 1024 * 1024;
/** All control files together (they are held in memory until the end of the read). */
const CONTROL_TOTAL_CAP = 768 * 1024 * 1024;
/** Control files whose content is read; any other file under signatures/ or delta/ is skipped unread. */
const KNOWN_CONTROL = new Set([
  'export.json',
  'manifest.yaml',
  'provenance.json',
  'signatures/export.sig',
  'signatures/manifest.sig',
  'signatures/export.dsse.json',
  'signatures/export.sigstore.json',
  'delta/manifest.diff.json',
  'delta/tombstones.jsonl',
]);
/** Members up to this size are hashed on the calling thread (no round trip to the hashing thread). */
const INLINE_HASH_MAX = 64 * 1024;

export function isControl(rel: string): boolean {
  return !isPayloadPath(rel);
}

function safeJoin(root: string, rel: string): string {
  const p = resolve(root, ...rel.split('/'));
  if (!p.startsWith(root + sep)) throw new OpsError('ERR_BUNDLE_UNSAFE_ENTRY', `The member "mirror/${rel}" would be written outside the extraction folder.`, { path: `mirror/${rel}` });
  return p;
}

export interface CollectorOptions {
  pool: HashPool;
  gate: TarGate;
  /** Payload files are written below this (prepared, empty) folder. */
  extractRoot?: string;
  /** Keep files that may need per-file decryption (in a private spool when not extracting). */
  keepEncrypted: boolean;
  signal?: AbortSignal;
}

export class MemberCollector {
  readonly members = new Map<string, Member>();
  readonly control = new Map<string, Buffer>();
  readonly ignoredControl: string[] = [];
  /** export.json as parsed when its bytes came in, or why it did not parse. */
  exportJson: ExportJson | null = null;
  exportError: unknown = null;
  /** The member being read (messages, progress). */
  current: string | undefined;
  private controlBytes = 0;
  private spoolDir: string | undefined;
  private spoolSeq = 0;
  private readonly openSinks = new Set<SinkFile>();
  /** Folders already made below the extraction root (each is made once). */
  private readonly madeDirs = new Set<string>();
  private readonly pendingDigests: Promise<unknown>[] = [];

  /** Offset just after the tar end-of-archive marker in the decompressed stream (-1 before the end). */
  tarEnd = -1;

  constructor(private readonly o: CollectorOptions) {}

  /** Reads the decompressed tar stream to its end; each chunk's slot is released once read. */
  async consume(source: AsyncIterable<Buffer>): Promise<void> {
    const reader = new TarReader((h) => this.onHeader(h));
    const { pool, gate } = this.o;
    let first = true;
    try {
      for await (const chunk of source) {
        if (first) {
          first = false;
          if (chunk.length >= 2 && chunk[0] === 0x1f && chunk[1] === 0x8b) {
            pool.done(chunk);
            throw new OpsError('ERR_BUNDLE_CORRUPT', 'The zstd stream holds a gzip stream, not a tar archive.');
          }
        }
        try {
          gate.addUnpacked(chunk.length, this.current);
          // Synchronous: every view of the chunk is hashed, written or copied before write() returns.
          reader.write(chunk);
          // The end-of-archive is the end (spec section 2): zero padding to the record may follow, nothing else.
          if (reader.trailingNonZero) throw new OpsError('ERR_BUNDLE_CORRUPT', 'The bundle holds data after the tar end-of-archive marker: bytes no signature covers. It was not kept.');
        } finally {
          pool.done(chunk);
        }
        checkAbort(this.o.signal);
      }
      reader.end();
      this.tarEnd = reader.eofAt;
    } catch (e) {
      if (isOpsError(e) && e.code === 'ERR_BUNDLE_CORRUPT' && !e.path && this.current) throw new OpsError(e.code, e.message, { path: this.current, cause: e });
      throw e;
    }
  }

  /** Waits for the digests computed on the hashing thread. */
  async settle(): Promise<void> {
    await Promise.all(this.pendingDigests);
  }

  /** Closes files left open by a failed read. */
  abandon(): void {
    for (const s of this.openSinks) s.abandon();
    this.openSinks.clear();
  }

  /** Removes the private spool (files kept only for decryption). */
  removeSpool(): void {
    if (this.spoolDir) removeTreeQuiet(this.spoolDir);
    this.spoolDir = undefined;
  }

  /** Payload members (not control files). */
  get payloadCount(): number {
    let n = 0;
    for (const rel of this.members.keys()) if (!isControl(rel)) n++;
    return n;
  }

  /** One member's header: admitted by the gate, then a sink for its bytes (null: skipped unread). */
  private onHeader(entry: TarHeader): TarMemberSink | null {
    const dec = this.o.gate.admit({ path: entry.path, type: entry.type, size: entry.size, linkpath: entry.linkpath });
    this.current = dec.path;
    if (dec.kind === 'directory') return null;
    const rel = dec.rel;
    if (!isControl(rel)) return this.payload(rel, entry.size);
    if (!KNOWN_CONTROL.has(rel)) {
      // Not something this console reads: never buffered (a bundle cannot make us hold it in memory).
      this.ignoredControl.push(rel);
      return null;
    }
    return this.controlFile(rel, dec.path, entry.size);
  }

  private controlFile(rel: string, path: string, size: number): TarMemberSink {
    const cap = CONTROL_CAP[rel] ?? OTHER_CONTROL_CAP;
    if (size > cap) throw new OpsError('ERR_BUNDLE_LIMIT', `The control file "${path}" is ${size} bytes, above the ${cap}-byte limit for such files.`, { path });
    this.controlBytes += size;
    if (this.controlBytes > CONTROL_TOTAL_CAP) throw new OpsError('ERR_BUNDLE_LIMIT', `The bundle's control files (export.json, manifests, signatures) exceed ${CONTROL_TOTAL_CAP} bytes together, at "${path}".`, { path });
    const parts: Buffer[] = [];
    const h = createHash('sha256');
    return {
      data: (c: Buffer) => {
        parts.push(Buffer.from(c));
        h.update(c);
      },
      end: () => {
        const bytes = Buffer.concat(parts);
        this.control.set(rel, bytes);
        this.members.set(rel, { size: bytes.length, sha256: h.digest('hex') });
        if (rel !== 'export.json') return;
        try {
          this.exportJson = parseExportJson(bytes, { maxDepth: this.o.gate.limits.maxDepth });
        } catch (e) {
          this.exportJson = null; // reported after the stream
          this.exportError = e;
        }
      },
    };
  }

  /** Where a payload file's stored bytes go: the extraction tree, the spool, or nowhere (hashed only). */
  private targetOf(rel: string): string | undefined {
    const root = this.o.extractRoot;
    if (root) {
      const target = safeJoin(root, rel);
      const parent = dirname(target);
      if (!this.madeDirs.has(parent)) {
        // Folders inside the private (0700) extraction root: 0755, as the staging tree serves them.
        try {
          mkdirSync(parent, { recursive: true, mode: 0o755 });
        } catch (e) {
          throw tooLongHere(e, rel, root);
        }
        this.madeDirs.add(parent);
      }
      return target;
    }
    const exp = this.exportJson;
    // Before export.json is known, files under data/ (where per-file encryption applies, spec 5.2) may need decrypting later.
    if (this.o.keepEncrypted && (exp === null ? rel.startsWith('data/') : isEncryptedFile(exp, rel))) {
      this.spoolDir ??= mkdtempSync(join(tmpdir(), 'okc-spool-'));
      return join(this.spoolDir, String(this.spoolSeq++));
    }
    return undefined;
  }

  /** Payload file: hashed while streaming; kept on disk when extracting or when it may need decryption. */
  private payload(rel: string, declared: number): TarMemberSink {
    const target = this.targetOf(rel);
    // Extracted files are made durable together at the end (one syncfs), not one fsync each.
    let sink: SinkFile | undefined;
    try {
      sink = target ? new SinkFile(target) : undefined;
    } catch (e) {
      throw tooLongHere(e, rel, this.o.extractRoot);
    }
    if (sink) this.openSinks.add(sink);
    const m: Member = { size: 0, sha256: '', ...(target ? { location: target } : {}) };
    const close = (): void => {
      if (!sink) return;
      sink.close();
      this.openSinks.delete(sink);
    };
    if (declared <= INLINE_HASH_MAX) {
      // A small member is hashed here: cheaper than three messages to the hashing thread and back.
      const h = createHash('sha256');
      return {
        data: (c: Buffer) => {
          h.update(c);
          m.size += c.length;
          sink?.write(c);
        },
        end: () => {
          close();
          m.sha256 = h.digest('hex');
          this.members.set(rel, m);
        },
      };
    }
    const p = this.o.pool;
    const hid = p.start();
    return {
      data: (c: Buffer) => {
        p.update(hid, c);
        m.size += c.length;
        sink?.write(c);
      },
      end: () => {
        close();
        this.members.set(rel, m);
        this.pendingDigests.push(p.finish(hid).then((hex) => (m.sha256 = hex)));
      },
    };
  }
}

/**
 * A path within the spec's 4,096 bytes can still be too long below this
 * workspace's folder on this host (ENAMETOOLONG): a limit, named, not a host failure.
 */
function tooLongHere(e: unknown, rel: string, root: string | undefined): unknown {
  if ((e as NodeJS.ErrnoException).code !== 'ENAMETOOLONG') return e;
  return new OpsError('ERR_BUNDLE_LIMIT', `The member "mirror/${escapeUntrusted(rel)}" cannot be extracted here: its path is too long for this host's file system below ${root ?? 'the extraction folder'}.`, { path: `mirror/${rel}` });
}
