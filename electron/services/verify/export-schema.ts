/**
 * `export.json` (spec section 3): the signed, canonical manifest of a mirror
 * bundle. `schemaVersion` is checked before the schema so that an unknown
 * version is ERR_EXPORT_UNSUPPORTED_SCHEMA, not ERR_BUNDLE_CORRUPT.
 */
import { isAscii } from 'node:buffer';
import { z } from 'zod';
import { OpsError } from '../../../shared/errors';
import { StrictJsonError } from '../../../shared/strict-json';
import type { FileEntry, FileList } from './file-list';

export const SUPPORTED_SCHEMA_VERSION = 1;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');
const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be "sha256:" and 64 lowercase hex digits');
const size = z.number().int().nonnegative();
const timestamp = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/, 'must be an RFC 3339 timestamp');

export const FileEntrySchema = z.looseObject({
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

/** export.json without its `files` (the stream parses those one by one). */
export const ExportHeadSchema = z.looseObject({
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
  removed: z.array(z.string()),
  state: z.looseObject({
    fileCount: z.number().int().nonnegative(),
    totalBytes: z.number().int().nonnegative(),
    digest,
  }),
  encryption: EncryptionSchema.nullable().default(null),
});

export const ExportJsonSchema = ExportHeadSchema.extend({ files: z.array(FileEntrySchema) });

/**
 * export.json as verified: `files` is a compact FileList (issue 13), read with
 * for..of, `.length` and `.at(i)`.
 */
export type ExportJson = z.infer<typeof ExportHeadSchema> & { files: FileList };
export type ExportFile = FileEntry;

export function corrupt(message: string, path?: string): OpsError {
  return new OpsError('ERR_BUNDLE_CORRUPT', `export.json breaks its schema: ${message}. The bundle cannot be trusted as it is; obtain a fresh copy.`, { path: path ?? 'mirror/export.json', details: { member: 'mirror/export.json' } });
}

/** Matches a bundle path against the small glob language of `encryption.paths` ("data/**", "*", "**"). */
export function matchesGlob(glob: string, path: string): boolean {
  let compiled = GLOBS.get(glob);
  if (!compiled) {
    compiled = globRegExp(glob);
    if (GLOBS.size > 64) GLOBS.clear();
    GLOBS.set(glob, compiled);
  }
  return compiled.test(path);
}

const GLOBS = new Map<string, RegExp>();

function globRegExp(glob: string): RegExp {
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
  return new RegExp(re + '$');
}

/** True when `file` is stored encrypted per file (section 5.2). */
export function isEncryptedFile(exp: Pick<ExportJson, 'encryption'>, path: string): boolean {
  return exp.encryption !== null && matchesGlob(exp.encryption.paths, path);
}

/** One decoder for every call (a whole-input decode keeps no state between calls). */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** UTF-8 text of signed bytes: an invalid sequence or a byte-order mark is refused, never replaced or skipped. */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  // ASCII (most signed JSON, every entry of a plain file list) is its own UTF-8: one fast copy.
  if (Buffer.isBuffer(bytes) && isAscii(bytes)) return bytes.toString('latin1');
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    throw new StrictJsonError('it is not valid UTF-8');
  }
}
