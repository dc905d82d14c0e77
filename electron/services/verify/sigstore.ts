/**
 * Offline verification of Sigstore bundles (media types v0.1 to v0.3) with
 * `@sigstore/verify` + `@sigstore/bundle`, against a trusted root file the
 * operator imported. Nothing here touches the network: the trust material is
 * built from that file only (no TUF fetch).
 *
 * Caller-side rules the library leaves to us (see the conformance README):
 * - a trusted root whose tlogs / ctlogs / CAs / TSAs lack `validFor.start` is
 *   refused (the library would treat the missing bound as "since 1970");
 * - for DSSE bundles, the artifact's SHA-256 must be one of the in-toto
 *   statement's subject digests (the library never looks at the artifact);
 *   a DSSE payload that is not an in-toto statement must equal the artifact;
 * - a Rekor v2 entry for a DSSE envelope is a hashedrekord 0.0.2 over the
 *   SHA-256 of the envelope's PAE: its digest is compared with that value;
 * - key-based bundles verify with a pinned key and no identity; certificate
 *   bundles need the pinned identity (SAN, matched exactly) and OIDC issuer;
 * - a certificate chain in the bundle must not carry a root certificate.
 */
import { X509Certificate, createHash, createPublicKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier, type KeyFinderFunc, type SignedEntity, type VerificationPolicy } from '@sigstore/verify';
import type { TrustedKey } from './keys';
import { preAuthEncoding } from './dsse';

export interface SigstoreOptions {
  /** The operator's trusted root JSON file (required: there is no built-in or fetched root). */
  trustedRootFile?: string;
  /** Pinned keys for key-based ("managed key") bundles. */
  keys: TrustedKey[];
  /** Expected certificate identity (SAN), matched exactly. */
  certificateIdentity?: string;
  certificateOidcIssuer?: string;
}

export interface SigstoreResult {
  ok: boolean;
  detail: string;
}

const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

function fail(detail: string): SigstoreResult {
  return { ok: false, detail };
}

