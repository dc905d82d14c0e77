/**
 * The checks of a mirror bundle (spec sections 3 to 6) once its stream was
 * read: pure functions over the collected control files and member table,
 * each adding its outcome to a Report.
 */
import { createHash } from 'node:crypto';
import { OpsError, isOpsError } from '../../../shared/errors';
import { compareBytewise, sortBytewise } from '../../../shared/paths';
import { preAuthEncoding, parseDsseEnvelope } from './dsse';
import { isEncryptedFile, type ExportJson } from './export-schema';
import { decodeSignature, verifyDetached, verifyRaw, type TrustedKey } from './keys';
import type { FileList } from './file-list';
import type { Member, PayloadTable } from './stream/collector';
import type { SignedBlob } from './stream/signed-blob';
import type { TarGate } from './tar-gate';
import type { VerifyOptions } from './types';
import type { Report } from './verdict';
import { checkYaml } from './yaml-check';

export const DSSE_PAYLOAD_TYPE = 'application/vnd.stellaops.export+json';

export type KeysInfo = { tried: string[]; signedBy: string[] };

/** One detached signature (cosign sign-blob) over a control file (held in memory, or streamed: a SignedBlob). */
function signatureCheck(report: Report, control: Map<string, Buffer>, keys: TrustedKey[], name: string, sigRel: string, blobRel: string, streamed?: SignedBlob | null): KeysInfo | undefined {
  const blob = streamed ?? control.get(blobRel);
  const sig = control.get(sigRel);
  if (!blob) return undefined;
  if (!sig) {
    report.fail(name, 'ERR_VERIFY_SIGNATURE', `The bundle has no mirror/${sigRel}: ${blobRel} is not signed.`, `mirror/${sigRel}`);
    return undefined;
  }
  let r: ReturnType<typeof verifyDetached>;
  try {
    r = Buffer.isBuffer(blob) ? verifyDetached(blob, sig, keys) : blob.verifyDetached(sig, blobRel);
  } catch (e) {
    report.fail(name, isOpsError(e) ? e.code : 'ERR_VERIFY_SIGNATURE', (e as Error).message, `mirror/${blobRel}`);
    return undefined;
  }
  if (r.ok) report.ok(name, `signed by ${r.signedBy.join(', ')}`);
  else if (keys.length === 0) report.fail(name, 'ERR_VERIFY_SIGNATURE', `No trusted key was given, so the signature over ${blobRel} cannot be checked. Pin the Export Center's key for this tenant, or pass --key.`, `mirror/${sigRel}`);
  else if (!decodeSignature(sig)) report.fail(name, 'ERR_VERIFY_SIGNATURE', `mirror/${sigRel} is not a base64 signature.`, `mirror/${sigRel}`);
  else report.fail(name, 'ERR_VERIFY_SIGNATURE', `The signature over ${blobRel} was not made by any trusted key (tried ${r.tried.join(', ')}). ${r.note ?? 'The bundle was signed by another key, or altered after signing.'}`, `mirror/${sigRel}`);
  return { tried: r.tried, signedBy: r.signedBy };
}

/**
 * export.sig over export.json (streamed: its verifiers were fed as it was
 * read), manifest.sig over manifest.yaml, and the optional DSSE and Sigstore
 * envelopes.
 */
export async function checkSignatures(report: Report, control: Map<string, Buffer>, exportBlob: SignedBlob, manifestBlob: SignedBlob | null, opts: VerifyOptions): Promise<KeysInfo | undefined> {
  const keys = opts.keys;
  const keysInfo = signatureCheck(report, control, keys, 'signature export.sig over export.json', 'signatures/export.sig', 'export.json', exportBlob);
  if (!manifestBlob) report.fail('manifest.yaml present', 'ERR_VERIFY_MISSING_FILE', 'The bundle has no mirror/manifest.yaml.', 'mirror/manifest.yaml');
  else signatureCheck(report, control, keys, 'signature manifest.sig over manifest.yaml', 'signatures/manifest.sig', 'manifest.yaml', manifestBlob);
  const dsse = control.get('signatures/export.dsse.json');
  if (dsse) checkDsse(report, dsse, { sha256: exportBlob.sha256, size: exportBlob.size }, keys);
  const sigstore = control.get('signatures/export.sigstore.json');
  if (sigstore) {
    let exportBytes: Buffer | null = null;
    try {
      exportBytes = exportBlob.bytes('export.json');
    } catch (e) {
      report.fail('Sigstore bundle export.sigstore.json', 'ERR_VERIFY_SIGNATURE', `The Sigstore bundle over export.json cannot be verified: ${(e as Error).message}`, 'mirror/signatures/export.sigstore.json');
    }
    if (exportBytes) await checkSigstore(report, sigstore, exportBytes, opts);
  }
  return keysInfo;
}

