/**
 * The member gate: decides, per tar header and before any byte of the member is
 * used, whether the member may pass (spec section 2, "member rules"), and keeps
 * the unpack limits (total bytes, per-member bytes, member count, ratio).
 *
 * Only regular files and directories pass. Symlinks, hard links, devices,
 * FIFOs, unknown types, names breaking the path policy (shared/paths.ts:
 * absolute, "..", control characters, segment/path length, depth), paths
 * outside the top folder, repeats of an earlier member (after normalising a
 * directory's trailing slash), and a path that is both a file and a folder
 * (in either order) are refused with ERR_BUNDLE_UNSAFE_ENTRY naming the
 * member in escaped form (shared/escape.ts). Limits are refused with
 * ERR_BUNDLE_LIMIT.
 *
 * File-versus-folder: the table of admitted names (already kept to refuse
 * repeats) also records every folder a member implies, so the check costs one
 * entry per distinct folder, not per file. The table is compact (./path-table:
 * a 16-byte SHA-256 prefix per name, ~25 bytes per entry, no string kept), and
 * a member in the same folder as the one before skips the walk up its folders
 * (they were checked and recorded for that member).
 */
import { OpsError } from '../../../shared/errors';
import { escapeUntrusted } from '../../../shared/escape';
import { bundlePathProblem, describePathProblem, type PathPolicyOptions } from '../../../shared/paths';
import { DEFAULT_LIMITS, type Limits } from '../../../shared/settings';
import { PathTable, pathKey } from './path-table';

export interface GateEntry {
  /** Path as in the tar header (pax path applied). */
  path: string;
  /** node-tar's type name: File, OldFile, ContiguousFile, Directory, SymbolicLink, Link, ... */
  type: string;
  size: number;
  linkpath?: string;
}

export interface GateDecision {
  kind: 'file' | 'directory';
  /** Normalised full path in the archive (no trailing slash). */
  path: string;
  /** Path relative to the top folder ('' for the top folder itself). */
  rel: string;
  /** The member's id in the gate's name table (dense: 0, 1, 2, ...; folders implied by members get ids too). */
  id: number;
}

const FILE = 1;
const DIRECTORY = 2;
const IMPLIED = 3;

