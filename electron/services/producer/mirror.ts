/**
 * writeMirrorBundle: the project's own producer of mirror bundles to the
 * contract (spec sections 2 to 6). Streaming from end to end: payload content
 * is generated or read chunk by chunk, framed as POSIX tar, compressed with
 * zstd and optionally age-encrypted as a whole file, and written; only the
 * per-file digests are kept. Deliberately broken variants come from `tamper`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, statSync, truncateSync } from 'node:fs';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Encrypter } from 'age-encryption';
import { CompressStream } from 'zstd-napi';
import { bundlePathProblem, compareBytewise, describePathProblem, isPayloadPath, sortBytewise } from '../../../shared/paths';
import type { ExportFileEntry } from '../../../shared/types';
import { contentSize, digestContent, GCM_OVERHEAD, storedChunks, type Content, type Digests, type PerFileCipher } from './content';
import { dsseEnvelope, signatureFile, type SigningKey } from './keys';
import { nextState, stateSummary, type StateEntry } from './state';
import { padding, TAR_END, tarHeader, type TarType } from './tar';

export interface PayloadFile {
  /** Path relative to `mirror/`. */
  path: string;
  content: Content;
  mediaType?: string;
}

export interface BaseRef {
  exportId: string;
  generation: number;
  /** `sha256:<hex>` of the base bundle's export.json bytes. */
  manifestDigest: string;
  /** The base's resulting state (needed to compute this delta's state). */
  state: StateEntry[];
}

/** A raw tar member for tamper cases (name is the full tar path, not relative to mirror/). */
export interface RawMember {
  name: string;
  type?: TarType;
  content?: Content;
  linkname?: string;
}

