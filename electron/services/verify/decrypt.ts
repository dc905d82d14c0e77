/**
 * Per-file decryption (spec 5.2): the data key unwrapped with the caller's age
 * identities from provenance.json, then each encrypted file (AES-256-GCM with
 * AAD "<runId>:<path>") decrypted and checked against its plaintext digest.
 */
import { createDecipheriv, createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { OpsError, isOpsError } from '../../../shared/errors';
import type { EncryptedFile } from './checks';
import type { ExportJson } from './export-schema';
import { addIdentities } from './stream/age';
import { checkAbort } from './stream/read';
import { SinkFile } from './stream/sink';
import type { VerifyOptions } from './types';
import type { Report } from './verdict';

const READ_CHUNK = 4 * 1024 * 1024;

interface Recipient {
  wrappedKey?: unknown;
  keyId?: unknown;
  recipient?: unknown;
}

async function unwrapDek(prov: Record<string, unknown> | null, opts: VerifyOptions): Promise<Buffer | OpsError> {
  const enc = ((prov?.predicate as Record<string, unknown> | undefined)?.environment as Record<string, unknown> | undefined)?.encryption as Record<string, unknown> | undefined;
  const recipients = Array.isArray(enc?.recipients) ? (enc!.recipients as Recipient[]) : [];
  if (!recipients.length) {
    return new OpsError('ERR_DECRYPT_NO_RECIPIENT', 'provenance.json lists no recipients for the per-file encryption, so the data key cannot be unwrapped.', { path: 'mirror/provenance.json' });
  }
  const { Decrypter } = await import('age-encryption');
  const d = new Decrypter();
  try {
    addIdentities(d, opts);
  } catch (e) {
    return isOpsError(e) ? e : new OpsError('ERR_USAGE', String(e));
  }
  for (const r of recipients) {
    if (typeof r?.wrappedKey !== 'string') continue;
    let dek: Uint8Array;
    try {
      dek = await d.decrypt(Buffer.from(r.wrappedKey, 'base64'));
    } catch {
      continue;
    }
    if (dek.length !== 32) return new OpsError('ERR_DECRYPT_AUTH', `The data key unwrapped for recipient ${String(r.keyId ?? r.recipient ?? '?')} is ${dek.length} bytes, not 32.`, { path: 'mirror/provenance.json' });
    return Buffer.from(dek);
  }
  return new OpsError('ERR_DECRYPT_NO_RECIPIENT', `None of the age identities given matches a recipient of this bundle (${recipients.map((r) => String(r.keyId ?? r.recipient ?? '?')).join(', ')}).`, { path: 'mirror/provenance.json' });
}

export async function decryptPerFile(
  report: Report,
  exp: ExportJson,
  prov: Record<string, unknown> | null,
  files: EncryptedFile[],
  opts: VerifyOptions,
  extractRoot: string | undefined,
): Promise<boolean> {
  const name = 'per-file decryption';
  const dek = await unwrapDek(prov, opts);
  if (dek instanceof OpsError) {
    report.fail(name, dek.code, dek.message, dek.path);
    return false;
  }
  let ok = true;
  for (const f of files) {
    checkAbort(opts.signal);
    const where = `mirror/${f.path}`;
    if (!f.location) {
      ok = false;
      report.fail(name, 'ERR_DECRYPT_AUTH', `The encrypted bytes of ${where} were not kept for decryption.`, where);
      continue;
    }
    const out = extractRoot ? `${f.location}.okc-plain` : undefined;
    const r = await decryptOne(f.location, out, dek, `${exp.runId}:${f.path}`);
    if (r.error) {
      ok = false;
      report.fail(name, 'ERR_DECRYPT_AUTH', `${where} failed authentication when decrypted (AES-256-GCM with AAD "<runId>:<path>"): it was altered or encrypted for another run.`, where);
      if (out) rmSync(out, { force: true });
      continue;
    }
    if (r.size !== f.size || r.sha256 !== f.sha256) {
      ok = false;
      report.fail(name, 'ERR_VERIFY_DIGEST', `The decrypted ${where} does not match its plaintext digest or size in export.json.`, where);
      if (out) rmSync(out, { force: true });
      continue;
    }
    if (out) renameSync(out, f.location);
  }
  if (ok) report.ok(name, `${files.length} files decrypted; plaintext digests match`);
  return ok;
}

async function decryptOne(file: string, out: string | undefined, dek: Buffer, aad: string): Promise<{ error?: string; size: number; sha256: string }> {
  const st = statSync(file);
  if (st.size < 28) return { error: 'too short', size: 0, sha256: '' };
  const fd = openSync(file, 'r');
  const nonce = Buffer.alloc(12);
  const tag = Buffer.alloc(16);
  try {
    readSync(fd, nonce, 0, 12, 0);
    readSync(fd, tag, 0, 16, st.size - 16);
  } finally {
    closeSync(fd);
  }
  const decipher = createDecipheriv('aes-256-gcm', dek, nonce);
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(tag);
  const h = createHash('sha256');
  let size = 0;
  const sink = out ? new SinkFile(out) : undefined;
  try {
    const rs = createReadStream(file, { start: 12, end: st.size - 17, highWaterMark: READ_CHUNK });
    for await (const c of rs as AsyncIterable<Buffer>) {
      const p = decipher.update(c);
      h.update(p);
      size += p.length;
      sink?.write(p);
    }
    const last = decipher.final();
    h.update(last);
    size += last.length;
    sink?.write(last);
    sink?.close();
  } catch (e) {
    sink?.abandon();
    return { error: (e as Error).message, size, sha256: '' };
  }
  return { size, sha256: h.digest('hex') };
}
