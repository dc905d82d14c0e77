/**
 * The one trust policy (issue 8): which keys verify a bundle's signatures and
 * which age identities decrypt it, for every entry point (CLI, IPC, jobs).
 *
 * The rule, written once:
 * - Keys pinned in the workspace (`mirror keys add`, the Keys page) are always
 *   trusted, each for its own tenant only: a bundle of tenant A never verifies
 *   with a key pinned for tenant B (the verifier checks the signer's tenant).
 * - Explicit keys (`--key`, `--keyring`, the Import page's key files) are
 *   trusted IN ADDITION to the pinned keys, for this one command, for any
 *   tenant. They never replace or hide a pinned key.
 * - Revocation wins: an explicit key whose fingerprint is revoked in this
 *   workspace is refused (ERR_VERIFY_SIGNATURE), so a revoked key cannot be
 *   brought back by passing its file.
 * - Keys inside a bundle or kit are never trusted (the verifier only reads
 *   what this function returns).
 * - A pinned key must be backed by the audit chain (an audited keys.added or
 *   keys.rotated, not revoked since, with the same key bytes): a row written
 *   into the trust store outside the console stops the command
 *   (ERR_VERIFY_SIGNATURE) until an operator revokes it.
 * - age identities come from identity files, parsed by {@link parseAgeIdentities}
 *   (X25519 `AGE-SECRET-KEY-1…` and post-quantum hybrid `AGE-SECRET-KEY-PQ-1…`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OpsError } from '../../shared/errors';
import type { Db } from './db/index';
import { listKeyRecords, listTrustedKeys, TRUST_STORE_ACTION, trustStoreProblems } from './keys/index';
import { loadPublicKey, type TrustedKey } from './verify/keys';

/** What an adapter collected from its input (flags, IPC fields, job params). */
export interface TrustInput {
  /** Explicit public key files (PEM), trusted for this command only. */
  keyFiles?: string[];
  /** A folder whose *.pub / *.pem files are trusted for this command only. */
  keyringDir?: string;
  /** age identity files. */
  identityFiles?: string[];
  /** Only this tenant's pinned keys (`mirror verify --tenant`). */
  tenant?: string;
  /** Relative paths are resolved against this folder (the CLI's cwd). */
  cwd?: string;
  /** How the inputs are named in messages (the CLI's flags; the app's fields by default). */
  labels?: { key?: string; keyring?: string; identity?: string };
}

export interface Trust {
  keys: TrustedKey[];
  identities: string[];
  /** How many keys came from each source. */
  pinned: number;
  explicit: number;
  /** Why no key is trusted, when none is (for a refusal's warnings). */
  note?: string;
}

const AGE_IDENTITY = /^AGE-SECRET-KEY-(?:PQ-)?1[02-9AC-HJ-NP-Z]+$/;

/**
 * The one age identity parser: `AGE-SECRET-KEY-1…` (X25519) and
 * `AGE-SECRET-KEY-PQ-1…` (ML-KEM-768 + X25519 hybrid, supported by the
 * age-encryption library the verifier uses) lines; `#` comments and blank
 * lines are ignored. Anything else is ERR_USAGE naming the file.
 */
export function parseAgeIdentities(text: string, file: string, label = 'The identity file'): string[] {
  const ids: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    if (!AGE_IDENTITY.test(line)) {
      throw new OpsError('ERR_USAGE', `${label} ${file} holds a line that is not an age identity (expected AGE-SECRET-KEY-1… or AGE-SECRET-KEY-PQ-1…; comments start with #).`, { path: file });
    }
    ids.push(line);
  }
  if (ids.length === 0) throw new OpsError('ERR_USAGE', `${label} ${file} holds no age identity (AGE-SECRET-KEY-1… or AGE-SECRET-KEY-PQ-1… line).`, { path: file });
  return ids;
}

/** Reads an input file named by the operator; a missing one is ERR_INPUT_NOT_FOUND naming the flag. */
export function readInputFile(file: string, label: string, shown = file): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new OpsError('ERR_INPUT_NOT_FOUND', `${label} ${shown}: the file cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}). Check the path and that the media is mounted.`, { path: file });
  }
}

