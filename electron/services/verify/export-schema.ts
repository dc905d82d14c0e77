/**
 * `export.json` (spec section 3): the signed, canonical manifest of a mirror
 * bundle. `schemaVersion` is checked before the schema so that an unknown
 * version is ERR_EXPORT_UNSUPPORTED_SCHEMA, not ERR_BUNDLE_CORRUPT.
 */
import { z } from 'zod';
import { OpsError } from '../../../shared/errors';
import { escapeUntrusted } from '../../../shared/escape';
import { bundlePathProblem, compareBytewise, describePathProblem, fileFolderConflict, isPayloadPath, type PathPolicyOptions } from '../../../shared/paths';
import { parseStrictJson, StrictJsonError } from '../../../shared/strict-json';

export const SUPPORTED_SCHEMA_VERSION = 1;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');
const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be "sha256:" and 64 lowercase hex digits');
const size = z.number().int().nonnegative();
const timestamp = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/, 'must be an RFC 3339 timestamp');

const FileEntrySchema = z.looseObject({
  path: z.string(),
  sha256: hex64,
  size,
  mediaType: z.string().optional(),
  storedSha256: hex64.optional(),
  storedSize: size.optional(),
});

const BaseSchema = z.looseObject({
  exportId: z.string().min(1),
  generation: z.number().int().nonnegative(),
  manifestDigest: digest,
});

const EncryptionSchema = z.looseObject({
  mode: z.literal('age'),
  paths: z.string().min(1),
});

export const ExportJsonSchema = z.looseObject({
  schemaVersion: z.literal(SUPPORTED_SCHEMA_VERSION),
  exportId: z.string().min(1),
  runId: z.string().min(1),
  tenant: z.string().min(1),
  profile: z.looseObject({
    id: z.string().min(1),
    kind: z.string().min(1),
    variant: z.enum(['full', 'delta']),
  }),
  generation: z.number().int().nonnegative(),
  createdAt: timestamp,
  selectors: z.unknown().optional(),
  base: BaseSchema.nullable(),
  resetBaseline: z.boolean().default(false),
  files: z.array(FileEntrySchema),
  removed: z.array(z.string()),
  state: z.looseObject({
    fileCount: z.number().int().nonnegative(),
    totalBytes: z.number().int().nonnegative(),
    digest,
  }),
  encryption: EncryptionSchema.nullable().default(null),
});

export type ExportJson = z.infer<typeof ExportJsonSchema>;
export type ExportFile = ExportJson['files'][number];

function corrupt(message: string, path?: string): OpsError {
  return new OpsError('ERR_BUNDLE_CORRUPT', `export.json breaks its schema: ${message}. The bundle cannot be trusted as it is; obtain a fresh copy.`, { path: path ?? 'mirror/export.json', details: { member: 'mirror/export.json' } });
}

/** Matches a bundle path against the small glob language of `encryption.paths` ("data/**", "*", "**"). */
export function matchesGlob(glob: string, path: string): boolean {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(re + '$').test(path);
}

/** True when `file` is stored encrypted per file (section 5.2). */
export function isEncryptedFile(exp: ExportJson, path: string): boolean {
  return exp.encryption !== null && matchesGlob(exp.encryption.paths, path);
}

/**
 * Parses export.json bytes. Throws ERR_BUNDLE_CORRUPT (not JSON, or breaks the
 * schema: fields, sorted unique safe paths, variant rules) or
 * ERR_EXPORT_UNSUPPORTED_SCHEMA (a schemaVersion other than 1).
 */
export function parseExportJson(bytes: Buffer, policy: PathPolicyOptions = {}): ExportJson {
  let json: unknown;
  try {
    // Signed JSON is read strictly (shared/strict-json.ts): UTF-8 only, no duplicate keys.
    json = parseStrictJson(decodeUtf8Strict(bytes));
  } catch (e) {
    throw corrupt((e as Error).message);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw corrupt('it is not a JSON object');
  const version = (json as Record<string, unknown>).schemaVersion;
  if (version === undefined) throw corrupt('"schemaVersion" is missing');
  if (version !== SUPPORTED_SCHEMA_VERSION) {
    throw new OpsError(
      'ERR_EXPORT_UNSUPPORTED_SCHEMA',
      `export.json has schemaVersion ${JSON.stringify(version)}; this console accepts only schemaVersion ${SUPPORTED_SCHEMA_VERSION}.`,
      { path: 'mirror/export.json', details: { schemaVersion: version } },
    );
  }
  const r = ExportJsonSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue.path.length ? `"${issue.path.join('.')}"` : 'the document';
    throw corrupt(`${where} ${issue.message.charAt(0).toLowerCase()}${issue.message.slice(1)}`);
  }
  const exp = r.data;
  checkPaths(exp.files.map((f) => f.path), 'files', policy);
  checkPaths(exp.removed, 'removed', policy);
  const listed = new Set(exp.files.map((f) => f.path));
  for (const p of exp.removed) if (listed.has(p)) throw corrupt(`"${p}" is both in "files" and in "removed"`);
  if (exp.profile.variant === 'full') {
    if (exp.base !== null) throw corrupt('a full bundle must have "base": null');
    if (exp.removed.length) throw corrupt('a full bundle must have an empty "removed" list');
  } else if (exp.base === null && !exp.resetBaseline) {
    throw corrupt('a delta bundle must name its "base"');
  }
  for (const f of exp.files) {
    const enc = isEncryptedFile(exp, f.path);
    if (enc && (f.storedSha256 === undefined || f.storedSize === undefined)) {
      throw corrupt(`the encrypted file "${f.path}" lacks "storedSha256"/"storedSize"`);
    }
    if (enc && f.storedSize !== undefined && f.storedSize !== f.size + 28) {
      throw corrupt(`the encrypted file "${f.path}" has storedSize ${f.storedSize}, but nonce + ciphertext + tag of ${f.size} bytes is ${f.size + 28}`);
    }
  }
  return exp;
}

function checkPaths(paths: string[], field: string, policy: PathPolicyOptions): void {
  let prev: string | null = null;
  for (const p of paths) {
    const problem = bundlePathProblem(p, policy);
    if (problem) throw corrupt(`"${field}" holds ${describePathProblem(problem, policy)}: "${escapeUntrusted(p)}"`);
    if (!isPayloadPath(p)) throw corrupt(`"${field}" lists the control file "${escapeUntrusted(p)}", which is not a payload file`);
    if (prev !== null) {
      const c = compareBytewise(prev, p);
      if (c === 0) throw corrupt(`"${field}" lists "${escapeUntrusted(p)}" twice`);
      if (c > 0) throw corrupt(`"${field}" is not sorted by path ("${escapeUntrusted(prev)}" comes before "${escapeUntrusted(p)}")`);
    }
    prev = p;
  }
  if (field === 'files') {
    const clash = fileFolderConflict(paths);
    if (clash) throw corrupt(`"${field}" lists "${escapeUntrusted(clash[0])}" as a file and "${escapeUntrusted(clash[1])}" below it`);
  }
}

/** UTF-8 text of signed bytes: an invalid sequence or a byte-order mark is refused, never replaced or skipped. */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new StrictJsonError('it is not valid UTF-8');
  }
}