export interface MirrorTamper {
  /** A payload member that export.json does not list (ERR_VERIFY_EXTRA_FILE). */
  extraMember?: string | PayloadFile;
  /** A listed payload file whose member is left out (ERR_VERIFY_MISSING_FILE). */
  omitMember?: string;
  /** A symlink member (ERR_BUNDLE_UNSAFE_ENTRY); default mirror/data/link -> /etc/passwd. */
  symlinkMember?: true | { name: string; target: string };
  /** A hard link member (ERR_BUNDLE_UNSAFE_ENTRY); default mirror/data/hard -> mirror/README.md. */
  hardlinkMember?: true | { name: string; target: string };
  /** A member whose name climbs out with `..` (ERR_BUNDLE_UNSAFE_ENTRY). */
  traversalMember?: true | string;
  /** A member with an absolute name (ERR_BUNDLE_UNSAFE_ENTRY). */
  absoluteMember?: true | string;
  /** A device or FIFO member (ERR_BUNDLE_UNSAFE_ENTRY). */
  deviceMember?: 'chardev' | 'blockdev' | 'fifo';
  /** A payload path written twice (ERR_BUNDLE_UNSAFE_ENTRY). */
  duplicateMember?: string;
  /** A member outside the top folder mirror/ (ERR_BUNDLE_UNSAFE_ENTRY). */
  outsideMirror?: true | string;
  /** Any raw members to add (placed before the payload). */
  rawMembers?: RawMember[];
  /** export.json lists this file with size + 1 (ERR_VERIFY_DIGEST). */
  wrongSize?: string;
  /** One byte of this file's stored content is flipped after hashing (ERR_VERIFY_DIGEST). */
  flipByteIn?: string;
  /** Encrypt this file with a wrong AAD, stored digests still matching (ERR_DECRYPT_AUTH). */
  wrongAadFor?: string;
  /** Delta: drop the tombstone of this removed path (or the first) (ERR_VERIFY_TOMBSTONE). */
  dropTombstone?: true | string;
  /** Delta: a tombstone for a path that is not removed (ERR_VERIFY_TOMBSTONE). */
  extraTombstone?: true | string;
  /** Delta: leave out delta/manifest.diff.json (ERR_VERIFY_TOMBSTONE). */
  noDiff?: boolean;
  /** Delta: leave out delta/tombstones.jsonl (ERR_VERIFY_TOMBSTONE). */
  noTombstones?: boolean;
  /** Delta: manifest.diff.json disagrees with export.json (lists no removals). */
  diffDisagrees?: boolean;
  /** Delta: manifest.diff.json names another path in place of the last file (same count, ERR_VERIFY_TOMBSTONE). */
  diffOtherPath?: string;
  /** schemaVersion other than 1, signed as usual (ERR_EXPORT_UNSUPPORTED_SCHEMA). */
  schemaVersion?: number;
  /** files[] in reverse order (ERR_BUNDLE_CORRUPT). */
  unsortedFiles?: boolean;
  /** files[] lists its first entry twice (ERR_BUNDLE_CORRUPT). */
  duplicateFileEntry?: boolean;
  /** Edit the export.json object before it is serialised and signed. */
  exportJsonOverride?: (doc: ExportJsonDoc) => ExportJsonDoc | Record<string, unknown>;
  /** Replace the export.json bytes outright (still signed, unless exportJsonAfterSigning). */
  exportJsonBytes?: Buffer | string;
  /** Change the export.json bytes after signing (ERR_VERIFY_SIGNATURE). */
  exportJsonAfterSigning?: (bytes: Buffer) => Buffer;
  /** Change manifest.yaml after signing (ERR_VERIFY_SIGNATURE). */
  manifestAfterSigning?: (bytes: Buffer) => Buffer;
  /** Replace manifest.yaml (signed as given). */
  manifestYaml?: string;
  /** Sign with this key instead of the spec's (ERR_VERIFY_SIGNATURE against the spec key). */
  signWith?: SigningKey;
  /** Leave out signatures/export.sig or signatures/manifest.sig. */
  omitSignature?: 'export' | 'manifest';
  /** Provenance subject digest for export.json is wrong (ERR_VERIFY_DIGEST). */
  badProvenanceSubject?: boolean;
  /** Leave provenance.json out. */
  omitProvenance?: boolean;
  /** Cut the finished file to this fraction of its size (default 0.5) (ERR_BUNDLE_CORRUPT). */
  truncate?: true | number;
  /** Leave out the tar end-of-archive blocks. */
  noTarEnd?: boolean;
}

export interface PerFileEncryptionSpec {
  /** age X25519 recipients (`age1…`) the data key is wrapped for. */
  recipients: string[];
  keyId?: string;
  /** The 32-byte data key (default: random). */
  dek?: Buffer;
  /** Derive nonces from this seed and the path (deterministic output); default random. */
  nonceSeed?: string;
}

export interface WholeFileAgeSpec {
  recipients?: string[];
  passphrase?: string;
  /** scrypt work factor for a passphrase (default 10 here: fast tests). */
  scryptWorkFactor?: number;
}

export interface MirrorBundleSpec {
  key: SigningKey;
  tenant?: string;
  profileId?: string;
  generation?: number;
  exportId?: string;
  runId?: string;
  createdAt?: string;
  selectors?: { include: string[] } & Record<string, unknown>;
  /** Default: `delta` when a base is given, else `full`. */
  variant?: 'full' | 'delta';
  /** The bundle this delta applies on (a previous result, or a reference with its state). */
  base?: MirrorBundleResult | BaseRef | null;
  resetBaseline?: boolean;
  files: PayloadFile[];
  removed?: string[];
  /** Add a README.md payload file (default: true for a full bundle, unless files has one). */
  readme?: boolean | string;
  /** Per-file AES-256-GCM for files under data/ (spec 5.2). */
  encryption?: PerFileEncryptionSpec;
  /** Whole-file age (spec 5.1); the file name should then end in .age. */
  age?: WholeFileAgeSpec;
  /** Also write signatures/export.dsse.json. */
  dsse?: boolean;
  /** zstd level (default 1: speed). */
  compressionLevel?: number;
  /** Member order: payload first (default, single pass), control first, sorted by name, or shuffled. */
  order?: 'payload-first' | 'control-first' | 'sorted' | 'shuffle';
  shuffleSeed?: string | number;
  /** Emit directory members (default true). */
  directories?: boolean;
  tamper?: MirrorTamper;
}