function sha256(b: Buffer): Buffer {
  return createHash('sha256').update(b).digest();
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function errorText(e: unknown): string {
  if (e && typeof e === 'object') {
    const o = e as { code?: unknown; message?: unknown };
    const msg = typeof o.message === 'string' ? o.message : String(e);
    return typeof o.code === 'string' && !msg.startsWith(o.code) ? `${o.code}: ${msg}` : msg;
  }
  return String(e);
}

/**
 * Returns the problems of a trusted root JSON document that the library would
 * silently accept: any authority or key without `validFor.start`.
 */
export function trustedRootProblems(root: unknown): string[] {
  const problems: string[] = [];
  if (!root || typeof root !== 'object') return ['the trusted root is not a JSON object'];
  const r = root as Record<string, unknown>;
  const list = (name: string): unknown[] => (Array.isArray(r[name]) ? (r[name] as unknown[]) : []);
  const hasStart = (v: unknown): boolean => {
    if (!v || typeof v !== 'object') return false;
    const start = (v as { start?: unknown }).start;
    return typeof start === 'string' && start.length > 0 && !Number.isNaN(Date.parse(start));
  };
  for (const kind of ['tlogs', 'ctlogs'] as const) {
    list(kind).forEach((entry, i) => {
      const pk = entry && typeof entry === 'object' ? (entry as { publicKey?: { validFor?: unknown } }).publicKey : undefined;
      if (!pk || !hasStart(pk.validFor)) problems.push(`${kind}[${i}] public key lacks validFor.start`);
    });
  }
  for (const kind of ['certificateAuthorities', 'timestampAuthorities'] as const) {
    list(kind).forEach((entry, i) => {
      const vf = entry && typeof entry === 'object' ? (entry as { validFor?: unknown }).validFor : undefined;
      if (!hasStart(vf)) problems.push(`${kind}[${i}] lacks validFor.start`);
    });
  }
  return problems;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** For a DSSE bundle: does the artifact match what the envelope's payload says it signs? */
function checkDsseArtifact(bundle: Bundle, artifact: Buffer): string | null {
  if (bundle.content.$case !== 'dsseEnvelope') return null;
  const env = bundle.content.dsseEnvelope;
  const payload = Buffer.from(env.payload);
  if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    return sameBytes(payload, artifact) ? null : `the DSSE payload (${env.payloadType}) is not the artifact's bytes`;
  }
  let statement: unknown;
  try {
    statement = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'the DSSE payload is not a readable in-toto statement (invalid JSON)';
  }
  const subjects = (statement as { subject?: unknown }).subject;
  if (!Array.isArray(subjects) || subjects.length === 0) return 'the in-toto statement has no subject';
  const want = sha256(artifact).toString('hex');
  const digests = subjects
    .map((s) => (s && typeof s === 'object' ? (s as { digest?: { sha256?: unknown } }).digest?.sha256 : undefined))
    .filter((d): d is string => typeof d === 'string')
    .map((d) => d.toLowerCase());
  if (!digests.includes(want)) return `the artifact's SHA-256 (${want}) is not among the in-toto statement's subject digests`;
  return null;
}

/**
 * A DSSE bundle whose log entries are all Rekor v2 hashedrekord 0.0.2 entries
 * (the form Rekor v2 uses for DSSE) logs the SHA-256 of the envelope's PAE, not
 * of its payload: compare the log's digest with that value instead.
 */
function adaptRekorV2Dsse(bundle: Bundle, entity: SignedEntity): string | null {
  if (bundle.content.$case !== 'dsseEnvelope') return null;
  const entries = bundle.verificationMaterial.tlogEntries;
  const isV2Hashed = (e: (typeof entries)[number]) => e.kindVersion?.kind === 'hashedrekord' && e.kindVersion?.version === '0.0.2';
  const v2 = entries.filter(isV2Hashed).length;
  if (v2 === 0) return null;
  if (v2 !== entries.length) return 'the bundle mixes Rekor v2 hashedrekord entries with other log entry kinds for one DSSE envelope';
  const env = bundle.content.dsseEnvelope;
  if (env.signatures.length !== 1) return 'a Rekor v2 DSSE entry needs exactly one envelope signature';
  const paeDigest = sha256(preAuthEncoding(env.payloadType, Buffer.from(env.payload)));
  const inner = entity.signature;
  entity.signature = {
    signature: inner.signature,
    compareSignature: (sig: Buffer) => inner.compareSignature(sig),
    compareDigest: (digest: Buffer) => sameBytes(Buffer.from(digest), paeDigest),
    verifySignature: (key: KeyObject) => inner.verifySignature(key),
  };
  return null;
}

/**
 * A certificate chain inside the bundle must not carry a root (self-signed)
 * certificate: roots come only from the operator's trusted root.
 */
function checkChainHasNoRoot(bundle: Bundle): string | null {
  const vm = bundle.verificationMaterial.content;
  if (vm.$case !== 'x509CertificateChain') return null;
  for (const [i, c] of vm.x509CertificateChain.certificates.entries()) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(Buffer.from(c.rawBytes));
    } catch {
      return `certificate ${i} of the bundle's chain cannot be read`;
    }
    let selfSigned = false;
    try {
      selfSigned = cert.subject === cert.issuer && cert.verify(cert.publicKey);
    } catch {
      selfSigned = false;
    }
    if (selfSigned) return `the bundle's certificate chain contains a root certificate (${cert.subject.replace(/\n/g, ', ')}); roots are taken only from the trusted root file`;
  }
  return null;
}

/** Base64 SHA-256 of a key's DER SPKI: the usual public-key hint form. */
function keyHint(key: KeyObject): string {
  return sha256(key.export({ type: 'spki', format: 'der' })).toString('base64');
}

async function loadTrustedRoot(file: string): Promise<{ root?: TrustedRoot; problem?: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return { problem: `the trusted root file ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? errorText(e)})` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { problem: `the trusted root file ${file} is not valid JSON` };
  }
  const problems = trustedRootProblems(json);
  if (problems.length > 0) return { problem: `the trusted root is refused: ${problems.join('; ')}` };
  try {
    return { root: TrustedRoot.fromJSON(json) };
  } catch (e) {
    return { problem: `the trusted root cannot be read: ${errorText(e)}` };
  }
}

/**
 * Verifies a Sigstore bundle over `artifact` (for DSSE bundles: the statement's
 * subject). Never throws for bad input: returns `{ok: false, detail}`.
 */