async function checkSigstore(report: Report, bundle: Buffer, exportBytes: Buffer, opts: VerifyOptions): Promise<void> {
  const name = 'Sigstore bundle export.sigstore.json';
  const where = 'mirror/signatures/export.sigstore.json';
  try {
    // Loaded only for a bundle that carries a Sigstore bundle (the module takes ~100–250 ms to load).
    const { verifySigstoreBundle } = await import('./sigstore');
    const r = await verifySigstoreBundle(bundle, exportBytes, {
      keys: opts.keys,
      ...(opts.trustedRoot ? { trustedRootFile: opts.trustedRoot } : {}),
      ...(opts.certificateIdentity ? { certificateIdentity: opts.certificateIdentity } : {}),
      ...(opts.certificateOidcIssuer ? { certificateOidcIssuer: opts.certificateOidcIssuer } : {}),
    });
    if (r.ok) report.ok(name, r.detail);
    else report.fail(name, 'ERR_VERIFY_SIGNATURE', `The Sigstore bundle over export.json does not verify: ${r.detail}`, where);
  } catch (e) {
    report.fail(name, 'ERR_VERIFY_SIGNATURE', `The Sigstore bundle over export.json cannot be verified: ${(e as Error).message}`, where);
  }
}

/**
 * manifest.yaml is informational (spec section 3) but must be YAML. A
 * manifest the fast path recognised as its lines streamed is YAML by
 * construction; any other is read back from the spool and parsed whole.
 */
export function checkManifestYaml(report: Report, blob: SignedBlob | null, recognised: boolean): void {
  if (!blob) return;
  if (recognised) return report.ok('manifest.yaml parses');
  try {
    checkYaml(blob.bytes('manifest.yaml').toString('utf8'));
    report.ok('manifest.yaml parses');
  } catch (e) {
    if (isOpsError(e)) return report.fail('manifest.yaml parses', e.code, e.message, 'mirror/manifest.yaml');
    report.fail('manifest.yaml parses', 'ERR_BUNDLE_CORRUPT', `mirror/manifest.yaml is not valid YAML (${(e as Error).message.split('\n')[0]}).`, 'mirror/manifest.yaml');
  }
}

/** provenance.json present, a JSON object, and its subjects agree with export.json and manifest.yaml. */
export function checkProvenance(report: Report, bytes: Buffer | undefined, members: Map<string, Member>): Record<string, unknown> | null {
  if (!bytes) {
    report.fail('provenance.json present', 'ERR_VERIFY_MISSING_FILE', 'The bundle has no mirror/provenance.json.', 'mirror/provenance.json');
    return null;
  }
  let provenance: Record<string, unknown> | null = null;
  try {
    const p: unknown = JSON.parse(bytes.toString('utf8'));
    if (!p || typeof p !== 'object' || Array.isArray(p)) throw new Error('not a JSON object');
    provenance = p as Record<string, unknown>;
  } catch (e) {
    report.fail('provenance.json parses', 'ERR_BUNDLE_CORRUPT', `mirror/provenance.json is not valid JSON (${(e as Error).message}).`, 'mirror/provenance.json');
  }
  if (provenance) checkProvenanceSubjects(report, provenance, members);
  return provenance;
}

export interface EncryptedFile {
  path: string;
  sha256: string;
  size: number;
  location?: string;
}

/** Failures of one kind reported one by one up to this many; the rest are counted in one more line. */
const REPORT_EACH_MAX = 1000;

/**
 * Every listed file present with its size and digest, nothing extra (a walk
 * of the compact file list against the compact member table, then of the
 * member names for the extras). Returns the encrypted files to decrypt.
 */