function explicitKey(file: string, shown: string, label: string, source: TrustedKey['source']): TrustedKey {
  const pem = readInputFile(file, label, shown);
  try {
    return { ...loadPublicKey(pem, source), label: shown };
  } catch (e) {
    if (e instanceof OpsError) throw new OpsError(e.code, `${label} ${shown}: ${e.message}`, { path: file });
    throw e;
  }
}

/** The explicit keys (files and keyring) and identities, without a workspace. */
function explicitTrust(input: TrustInput): { keys: TrustedKey[]; identities: string[] } {
  const at = (f: string): string => (input.cwd ? resolve(input.cwd, f) : resolve(f));
  const labels = { key: 'The key file', keyring: 'The keyring', identity: 'The identity file', ...input.labels };
  const keys: TrustedKey[] = [];
  for (const f of input.keyFiles ?? []) keys.push(explicitKey(at(f), f, labels.key, 'cli'));
  if (input.keyringDir) {
    const dir = at(input.keyringDir);
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => /\.(pub|pem)$/i.test(n)).sort();
    } catch (e) {
      throw new OpsError('ERR_INPUT_NOT_FOUND', `${labels.keyring} ${input.keyringDir}: the folder cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`, { path: dir });
    }
    if (!names.length) throw new OpsError('ERR_USAGE', `${labels.keyring} ${input.keyringDir} holds no *.pub or *.pem file.`, { path: dir });
    for (const n of names) keys.push(explicitKey(join(dir, n), join(input.keyringDir, n), labels.keyring, 'keyring'));
  }
  const identities: string[] = [];
  for (const f of input.identityFiles ?? []) identities.push(...parseAgeIdentities(readInputFile(at(f), labels.identity, f), f, labels.identity));
  return { keys, identities };
}

/**
 * Resolves the trust for one command: the workspace's pinned keys (each for
 * its tenant; `db` null when there is no workspace) plus the explicit keys,
 * and the age identities. Input files are read and checked here, so a wrong
 * path or a private key gets a plain error before any work starts.
 */
export function resolveTrust(db: Db | null, input: TrustInput = {}): Trust {
  const explicit = explicitTrust(input);
  const pinned = db ? listTrustedKeys(db, input.tenant) : [];
  if (db && pinned.length) {
    const problems = trustStoreProblems(db, input.tenant);
    if (problems.length) {
      throw new OpsError('ERR_VERIFY_SIGNATURE', `The workspace's trust store does not match its audit log, so none of its keys is trusted: ${problems.map((p) => p.message).join(' ')}`, {
        action: TRUST_STORE_ACTION,
        details: { trustStore: problems.map(({ tenant, fingerprint, problem }) => ({ tenant, fingerprint, problem })) },
      });
    }
  }
  if (db && explicit.keys.length) {
    const revoked = new Map(listKeyRecords(db, { includeRevoked: true }).filter((r) => r.status !== 'active').map((r) => [r.fingerprint, r]));
    for (const k of explicit.keys) {
      const r = revoked.get(k.fingerprint);
      if (r && !pinned.some((p) => p.fingerprint === k.fingerprint)) {
        throw new OpsError('ERR_VERIFY_SIGNATURE', `${k.label ?? 'The key'} (${k.fingerprint}) was revoked in this workspace for tenant "${r.tenant}"${r.revokedAt ? ` on ${r.revokedAt}` : ''}: a revoked key is not trusted again by passing its file. Use the tenant's current key.`, { details: { fingerprint: k.fingerprint, tenant: r.tenant } });
      }
    }
  }
  // A key both pinned and given explicitly counts once, as pinned (its tenant restriction stays).
  const keys = [...pinned, ...explicit.keys.filter((k) => !pinned.some((p) => p.fingerprint === k.fingerprint))];
  const note = keys.length
    ? undefined
    : db
      ? `The workspace has no trusted key${input.tenant ? ` for tenant ${input.tenant}` : ''} and no key file was given.`
      : 'No key file was given and there is no workspace with pinned keys.';
  return { keys, identities: explicit.identities, pinned: pinned.length, explicit: keys.length - pinned.length, ...(note ? { note } : {}) };
}