export async function verifySigstoreBundle(bundleJson: Buffer, artifact: Buffer, opts: SigstoreOptions): Promise<SigstoreResult> {
  let json: unknown;
  try {
    json = JSON.parse(bundleJson.toString('utf8'));
  } catch {
    return fail('the Sigstore bundle is not valid JSON');
  }
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(json);
  } catch (e) {
    return fail(`the Sigstore bundle is malformed: ${errorText(e)}`);
  }

  if (!opts.trustedRootFile) return fail('no trusted root was given: import the Sigstore trusted root file (--trusted-root) to verify Sigstore bundles offline');
  const { root, problem } = await loadTrustedRoot(opts.trustedRootFile);
  if (!root) return fail(problem ?? 'the trusted root cannot be read');

  const artifactProblem = checkDsseArtifact(bundle, artifact);
  if (artifactProblem) return fail(artifactProblem);
  const chainProblem = checkChainHasNoRoot(bundle);
  if (chainProblem) return fail(chainProblem);

  const makeEntity = (): SignedEntity | string => {
    let entity: SignedEntity;
    try {
      entity = toSignedEntity(bundle, artifact);
    } catch (e) {
      return `the Sigstore bundle cannot be read: ${errorText(e)}`;
    }
    return adaptRekorV2Dsse(bundle, entity) ?? entity;
  };
  if (bundle.verificationMaterial.content.$case === 'publicKey') return verifyKeyBased(bundle, root, makeEntity, opts);
  return verifyCertificateBased(root, makeEntity, opts);
}

/** A bundle signed with a key: the key its hint names first, then every other pinned key. */
function verifyKeyBased(bundle: Bundle, root: TrustedRoot, makeEntity: () => SignedEntity | string, opts: SigstoreOptions): SigstoreResult {
  if (opts.keys.length === 0) return fail('the Sigstore bundle is signed with a key, and no trusted key was given');
  const hint = bundle.verificationMaterial.content.$case === 'publicKey' ? bundle.verificationMaterial.content.publicKey.hint : '';
  const candidates = opts.keys
    .map((k) => {
      try {
        return { k, key: createPublicKey(k.pem) };
      } catch {
        return null;
      }
    })
    .filter((c): c is { k: TrustedKey; key: KeyObject } => c !== null)
    .sort((a, b) => Number(keyHint(b.key) === hint) - Number(keyHint(a.key) === hint));
  const errors: string[] = [];
  for (const { k, key } of candidates) {
    const finder: KeyFinderFunc = () => ({ publicKey: key, validFor: () => true });
    const entity = makeEntity();
    if (typeof entity === 'string') return fail(entity);
    try {
      new Verifier(toTrustMaterial(root, finder)).verify(entity);
      return { ok: true, detail: `Sigstore bundle verified with pinned key ${k.fingerprint}` };
    } catch (e) {
      errors.push(`${k.fingerprint}: ${errorText(e)}`);
    }
  }
  if (candidates.length === 0) return fail('none of the trusted keys could be loaded');
  return fail(`no trusted key verifies the Sigstore bundle (${errors.join('; ')})`);
}

/** A certificate-based bundle: only with the pinned certificate identity and OIDC issuer. */
function verifyCertificateBased(root: TrustedRoot, makeEntity: () => SignedEntity | string, opts: SigstoreOptions): SigstoreResult {
  if (!opts.certificateIdentity || !opts.certificateOidcIssuer) {
    return fail('the Sigstore bundle is certificate-based: the expected certificate identity and OIDC issuer must be pinned (--certificate-identity, --certificate-oidc-issuer)');
  }
  const entity = makeEntity();
  if (typeof entity === 'string') return fail(entity);
  const policy: VerificationPolicy = {
    subjectAlternativeName: `^${escapeRegExp(opts.certificateIdentity)}$`,
    extensions: { issuer: opts.certificateOidcIssuer },
  };
  const noKeys: KeyFinderFunc = (hint: string) => {
    throw new Error(`no public key for hint ${hint}`);
  };
  try {
    new Verifier(toTrustMaterial(root, noKeys)).verify(entity, policy);
  } catch (e) {
    return fail(`the Sigstore bundle does not verify: ${errorText(e)}`);
  }
  return { ok: true, detail: `Sigstore bundle verified: signed by ${opts.certificateIdentity} (issuer ${opts.certificateOidcIssuer})` };
}
