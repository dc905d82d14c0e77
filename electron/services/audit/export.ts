/**
 * Evidence exports of the audit log: the rows (JSON lines or CSV) plus the
 * chain head at export time, so an auditor can re-verify offline and a later
 * `mirror audit verify --against` can prove the tail was not cut. Optionally
 * signed with an operator's private key (detached, cosign-style base64).
 */
import { createPrivateKey, createHash, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { OpsError } from '../../../shared/errors';
import type { Db } from '../db/index';
import { openAtomic, writeFileAtomic } from '../durability';
import { canonicalJson } from './canonical';
import { auditHead, iterateAudit, type AuditRow, type ChainHead } from './index';

export const AUDIT_EXPORT_FORMAT = 'okc-audit-export/1';

export interface AuditExportOptions {
  out: string;
  from?: string;
  to?: string;
  format?: 'jsonl' | 'csv';
  /** PEM private key file; writes `<out>.sig` (and `<out>.head.json.sig`). */
  signWith?: string;
  /** Recorded in the head file. */
  operator?: string;
}

export interface AuditExportResult {
  out: string;
  headFile: string;
  rows: number;
  head: ChainHead;
  signature: string | null;
  headSignature: string | null;
  sha256: string;
}

/** The head record, written as the last line of a JSONL export and as `<out>.head.json`. */
export interface ExportHeadRecord {
  format: typeof AUDIT_EXPORT_FORMAT;
  exportedAt: string;
  range: { from: string | null; to: string | null };
  rowsExported: number;
  chainHead: ChainHead;
  hashAlgorithm: string;
}

function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

const CSV_COLUMNS = ['id', 'ts', 'actor', 'action', 'subject', 'details', 'prevHash', 'hash'] as const;

function rowLine(row: AuditRow, format: 'jsonl' | 'csv'): string {
  if (format === 'jsonl') return JSON.stringify(row) + '\n';
  const values = [String(row.id), row.ts, row.actor, row.action, row.subject, canonicalJson(row.details), row.prevHash, row.hash];
  return values.map(csvField).join(',') + '\n';
}

/** An operator's PEM private key for detached signatures (audit and evidence exports). */
export function loadSigningKey(file: string): KeyObject {
  if (!existsSync(file)) throw new OpsError('ERR_INPUT_NOT_FOUND', `The signing key ${file} does not exist.`, { path: file });
  try {
    return createPrivateKey(readFileSync(file));
  } catch (e) {
    throw new OpsError('ERR_KEY_INVALID', `The signing key ${file} is not a readable PEM private key (${(e as Error).message}). Give an unencrypted PKCS#8 or SEC1/PKCS#1 PEM private key.`, { path: file });
  }
}

/** Signs bytes as the console's verifiers expect: Ed25519 pure, else SHA-256 (ECDSA DER, RSA PKCS#1 v1.5). Returns base64. */
export function signDetached(data: Buffer, key: KeyObject): string {
  const type = key.asymmetricKeyType;
  const alg = type === 'ed25519' || type === 'ed448' ? null : 'sha256';
  return cryptoSign(alg, data, key).toString('base64');
}

/**
 * Writes the export. The head is the WHOLE chain's head at export time (not
 * just the exported range), read in the same read transaction as the rows.
 */
export function exportAudit(db: Db, opts: AuditExportOptions): AuditExportResult {
  const format = opts.format ?? 'jsonl';
  if (format !== 'jsonl' && format !== 'csv') throw new OpsError('ERR_USAGE', `--format must be jsonl or csv, got "${String(format)}".`);
  if (!existsSync(dirname(opts.out))) throw new OpsError('ERR_INPUT_NOT_FOUND', `The folder for ${opts.out} does not exist. Create it first.`, { path: dirname(opts.out) });
  const key = opts.signWith ? loadSigningKey(opts.signWith) : null;
  const out = openAtomic(opts.out, { mode: 0o600, syncDir: true });
  const hash = createHash('sha256');
  const put = (s: string): void => {
    const b = Buffer.from(s, 'utf8');
    hash.update(b);
    out.write(b);
  };
  let rows = 0;
  let head: ChainHead;
  let record: ExportHeadRecord;
  try {
    // One read transaction: rows and head are a consistent snapshot.
    const snapshot = db.transaction(() => {
      if (format === 'csv') put(CSV_COLUMNS.join(',') + '\n');
      let batch = '';
      for (const row of iterateAudit(db, { from: opts.from, to: opts.to })) {
        batch += rowLine(row, format);
        rows++;
        if (batch.length > 1 << 20) {
          put(batch);
          batch = '';
        }
      }
      if (batch) put(batch);
      return auditHead(db);
    });
    head = snapshot.deferred();
    record = {
      format: AUDIT_EXPORT_FORMAT,
      exportedAt: new Date().toISOString(),
      range: { from: opts.from ?? null, to: opts.to ?? null },
      rowsExported: rows,
      chainHead: head,
      hashAlgorithm: 'sha256(prevHash || canonicalJson({action,actor,details,id,prevHash,subject,ts}))',
    };
    if (format === 'jsonl') put(JSON.stringify({ chainHead: head, export: record }) + '\n');
    out.commit();
  } finally {
    out.abort();
  }
  const headFile = `${opts.out}.head.json`;
  const headText = JSON.stringify(record, null, 2) + '\n';
  writeFileAtomic(headFile, headText, 0o600, { syncDir: true });
  let signature: string | null = null;
  let headSignature: string | null = null;
  if (key) {
    signature = `${opts.out}.sig`;
    writeFileAtomic(signature, signDetached(readFileSync(opts.out), key) + '\n', 0o600, { syncDir: true });
    headSignature = `${headFile}.sig`;
    writeFileAtomic(headSignature, signDetached(Buffer.from(headText, 'utf8'), key) + '\n', 0o600, { syncDir: true });
  }
  return { out: opts.out, headFile, rows, head, signature, headSignature, sha256: hash.digest('hex') };
}

function isHead(v: unknown): v is ChainHead {
  const h = v as ChainHead;
  return !!h && typeof h === 'object' && Number.isInteger(h.count) && Number.isInteger(h.lastId) && typeof h.hash === 'string' && /^[0-9a-f]{64}$/.test(h.hash);
}

/**
 * Reads the chain head recorded by an export: a JSONL export (its last line),
 * a `.head.json` file, or a CSV export with its `.head.json` beside it.
 */
export function readExportHead(file: string): ChainHead {
  if (!existsSync(file)) throw new OpsError('ERR_INPUT_NOT_FOUND', `The evidence export ${file} does not exist.`, { path: file });
  const bad = (why: string) =>
    new OpsError('ERR_USAGE', `${file} is not an audit evidence export (${why}). Pass the .jsonl file or the .head.json written by \`mirror audit export\`.`, { path: file });
  const text = readFileSync(file, 'utf8');
  const tryParse = (s: string): unknown => {
    try {
      return JSON.parse(s);
    } catch {
      return undefined;
    }
  };
  const whole = tryParse(text) as { chainHead?: unknown; audit?: { chainHead?: unknown } } | undefined;
  if (whole && typeof whole === 'object' && isHead(whole.chainHead)) return whole.chainHead;
  // A checklist evidence report records the head too.
  if (whole && typeof whole === 'object' && whole.audit && isHead(whole.audit.chainHead)) return whole.audit.chainHead;
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const last = lines.length ? (tryParse(lines[lines.length - 1]) as { chainHead?: unknown } | undefined) : undefined;
  if (last && typeof last === 'object' && isHead(last.chainHead)) return last.chainHead;
  if (existsSync(`${file}.head.json`)) return readExportHead(`${file}.head.json`);
  throw bad('no chain head record found');
}