export interface ExportJsonDoc {
  schemaVersion: number;
  exportId: string;
  runId: string;
  tenant: string;
  profile: { id: string; kind: 'mirror'; variant: 'full' | 'delta' };
  generation: number;
  createdAt: string;
  selectors: Record<string, unknown>;
  base: { exportId: string; generation: number; manifestDigest: string } | null;
  resetBaseline: boolean;
  files: ExportFileEntry[];
  removed: string[];
  state: { fileCount: number; totalBytes: number; digest: string };
  encryption: { mode: 'age'; paths: string } | null;
}

export interface MirrorBundleResult {
  file: string;
  kind: 'mirror-full' | 'mirror-delta';
  tenant: string;
  profileId: string;
  exportId: string;
  generation: number;
  runId: string;
  exportJson: ExportJsonDoc;
  exportJsonBytes: Buffer;
  /** Bare hex SHA-256 of export.json bytes. */
  exportJsonSha256: string;
  /** `sha256:<hex>` of export.json bytes (what a delta's base.manifestDigest carries). */
  manifestDigest: string;
  /** The mirror tree once this bundle is applied. */
  state: StateEntry[];
  /** Bare hex SHA-256 and size of the bundle file as written. */
  rawSha256: string;
  rawSize: number;
  /** The data key, for per-file encrypted bundles. */
  dek?: Buffer;
  /** Base64 signature over export.json as stored in signatures/export.sig (without the newline). */
  exportSignature: string;
}

const DEFAULT_TENANT = 'acme';
const DEFAULT_PROFILE = 'mirror-nightly';
const EPOCH = Date.parse('2025-10-29T02:00:00Z');