export function checkContent(report: Report, exp: ExportJson, payload: PayloadTable, gate: TarGate): EncryptedFile[] {
  let contentOk = true;
  let failures = 0;
  const encrypted: EncryptedFile[] = [];
  const files = exp.files;
  const fail = (code: 'ERR_VERIFY_MISSING_FILE' | 'ERR_VERIFY_DIGEST' | 'ERR_VERIFY_EXTRA_FILE', message: string, path: string): void => {
    contentOk = false;
    if (++failures <= REPORT_EACH_MAX) report.fail('payload files', code, message, path);
  };
  for (let i = 0; i < files.length; i++) {
    if (files.isShared(i)) continue; // matched (size and digest) as export.json streamed
    const bytes = files.pathBytesAt(i);
    const path = bytes.toString('utf8');
    let id = payload.matchInOrder(bytes);
    if (id < 0) id = gate.idOf(`mirror/${path}`);
    if (!payload.has(id)) {
      fail('ERR_VERIFY_MISSING_FILE', `mirror/${path} is listed in export.json but is not in the bundle.`, `mirror/${path}`);
      continue;
    }
    payload.markMatched(id);
    const enc = exp.encryption !== null && isEncryptedFile(exp, path);
    const stored = enc ? files.storedAt(i) : null;
    const wantSize = stored ? stored.size! : files.sizeAt(i);
    const wantSha = stored ? stored.sha256! : files.digestAt(i);
    const gotSize = payload.sizeOf(id);
    const got = payload.digestOf(id);
    if (gotSize !== wantSize) {
      fail('ERR_VERIFY_DIGEST', `mirror/${path} is ${gotSize} bytes, but export.json says ${wantSize}${enc ? ' (stored, encrypted)' : ''}.`, `mirror/${path}`);
    } else if (!got.equals(wantSha)) {
      fail('ERR_VERIFY_DIGEST', `mirror/${path} does not match its ${enc ? 'stored (encrypted) ' : ''}digest in export.json (got sha256:${got.toString('hex').slice(0, 16)}…, expected sha256:${wantSha.toString('hex').slice(0, 16)}…).`, `mirror/${path}`);
    } else if (enc) {
      const location = payload.locationOf(id);
      encrypted.push({ path, sha256: files.digestAt(i).toString('hex'), size: files.sizeAt(i), ...(location ? { location } : {}) });
    }
  }
  const missingOrWrong = failures;
  if (payload.count > files.length || failures > 0) {
    const extras: string[] = [];
    let extraCount = 0;
    for (const rel of payload.namesInOrder()) {
      if (payload.isMatched(gate.idOf(`mirror/${rel}`))) continue;
      extraCount++;
      if (extras.length < REPORT_EACH_MAX) extras.push(rel);
    }
    sortBytewise(extras);
    for (const r of extras) fail('ERR_VERIFY_EXTRA_FILE', `mirror/${r} is in the bundle but export.json does not list it.`, `mirror/${r}`);
    failures = missingOrWrong + extraCount;
  }
  if (failures > REPORT_EACH_MAX) report.fail('payload files', 'ERR_VERIFY_DIGEST', `${failures - REPORT_EACH_MAX} more payload file(s) are missing, extra or do not match (only the first ${REPORT_EACH_MAX} are named).`);
  if (contentOk) report.ok('payload files', `${files.length} files match their size and digest${exp.encryption ? ' (stored bytes)' : ''}`);
  return encrypted;
}

/** A full bundle's "state" describes exactly the files it lists (digest fed as export.json streamed). */
export function checkStateDigest(report: Report, exp: ExportJson): void {
  if (exp.profile.variant !== 'full') return;
  const files = exp.files;
  const digest = files.stateDigest ?? stateDigestOf(files);
  const totalBytes = files.bytes;
  if (digest !== exp.state.digest || exp.state.fileCount !== files.length || exp.state.totalBytes !== totalBytes) {
    report.fail('state digest', 'ERR_VERIFY_DIGEST', `export.json "state" (${exp.state.fileCount} files, ${exp.state.totalBytes} bytes, ${exp.state.digest}) does not describe the files it lists (${files.length} files, ${totalBytes} bytes, ${digest}).`, 'mirror/export.json');
  } else {
    report.ok('state digest', exp.state.digest);
  }
}

/** The state digest of a sorted list, line by line. */
function stateDigestOf(files: FileList): string {
  const h = createHash('sha256');
  for (let i = 0; i < files.length; i++) h.update(`${files.digestHexAt(i)} ${files.sizeAt(i)} ${files.pathAt(i)}\n`, 'utf8');
  return 'sha256:' + h.digest('hex');
}

/** Delta rules for a delta; a warning for delta files in a full bundle. */
export function checkDeltaOrIgnored(report: Report, exp: ExportJson, control: Map<string, Buffer>): void {
  if (exp.profile.variant === 'delta') checkDelta(report, exp, control);
  else for (const rel of control.keys()) if (rel.startsWith('delta/')) report.warnings.push(`mirror/${rel} in a full bundle was ignored.`);
}