export interface TarGateOptions {
  /** 'mirror' for mirror bundles (every member under mirror/); null for the archive root (Trivy). */
  top: string | null;
  limits?: Partial<Limits>;
  /** Label of the archive for messages ("the bundle", "the Trivy bundle"). */
  label?: string;
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

function describeType(type: string): string {
  switch (type) {
    case 'SymbolicLink': return 'a symbolic link';
    case 'Link': return 'a hard link';
    case 'CharacterDevice': return 'a character device';
    case 'BlockDevice': return 'a block device';
    case 'FIFO': return 'a FIFO (named pipe)';
    default: return `an entry of type "${type}"`;
  }
}

function mib(n: number): string {
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

export class TarGate {
  readonly limits: Limits;
  private readonly top: string | null;
  private readonly label: string;
  /** Admitted names: a file, a folder member, or a folder only implied by a member below it. */
  private readonly seen = new PathTable();
  /** The folder of the last admitted member: its chain of folders is known to hold no file. */
  private lastParent: string | null = null;
  private declaredBytes = 0;
  private unpackedBytes = 0;
  private compressedBytes = 0;
  private memberCount = 0;
  private impliedCount = 0;

  constructor(opts: TarGateOptions) {
    this.top = opts.top;
    this.label = opts.label ?? 'the bundle';
    this.limits = { ...DEFAULT_LIMITS, ...definedOnly(opts.limits ?? {}) };
    this.policy = { maxDepth: this.limits.maxDepth };
  }

  get members(): number {
    return this.memberCount;
  }
  /** Sum of the declared sizes of admitted members. */
  get bytes(): number {
    return this.declaredBytes;
  }

  private unsafe(path: string, why: string): OpsError {
    return new OpsError('ERR_BUNDLE_UNSAFE_ENTRY', `${capitalise(this.label)} contains ${why}: "${escapeUntrusted(path)}". A bundle written by the Export Center never does; it was not read any further and nothing from it was used.`, { path, details: { member: path } });
  }

  private limit(path: string | undefined, why: string, details: Record<string, unknown>): OpsError {
    return new OpsError('ERR_BUNDLE_LIMIT', `${capitalise(this.label)} goes beyond a limit: ${escapeUntrusted(why)}. Reading stopped there and nothing beyond it was written.`, { path, details: { ...(path ? { member: path } : {}), ...details } });
  }

  /** The path rules' options (made once, not per member). */
  private readonly policy: PathPolicyOptions;

  /** Decides on one tar header. Throws an OpsError when the member must be refused. */
  admit(e: GateEntry): GateDecision {
    const raw = e.path;
    const isDir = e.type === 'Directory';
    if (!isDir && !FILE_TYPES.has(e.type)) throw this.unsafe(raw, describeType(e.type));
    if (e.linkpath) throw this.unsafe(raw, 'an entry with a link target');
    const path = isDir && raw.endsWith('/') && raw.length > 1 ? raw.replace(/\/+$/, '') : raw;
    const policy = this.policy;
    const problem = bundlePathProblem(path, policy);
    if (problem) throw this.unsafe(raw, describePathProblem(problem, policy));
    let rel: string;
    if (this.top === null) {
      rel = path;
    } else if (path === this.top) {
      if (!isDir) throw this.unsafe(raw, `a file where the top folder "${this.top}/" must be`);
      rel = '';
    } else if (path.startsWith(this.top + '/')) {
      rel = path.slice(this.top.length + 1);
    } else {
      throw this.unsafe(raw, `a member outside the top folder "${this.top}/"`);
    }
    const key = pathKey(path);
    const seenId = this.seen.idOf(key);
    const before = seenId < 0 ? 0 : this.seen.kindOf(seenId);
    if ((before === IMPLIED || before === DIRECTORY) && !isDir) throw this.unsafe(raw, 'a file where earlier members make a folder of that name');
    if (before === FILE && isDir) throw this.unsafe(raw, 'a folder where an earlier member is a file of that name');
    if (before === FILE || before === DIRECTORY) throw this.unsafe(raw, 'a member that repeats an earlier one');
    const slash = path.lastIndexOf('/');
    // A member below something that was a file (skipped when the folder is the last member's: checked
    // then; compared in place, no substring per member).
    const last = this.lastParent;
    const walk = slash > 0 && !(last !== null && last.length === slash && path.startsWith(last));
    const parentIds: number[] = walk ? [] : NO_IDS;
    if (walk) {
      for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) {
        const id = this.seen.idOf(pathKey(path.slice(0, i)));
        if (id >= 0 && this.seen.kindOf(id) === FILE) throw this.unsafe(raw, `a member below "${escapeUntrusted(path.slice(0, i))}", which is a file`);
        parentIds.push(id);
      }
    }
    const size = isDir ? 0 : e.size;
    if (!Number.isSafeInteger(size) || size < 0) throw this.unsafe(raw, 'a member with an invalid size');
    if (this.memberCount + 1 > this.limits.maxMembers) {
      throw this.limit(raw, `more than ${this.limits.maxMembers} members`, { limit: 'maxMembers', value: this.limits.maxMembers });
    }
    if (size > this.limits.maxMemberBytes) {
      throw this.limit(raw, `the member "${raw}" would unpack to ${mib(size)}, above the per-file limit of ${mib(this.limits.maxMemberBytes)}`, { limit: 'maxMemberBytes', value: this.limits.maxMemberBytes, size });
    }
    if (this.declaredBytes + size > this.limits.maxTotalBytes) {
      throw this.limit(raw, `it would unpack to more than ${mib(this.limits.maxTotalBytes)} in total (at "${raw}")`, { limit: 'maxTotalBytes', value: this.limits.maxTotalBytes });
    }
    this.memberCount++;
    this.declaredBytes += size;
    let id: number;
    if (seenId >= 0) {
      id = seenId; // an implied folder that now has its own member
      this.seen.setKind(id, DIRECTORY);
    } else {
      id = this.seen.add(key, isDir ? DIRECTORY : FILE);
    }
    if (walk) {
      let k = 0;
      for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1), k++) {
        if (parentIds[k] >= 0) continue;
        // Folders count against the member limit too: they cost memory like members.
        if (++this.impliedCount > this.limits.maxMembers) {
          throw this.limit(raw, `more than ${this.limits.maxMembers} folders`, { limit: 'maxMembers', value: this.limits.maxMembers });
        }
        this.seen.add(pathKey(path.slice(0, i)), IMPLIED);
      }
    }
    if (walk) this.lastParent = path.slice(0, slash);
    else if (slash <= 0) this.lastParent = null;
    return { kind: isDir ? 'directory' : 'file', path, rel, id };
  }

  /** Records raw (compressed, on-media) bytes read so far. */
  setCompressed(total: number): void {
    this.compressedBytes = total;
  }

  /**
   * Records `n` more unpacked (decompressed tar stream) bytes and enforces the
   * ratio limit once the grace bytes have been unpacked. `member` names the
   * member being read, for the message.
   */
  addUnpacked(n: number, member?: string): void {
    this.unpackedBytes += n;
    const l = this.limits;
    if (this.unpackedBytes > l.ratioGraceBytes && this.unpackedBytes > l.maxRatio * Math.max(this.compressedBytes, 1)) {
      throw this.limit(member, `it unpacks to more than ${l.maxRatio} times its compressed size (${mib(this.unpackedBytes)} from ${mib(this.compressedBytes)}), which looks like a decompression bomb`, { limit: 'maxRatio', value: l.maxRatio });
    }
    if (this.unpackedBytes > l.maxTotalBytes + 1024 * 1024 + this.memberCount * 1536) {
      // Tar headers and padding on top of the declared sizes cannot be this large.
      throw this.limit(member, `it unpacks to more than ${mib(l.maxTotalBytes)} in total`, { limit: 'maxTotalBytes', value: l.maxTotalBytes });
    }
  }

  get unpacked(): number {
    return this.unpackedBytes;
  }

  /** The id of an admitted name (a member's full path in the archive), or -1. */
  idOf(path: string): number {
    return this.seen.idOf(pathKey(path));
  }

  /** Names held (members and implied folders) and the bytes their table takes. */
  get table(): { entries: number; bytes: number } {
    return { entries: this.seen.size, bytes: this.seen.heldBytes };
  }
}

const NO_IDS: number[] = [];

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function definedOnly<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
