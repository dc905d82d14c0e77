/**
 * Trivy DB bundles (spec section 7): a gzip tar with metadata.json and
 * trivy.db (bbolt) or trivy-java.db (SQLite) at the root, plus a detached
 * cosign-style signature over the bundle file's bytes.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { minimalBbolt } from './bbolt';
import { signatureFile, type SigningKey } from './keys';
import { jsonBytes } from './mirror';
import { padding, TAR_END, tarHeader, type TarType } from './tar';

export type TrivyKind = 'trivy-db' | 'trivy-java-db';

export interface TrivyBundleSpec {
  kind: TrivyKind;
  key: SigningKey;
  /** Schema version in metadata.json (default: 2 for trivy-db, 1 for trivy-java-db). */
  version?: number;
  nextUpdate?: string;
  updatedAt?: string;
  downloadedAt?: string;
  /** Where the detached signature goes (default `<outFile>.sig`). */
  signatureFile?: string;
  /** The database bytes to ship (default: a minimal valid database of the kind). */
  db?: Buffer;
  /** Deliberately broken variants. */
  corrupt?: 'bbolt-magic' | 'bbolt-checksum' | 'bbolt-version' | 'sqlite-header' | 'metadata-json' | 'missing-db' | 'symlink-member' | 'truncate';
  /** Sign with another key (ERR_VERIFY_SIGNATURE against the spec key). */
  signWith?: SigningKey;
  /** Extra raw members for the tar. */
  extraMembers?: { name: string; type?: TarType; content?: Buffer | string; linkname?: string }[];
}

export interface TrivyBundleResult {
  file: string;
  kind: TrivyKind;
  signatureFile: string;
  /** Base64 signature text. */
  signature: string;
  sha256: string;
  size: number;
  metadata: Record<string, unknown>;
}

/** A small valid SQLite database shaped like trivy-java.db. */
export function minimalJavaDb(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'okc-javadb-'));
  try {
    const file = join(dir, 'trivy-java.db');
    const db = new Database(file);
    db.exec(`
      CREATE TABLE artifacts(id INTEGER PRIMARY KEY, group_id TEXT, artifact_id TEXT);
      CREATE TABLE indices(artifact_id INTEGER, version TEXT, sha1 BLOB, archive_type TEXT,
        FOREIGN KEY (artifact_id) REFERENCES artifacts(id));
      CREATE UNIQUE INDEX artifacts_idx ON artifacts(artifact_id, group_id);
      CREATE INDEX indices_artifact_idx ON indices(artifact_id);
      INSERT INTO artifacts(id, group_id, artifact_id) VALUES (1, 'org.example', 'demo-lib'), (2, 'org.example', 'demo-core');
      INSERT INTO indices VALUES (1, '1.0.0', x'00112233445566778899aabbccddeeff00112233', 'jar'),
                                 (2, '2.1.0', x'ffeeddccbbaa99887766554433221100ffeeddcc', 'jar');
    `);
    db.close();
    return readFileSync(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function member(name: string, body: Buffer, type: TarType = 'file', linkname?: string): Buffer {
  const head = tarHeader({ name, type, size: type === 'file' ? body.length : 0, linkname });
  if (type !== 'file' || body.length === 0) return head;
  return Buffer.concat([head, body, Buffer.alloc(padding(body.length))]);
}

export function writeTrivyBundle(outFile: string, spec: TrivyBundleSpec): TrivyBundleResult {
  const java = spec.kind === 'trivy-java-db';
  const dbName = java ? 'trivy-java.db' : 'trivy.db';
  const metadata: Record<string, unknown> = {
    Version: spec.version ?? (java ? 1 : 2),
    NextUpdate: spec.nextUpdate ?? '2099-01-01T00:00:00Z',
    UpdatedAt: spec.updatedAt ?? '2025-10-29T00:00:00Z',
  };
  if (spec.downloadedAt !== undefined) metadata.DownloadedAt = spec.downloadedAt;
  let db: Buffer;
  if (spec.db) db = spec.db;
  else if (java) db = minimalJavaDb();
  else {
    const corrupt = spec.corrupt === 'bbolt-magic' ? 'magic' : spec.corrupt === 'bbolt-checksum' ? 'checksum' : spec.corrupt === 'bbolt-version' ? 'version' : undefined;
    db = minimalBbolt({ corrupt });
  }
  if (spec.corrupt === 'sqlite-header') {
    db = Buffer.from(db);
    db.write('NOT SQLite fmt 3', 0, 'latin1');
  }
  const meta = spec.corrupt === 'metadata-json' ? Buffer.from('{"Version": 2, "NextUpdate": ', 'utf8') : jsonBytes(metadata);
  const parts = [member('metadata.json', meta)];
  if (spec.corrupt !== 'missing-db') parts.push(member(dbName, db));
  if (spec.corrupt === 'symlink-member') parts.push(member('evil.db', Buffer.alloc(0), 'symlink', '/etc/passwd'));
  for (const x of spec.extraMembers ?? []) parts.push(member(x.name, Buffer.from(x.content ?? ''), x.type ?? 'file', x.linkname));
  parts.push(TAR_END);
  let gz = gzipSync(Buffer.concat(parts), { level: 6 });
  if (spec.corrupt === 'truncate') gz = gz.subarray(0, Math.floor(gz.length / 2));
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, gz);
  const sigFile = spec.signatureFile ?? `${outFile}.sig`;
  const sig = signatureFile(spec.signWith ?? spec.key, gz);
  mkdirSync(dirname(sigFile), { recursive: true });
  writeFileSync(sigFile, sig);
  return {
    file: outFile,
    kind: spec.kind,
    signatureFile: sigFile,
    signature: sig.toString('utf8').trim(),
    sha256: createHash('sha256').update(gz).digest('hex'),
    size: gz.length,
    metadata,
  };
}