/** The schema outcome: the export.json parsed during the read, or why it did not parse. */
export function checkSchema(report: Report, parsed: ExportJson | null, error: unknown): ExportJson | undefined {
  if (parsed && !error) {
    report.ok('export.json schema', `schemaVersion 1, ${parsed.files.length} files`);
    return parsed;
  }
  const err = isOpsError(error) ? error : new OpsError('ERR_BUNDLE_CORRUPT', String(error));
  report.fail('export.json schema', err.code, err.message, 'mirror/export.json');
  return undefined;
}

/**
 * Keys pinned in a workspace carry their tenant: a signature by a key trusted
 * only for another tenant does not count (trust is pinned per tenant).
 */
export function checkSignerTenant(report: Report, keys: TrustedKey[], signedBy: string[], tenant: string, what: string): void {
  if (!signedBy.length) return;
  const signers = keys.filter((k) => signedBy.includes(k.fingerprint));
  if (signers.some((k) => k.tenant === undefined || k.tenant === tenant)) return;
  report.fail(`signer trusted for tenant ${tenant}`, 'ERR_VERIFY_SIGNATURE', `${what} is for tenant "${tenant}", but the key that signed it (${signers.map((k) => k.fingerprint).join(', ')}) is trusted only for tenant ${[...new Set(signers.map((k) => `"${k.tenant}"`))].join(', ')}.`);
}

/** The DSSE envelope over export.json; its payload must be export.json's bytes (compared by SHA-256 and size: export.json is streamed, not held). */
export function checkDsse(report: Report, bytes: Buffer, exportJson: { sha256: string; size: number }, keys: TrustedKey[]): void {
  const name = 'DSSE envelope export.dsse.json';
  const where = 'mirror/signatures/export.dsse.json';
  const env = parseDsseEnvelope(bytes);
  if (!env) return report.fail(name, 'ERR_VERIFY_SIGNATURE', 'mirror/signatures/export.dsse.json is not a well-formed DSSE envelope.', where);
  if (env.payloadType !== DSSE_PAYLOAD_TYPE) return report.fail(name, 'ERR_VERIFY_SIGNATURE', `The DSSE envelope has payloadType "${env.payloadType}", expected "${DSSE_PAYLOAD_TYPE}".`, where);
  if (env.payload.length !== exportJson.size || createHash('sha256').update(env.payload).digest('hex') !== exportJson.sha256) return report.fail(name, 'ERR_VERIFY_SIGNATURE', 'The DSSE envelope\'s payload is not the bundle\'s export.json.', where);
  const pae = preAuthEncoding(env.payloadType, env.payload);
  const signedBy = new Set<string>();
  for (const s of env.signatures) for (const k of keys) if (verifyRaw(pae, s.sig, k)) signedBy.add(k.fingerprint);
  if (signedBy.size) report.ok(name, `signed by ${[...signedBy].join(', ')}`);
  else report.fail(name, 'ERR_VERIFY_SIGNATURE', `No trusted key verifies the DSSE envelope over export.json (tried ${keys.map((k) => k.fingerprint).join(', ') || 'no keys'}).`, where);
}

function checkProvenanceSubjects(report: Report, prov: Record<string, unknown>, members: Map<string, Member>): void {
  const subjects = Array.isArray(prov.subject) ? (prov.subject as unknown[]) : [];
  let ok = true;
  for (const name of ['export.json', 'manifest.yaml']) {
    const m = members.get(name);
    if (!m) continue;
    const s = subjects.find((x): x is { name: string; digest?: { sha256?: unknown } } => !!x && typeof x === 'object' && (x as { name?: unknown }).name === name);
    if (!s) {
      ok = false;
      report.fail('provenance subjects', 'ERR_VERIFY_DIGEST', `provenance.json has no subject for ${name}.`, 'mirror/provenance.json');
    } else if (s.digest?.sha256 !== m.sha256) {
      ok = false;
      report.fail('provenance subjects', 'ERR_VERIFY_DIGEST', `provenance.json gives ${name} the digest ${String(s.digest?.sha256)}, but the bundle's ${name} has sha256 ${m.sha256}.`, 'mirror/provenance.json');
    }
  }
  if (ok) report.ok('provenance subjects', 'export.json and manifest.yaml digests agree');
}