export function mediaTypeFor(path: string): string {
  if (path.endsWith('.jsonl.zst')) return 'application/x-ndjson+zstd';
  if (path.endsWith('.jsonl')) return 'application/x-ndjson';
  if (path.endsWith('.json')) return 'application/json';
  if (path.endsWith('.md')) return 'text/markdown';
  return 'application/octet-stream';
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object' && !Buffer.isBuffer(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as Record<string, unknown>).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

/** Pretty JSON with sorted keys and a final newline (how the producer writes every JSON file). */
export function jsonBytes(v: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(sortKeys(v), null, 2)}\n`, 'utf8');
}

function sha256hex(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

function isResult(b: MirrorBundleResult | BaseRef): b is MirrorBundleResult {
  return 'exportJsonBytes' in b;
}

function yamlStr(s: string): string {
  return JSON.stringify(s);
}

/** Deterministic shuffle (xorshift seeded from a hash). */
function shuffle<T>(list: T[], seed: string | number): T[] {
  const out = [...list];
  let s = createHash('sha256').update(String(seed)).digest().readUInt32LE(0) || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

type Member =
  | { kind: 'payload'; name: string; rel: string; file: PayloadFile; listed: boolean }
  | { kind: 'control'; name: string; rel: string }
  | { kind: 'raw'; raw: RawMember; name: string };

interface Control {
  files: Map<string, Buffer>;
}

/** Builds the file name the contract uses: mirror-<YYYYMMDD>-<variant>.tar.zst[.age]. */
export function bundleFileName(createdAt: string, variant: 'full' | 'delta', age = false): string {
  const d = createdAt.slice(0, 10).replace(/-/g, '');
  return `mirror-${d}-${variant}.tar.zst${age ? '.age' : ''}`;
}

export async function writeMirrorBundle(outFile: string, spec: MirrorBundleSpec): Promise<MirrorBundleResult> {
  const tamper = spec.tamper ?? {};
  const base = spec.base ?? null;
  const variant = spec.variant ?? (base ? 'delta' : 'full');
  const tenant = spec.tenant ?? (base && isResult(base) ? base.tenant : DEFAULT_TENANT);
  const profileId = spec.profileId ?? (base && isResult(base) ? base.profileId : DEFAULT_PROFILE);
  const generation = spec.generation ?? (base ? base.generation + 1 : 1);
  const exportId = spec.exportId ?? `exp-${tenant}-${profileId}-${String(generation).padStart(4, '0')}`;
  const runId = spec.runId ?? sha256hex(`run:${exportId}`).slice(0, 32);
  const createdAt = spec.createdAt ?? new Date(EPOCH + (generation - 1) * 86_400_000).toISOString().replace('.000Z', 'Z');
  const removed = sortBytewise([...(spec.removed ?? [])]);

  // Payload files, sorted; README.md added to full bundles by default.
  const files: PayloadFile[] = [...spec.files];
  const wantReadme = spec.readme ?? variant === 'full';
  if (wantReadme && !files.some((f) => f.path === 'README.md')) {
    files.push({ path: 'README.md', content: typeof wantReadme === 'string' ? wantReadme : `# Mirror export\n\n${exportId} (${profileId}, ${tenant})\n` });
  }
  files.sort((a, b) => compareBytewise(a.path, b.path));
  for (const [i, f] of files.entries()) {
    const problem = bundlePathProblem(f.path);
    if (problem) throw new Error(`producer: payload path "${f.path}" is ${describePathProblem(problem)} (use tamper.rawMembers or exportJsonOverride for unsafe cases)`);
    if (!isPayloadPath(f.path)) throw new Error(`producer: ${f.path} is a control path, not a payload file`);
    if (i > 0 && files[i - 1].path === f.path) throw new Error(`producer: payload path "${f.path}" is given twice (use tamper.duplicateMember or duplicateFileEntry)`);
  }

  // Per-file encryption set-up.
  const enc = spec.encryption;
  const dek = enc ? (enc.dek ?? randomBytes(32)) : undefined;
  const cipherFor = (path: string): PerFileCipher | null => {
    if (!enc || !dek || !path.startsWith('data/')) return null;
    const nonce = enc.nonceSeed ? createHash('sha256').update(`${enc.nonceSeed}:${path}`).digest().subarray(0, 12) : randomBytes(12);
    const aadRun = tamper.wrongAadFor === path ? `${runId}-wrong` : runId;
    return { dek, nonce, aad: `${aadRun}:${path}` };
  };
  const ciphers = new Map<string, PerFileCipher | null>();
  for (const f of files) ciphers.set(f.path, cipherFor(f.path));

  const digests = new Map<string, Digests>();
  const ensureDigests = () => {
    for (const f of files) if (!digests.has(f.path)) digests.set(f.path, digestContent(f.content, ciphers.get(f.path) ?? null));
  };

  // Members, in the chosen order.
  const payloadMembers: Member[] = files
    .filter((f) => f.path !== tamper.omitMember)
    .map((f) => ({ kind: 'payload', name: `mirror/${f.path}`, rel: f.path, file: f, listed: true }));
  if (tamper.duplicateMember) {
    const f = files.find((x) => x.path === tamper.duplicateMember);
    if (!f) throw new Error(`producer: duplicateMember ${tamper.duplicateMember} is not a payload file`);
    payloadMembers.push({ kind: 'payload', name: `mirror/${f.path}`, rel: f.path, file: f, listed: true });
  }
  if (tamper.extraMember) {
    const x = typeof tamper.extraMember === 'string' ? { path: tamper.extraMember, content: 'unlisted\n' } : tamper.extraMember;
    payloadMembers.push({ kind: 'payload', name: `mirror/${x.path}`, rel: x.path, file: x, listed: false });
  }
  const raw: RawMember[] = [...(tamper.rawMembers ?? [])];
  const tag = randomBytes(4).toString('hex');
  if (tamper.symlinkMember) {
    const s = tamper.symlinkMember === true ? { name: 'mirror/data/link', target: '/etc/passwd' } : tamper.symlinkMember;
    raw.push({ name: s.name, type: 'symlink', linkname: s.target });
  }
  if (tamper.hardlinkMember) {
    const s = tamper.hardlinkMember === true ? { name: 'mirror/data/hard', target: 'mirror/README.md' } : tamper.hardlinkMember;
    raw.push({ name: s.name, type: 'hardlink', linkname: s.target });
  }
  if (tamper.traversalMember) {
    raw.push({ name: tamper.traversalMember === true ? `mirror/../../../tmp/okc-canary-traversal-${tag}` : tamper.traversalMember, content: 'canary\n' });
  }
  if (tamper.absoluteMember) {
    raw.push({ name: tamper.absoluteMember === true ? `/tmp/okc-canary-absolute-${tag}` : tamper.absoluteMember, content: 'canary\n' });
  }
  if (tamper.deviceMember) raw.push({ name: 'mirror/data/device', type: tamper.deviceMember });
  if (tamper.outsideMirror) raw.push({ name: tamper.outsideMirror === true ? 'outside/file.txt' : tamper.outsideMirror, content: 'outside\n' });

  const controlRels: string[] = ['export.json', 'manifest.yaml'];
  if (!tamper.omitProvenance) controlRels.push('provenance.json');
  if (variant === 'delta') {
    if (!tamper.noDiff) controlRels.push('delta/manifest.diff.json');
    if (!tamper.noTombstones) controlRels.push('delta/tombstones.jsonl');
  }
  if (tamper.omitSignature !== 'export') controlRels.push('signatures/export.sig');
  if (tamper.omitSignature !== 'manifest') controlRels.push('signatures/manifest.sig');
  if (spec.dsse) controlRels.push('signatures/export.dsse.json');
  const controlMembers: Member[] = controlRels.map((rel) => ({ kind: 'control', name: `mirror/${rel}`, rel }));
  const rawMembers: Member[] = raw.map((r) => ({ kind: 'raw', raw: r, name: r.name }));

  let members: Member[];
  const order = spec.order ?? 'payload-first';
  if (order === 'payload-first') members = [...rawMembers, ...payloadMembers, ...controlMembers];
  else if (order === 'control-first') members = [...controlMembers, ...rawMembers, ...payloadMembers];
  else if (order === 'sorted') members = [...rawMembers, ...payloadMembers, ...controlMembers].sort((a, b) => compareBytewise(a.name, b.name));
  else members = shuffle([...rawMembers, ...payloadMembers, ...controlMembers], spec.shuffleSeed ?? exportId);

  // Control files are built once every payload digest is known.
  let control: Control | null = null;
  let result: Omit<MirrorBundleResult, 'file' | 'rawSha256' | 'rawSize'> | null = null;
  const buildControl = async (): Promise<Control> => {
    ensureDigests();
    const baseRef = base ? { exportId: base.exportId, generation: base.generation, manifestDigest: base.manifestDigest } : null;
    const entries: ExportFileEntry[] = files.map((f) => {
      const d = digests.get(f.path)!;
      const e: ExportFileEntry = { path: f.path, sha256: d.sha256, size: d.size, mediaType: f.mediaType ?? mediaTypeFor(f.path) };
      if (d.storedSha256 !== undefined) {
        e.storedSha256 = d.storedSha256;
        e.storedSize = d.storedSize;
      }
      if (tamper.wrongSize === f.path) {
        e.size += 1;
        if (e.storedSize !== undefined) e.storedSize += 1;
      }
      return e;
    });
    const changes: StateEntry[] = files.map((f) => ({ path: f.path, sha256: digests.get(f.path)!.sha256, size: digests.get(f.path)!.size }));
    let state: StateEntry[];
    if (variant === 'delta' && !spec.resetBaseline) {
      if (!base) throw new Error('producer: a delta needs a base (a previous result or a BaseRef with its state)');
      state = nextState(base.state, { files: changes, removed });
    } else {
      state = nextState([], { files: changes });
    }
    let listed = entries;
    if (tamper.unsortedFiles) listed = [...entries].reverse();
    if (tamper.duplicateFileEntry && entries.length > 0) listed = [entries[0], ...entries];
    let doc: ExportJsonDoc = {
      schemaVersion: tamper.schemaVersion ?? 1,
      exportId,
      runId,
      tenant,
      profile: { id: profileId, kind: 'mirror', variant },
      generation,
      createdAt,
      selectors: spec.selectors ?? { include: ['advisories', 'vex', 'sboms', 'findings'] },
      base: variant === 'delta' ? baseRef : null,
      resetBaseline: spec.resetBaseline ?? false,
      files: listed,
      removed: variant === 'delta' ? removed : [],
      state: stateSummary(state),
      encryption: enc ? { mode: 'age', paths: 'data/**' } : null,
    };
    if (tamper.exportJsonOverride) doc = tamper.exportJsonOverride(doc) as ExportJsonDoc;
    const exportJsonSigned =
      tamper.exportJsonBytes !== undefined ? Buffer.from(tamper.exportJsonBytes) : jsonBytes(doc);

    const manifestSigned = Buffer.from(tamper.manifestYaml ?? manifestYaml(doc, entries, removed), 'utf8');
    const signer = tamper.signWith ?? spec.key;
    const exportSig = signatureFile(signer, exportJsonSigned);
    const manifestSig = signatureFile(signer, manifestSigned);
    const exportJsonStored = tamper.exportJsonAfterSigning ? tamper.exportJsonAfterSigning(exportJsonSigned) : exportJsonSigned;
    const manifestStored = tamper.manifestAfterSigning ? tamper.manifestAfterSigning(manifestSigned) : manifestSigned;

    const out = new Map<string, Buffer>();
    out.set('export.json', exportJsonStored);
    out.set('manifest.yaml', manifestStored);
    out.set('signatures/export.sig', exportSig);
    out.set('signatures/manifest.sig', manifestSig);
    if (spec.dsse) out.set('signatures/export.dsse.json', dsseEnvelope(signer, 'application/vnd.stellaops.export+json', exportJsonSigned));

    // provenance.json (in-toto Statement v1).
    const environment: Record<string, unknown> = {};
    if (enc && dek) {
      const recipients = [];
      for (const r of enc.recipients) {
        const e = new Encrypter();
        e.addRecipient(r);
        const wrapped = await e.encrypt(dek);
        recipients.push({ type: 'age', recipient: r, wrappedKey: Buffer.from(wrapped).toString('base64'), keyId: enc.keyId ?? 'ops-key' });
      }
      environment.encryption = { mode: 'age', aadFormat: '{runId}:{relativePath}', nonceFormat: 'prefix-12', paths: 'data/**', recipients };
    }
    const exportDigest = tamper.badProvenanceSubject ? sha256hex('not export.json') : sha256hex(exportJsonStored);
    out.set(
      'provenance.json',
      jsonBytes({
        _type: 'https://in-toto.io/Statement/v1',
        subject: [
          { name: 'export.json', digest: { sha256: exportDigest } },
          { name: 'manifest.yaml', digest: { sha256: sha256hex(manifestStored) } },
        ],
        predicateType: 'https://slsa.dev/provenance/v1',
        predicate: {
          buildDefinition: {
            buildType: 'https://stella-ops.org/export-center/mirror@v1',
            externalParameters: { profile: profileId, tenant },
          },
          environment,
          runDetails: { builder: { id: 'okc-producer' }, metadata: { invocationId: runId } },
        },
      }),
    );

    if (variant === 'delta') {
      const baseState = new Set((base?.state ?? []).map((e) => e.path));
      const added = files.filter((f) => !baseState.has(f.path)).map((f) => f.path);
      const changed = files.filter((f) => baseState.has(f.path)).map((f) => f.path);
      if (tamper.diffOtherPath) {
        const last = files.map((f) => f.path).sort().pop();
        for (const list of [added, changed]) {
          const at = list.indexOf(last!);
          if (at >= 0) list.splice(at, 1, tamper.diffOtherPath);
        }
      }
      const diffRemoved = tamper.diffDisagrees ? [] : removed;
      out.set(
        'delta/manifest.diff.json',
        jsonBytes({
          baseExportId: baseRef?.exportId ?? null,
          baseManifestHash: baseRef?.manifestDigest ?? null,
          added,
          changed,
          removed: diffRemoved,
          counts: { added: added.length, changed: changed.length, removed: diffRemoved.length },
        }),
      );
      let tomb = [...removed];
      if (tamper.dropTombstone) {
        const drop = tamper.dropTombstone === true ? tomb[0] : tamper.dropTombstone;
        tomb = tomb.filter((p) => p !== drop);
      }
      if (tamper.extraTombstone) tomb.push(tamper.extraTombstone === true ? 'data/never/was-here.jsonl.zst' : tamper.extraTombstone);
      out.set('delta/tombstones.jsonl', Buffer.from(tomb.map((p) => `${JSON.stringify({ path: p, removedAt: createdAt })}\n`).join(''), 'utf8'));
    }

    result = {
      kind: variant === 'full' ? 'mirror-full' : 'mirror-delta',
      tenant,
      profileId,
      exportId,
      generation,
      runId,
      exportJson: doc,
      exportJsonBytes: exportJsonStored,
      exportJsonSha256: sha256hex(exportJsonStored),
      manifestDigest: `sha256:${sha256hex(exportJsonStored)}`,
      state,
      dek,
      exportSignature: exportSig.toString('utf8').trim(),
    };
    return { files: out };
  };

  const withDirs = spec.directories ?? true;
  const emittedDirs = new Set<string>();
  function* dirHeaders(name: string): Generator<Buffer> {
    if (!withDirs || name.startsWith('/')) return;
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = `${parts.slice(0, i).join('/')}/`;
      if (d.includes('..') || emittedDirs.has(d)) continue;
      emittedDirs.add(d);
      yield tarHeader({ name: d, type: 'directory' });
    }
  }

  async function* tarChunks(): AsyncGenerator<Buffer> {
    for (const m of members) {
      yield* dirHeaders(m.name);
      if (m.kind === 'control') {
        if (!control) control = await buildControl();
        const body = control.files.get(m.rel)!;
        yield tarHeader({ name: m.name, size: body.length });
        yield body;
        yield Buffer.alloc(padding(body.length));
      } else if (m.kind === 'raw') {
        const type = m.raw.type ?? 'file';
        const body = type === 'file' ? Buffer.concat([...storedChunks(m.raw.content ?? '', null)]) : Buffer.alloc(0);
        yield tarHeader({ name: m.name, type, size: body.length, linkname: m.raw.linkname });
        if (body.length) {
          yield body;
          yield Buffer.alloc(padding(body.length));
        }
      } else {
        const cipher = m.listed ? (ciphers.get(m.rel) ?? null) : null;
        const plainSize = contentSize(m.file.content);
        const storedSize = cipher ? plainSize + GCM_OVERHEAD : plainSize;
        yield tarHeader({ name: m.name, size: storedSize });
        const plain = createHash('sha256');
        const stored = createHash('sha256');
        let offset = 0;
        const flipAt = m.listed && tamper.flipByteIn === m.rel ? Math.floor(storedSize / 2) : -1;
        for (let b of storedChunks(m.file.content, cipher, (p) => plain.update(p))) {
          if (cipher) stored.update(b);
          if (flipAt >= offset && flipAt < offset + b.length) {
            b = Buffer.from(b);
            b[flipAt - offset] ^= 0xff;
          }
          offset += b.length;
          yield b;
        }
        yield Buffer.alloc(padding(storedSize));
        if (m.listed && !digests.has(m.rel)) {
          const d: Digests = { sha256: plain.digest('hex'), size: plainSize };
          if (cipher) {
            d.storedSha256 = stored.digest('hex');
            d.storedSize = storedSize;
          }
          digests.set(m.rel, d);
        }
      }
    }
    if (!control) control = await buildControl();
    if (!tamper.noTarEnd) yield TAR_END;
  }

  mkdirSync(dirname(outFile), { recursive: true });
  const hash = createHash('sha256');
  let rawSize = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      rawSize += chunk.length;
      cb(null, chunk);
    },
  });
  const source = Readable.from(tarChunks(), { objectMode: false, highWaterMark: 1 << 20 });
  const zstd = new CompressStream({ compressionLevel: spec.compressionLevel ?? 1 });
  if (spec.age) {
    const e = new Encrypter();
    if (spec.age.passphrase !== undefined) {
      e.setScryptWorkFactor(spec.age.scryptWorkFactor ?? 10);
      e.setPassphrase(spec.age.passphrase);
    }
    for (const r of spec.age.recipients ?? []) e.addRecipient(r);
    source.on('error', (err) => zstd.destroy(err));
    source.pipe(zstd);
    const webIn = Readable.toWeb(zstd) as unknown as ReadableStream<Uint8Array>;
    const webOut = await e.encrypt(webIn);
    await pipeline(Readable.fromWeb(webOut as unknown as WebReadableStream<Uint8Array>), tap, createWriteStream(outFile));
  } else {
    await pipeline(source, zstd, tap, createWriteStream(outFile));
  }
  let rawSha256 = hash.digest('hex');
  if (tamper.truncate) {
    const frac = tamper.truncate === true ? 0.5 : tamper.truncate;
    truncateSync(outFile, Math.floor(statSync(outFile).size * frac));
    rawSize = statSync(outFile).size;
    rawSha256 = await sha256File(outFile);
  }
  if (!result) throw new Error('producer: control files were never built');
  return { ...(result as Omit<MirrorBundleResult, 'file' | 'rawSha256' | 'rawSize'>), file: outFile, rawSha256, rawSize };
}