function sortedUnique(xs: unknown): string[] | null {
  if (!Array.isArray(xs) || !xs.every((x) => typeof x === 'string')) return null;
  for (let i = 1; i < xs.length; i++) if (compareBytewise(xs[i - 1] as string, xs[i] as string) >= 0) return null;
  return xs as string[];
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

type DeltaFail = (msg: string, path: string) => void;

export function checkDelta(report: Report, exp: ExportJson, control: Map<string, Buffer>): void {
  const name = 'delta tombstones and diff';
  let ok = true;
  const fail: DeltaFail = (msg, path) => {
    ok = false;
    report.fail(name, 'ERR_VERIFY_TOMBSTONE', msg, path);
  };
  const diffBytes = control.get('delta/manifest.diff.json');
  const tombBytes = control.get('delta/tombstones.jsonl');
  if (!diffBytes) fail('The delta bundle has no mirror/delta/manifest.diff.json.', 'mirror/delta/manifest.diff.json');
  if (!tombBytes) fail('The delta bundle has no mirror/delta/tombstones.jsonl (required even when nothing is removed).', 'mirror/delta/tombstones.jsonl');
  if (diffBytes) checkDiff(exp, diffBytes, fail);
  if (tombBytes) checkTombstones(exp, tombBytes, fail);
  if (ok) report.ok(name, `${exp.files.length} added/changed, ${exp.removed.length} removed`);
}

/** delta/manifest.diff.json: sorted unique lists that agree with export.json, counts, base. */
function checkDiff(exp: ExportJson, diffBytes: Buffer, fail: DeltaFail): void {
  const where = 'mirror/delta/manifest.diff.json';
  let diff: Record<string, unknown> | null = null;
  try {
    const d: unknown = JSON.parse(diffBytes.toString('utf8'));
    if (d && typeof d === 'object' && !Array.isArray(d)) diff = d as Record<string, unknown>;
  } catch {
    diff = null;
  }
  if (!diff) {
    fail('mirror/delta/manifest.diff.json is not a JSON object.', where);
  } else {
    const added = sortedUnique(diff.added);
    const changed = sortedUnique(diff.changed);
    const removed = sortedUnique(diff.removed);
    const files = exp.files;
    if (!added || !changed || !removed) {
      fail('manifest.diff.json must hold sorted, unique "added", "changed" and "removed" lists.', where);
    } else {
      const union = sortBytewise([...added, ...changed]);
      // In order (FileList.paths): a short list decodes once, and the apply reuses that.
      let same = union.length === files.length;
      let i = 0;
      if (same) for (const p of files.paths()) if (p !== union[i++]) same = false;
      if (!same) {
        fail(`manifest.diff.json "added" + "changed" (${union.length} paths) do not equal the files export.json lists (${files.length}).`, where);
      }
      if (!sameList(removed, exp.removed)) {
        fail(`manifest.diff.json "removed" (${removed.length} paths) disagrees with export.json "removed" (${exp.removed.length}).`, where);
      }
      const counts = diff.counts as Record<string, unknown> | undefined;
      if (!counts || counts.added !== added.length || counts.changed !== changed.length || counts.removed !== removed.length) {
        fail('manifest.diff.json "counts" do not match its lists.', where);
      }
    }
    if (exp.base) {
      if (diff.baseExportId !== exp.base.exportId) {
        fail(`manifest.diff.json names base ${String(diff.baseExportId)}, export.json names ${exp.base.exportId}.`, where);
      }
      if (diff.baseManifestHash !== exp.base.manifestDigest) {
        fail('manifest.diff.json "baseManifestHash" differs from export.json "base.manifestDigest".', where);
      }
    }
  }
}

/** delta/tombstones.jsonl: one JSON line per removed path, exactly export.json's "removed". */
function checkTombstones(exp: ExportJson, tombBytes: Buffer, fail: DeltaFail): void {
  const where = 'mirror/delta/tombstones.jsonl';
  const seen = new Set<string>();
  let bad: string | null = null;
  const lines = tombBytes.toString('utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let t: unknown;
    try {
      t = JSON.parse(line);
    } catch {
      bad = `line ${i + 1} is not JSON`;
      break;
    }
    const p = (t as { path?: unknown } | null)?.path;
    if (typeof p !== 'string') {
      bad = `line ${i + 1} has no "path"`;
      break;
    }
    if (seen.has(p)) {
      bad = `"${p}" has two tombstones`;
      break;
    }
    seen.add(p);
  }
  if (bad) {
    fail(`mirror/delta/tombstones.jsonl is malformed: ${bad}.`, where);
  } else {
    const removed = new Set(exp.removed);
    for (const p of exp.removed) if (!seen.has(p)) fail(`"${p}" is removed in export.json but has no tombstone.`, where);
    for (const p of seen) if (!removed.has(p)) fail(`There is a tombstone for "${p}", which export.json does not remove.`, where);
  }
}