function manifestYaml(doc: ExportJsonDoc, files: ExportFileEntry[], removed: string[]): string {
  const lines = [
    `profile: ${yamlStr(doc.profile.id)}`,
    `variant: ${doc.profile.variant}`,
    `tenant: ${yamlStr(doc.tenant)}`,
    `exportId: ${yamlStr(doc.exportId)}`,
    `generation: ${doc.generation}`,
    `createdAt: ${yamlStr(doc.createdAt)}`,
    `selectors: ${JSON.stringify(doc.selectors)}`,
    'counts:',
    `  files: ${files.length}`,
    `  removed: ${removed.length}`,
    `  stateFiles: ${doc.state.fileCount}`,
    `totalBytes: ${files.reduce((n, f) => n + f.size, 0)}`,
    `stateDigest: ${yamlStr(doc.state.digest)}`,
  ];
  if (files.length === 0) lines.push('files: []');
  else {
    lines.push('files:');
    for (const f of files) lines.push(`  - path: ${yamlStr(f.path)}`, `    sha256: ${f.sha256}`, `    size: ${f.size}`);
  }
  if (removed.length > 0) {
    lines.push('removed:');
    for (const p of removed) lines.push(`  - ${yamlStr(p)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Bare hex SHA-256 of a file, streaming. */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}
