/**
 * `mirror verify <path>`: verify a mirror bundle, a Trivy bundle, an offline
 * kit or a workspace's staging tree against the operator's pinned keys.
 * Exit codes: 0 verified; 1 input not found; 2 content mismatch; 4 usage;
 * 5 signature/trust; 8 ordering; 11 validation; 130 cancelled.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { exitCodeFor, OpsError, toErrorShape } from '../../../shared/errors';
import type { Verdict } from '../../../shared/types';
import { createEngine, verifyOptionsWithoutWorkspace, type VerifyRequest } from '../../services/engine';
import { bumpCounter, logEvent } from '../../services/obs/index';
import { trivyLogEvents } from '../../services/verify/trivy';
import { verifyPath, type KitVerdict, type VerifyOptions } from '../../services/verify/index';
import { defaultWorkspaceDir, isWorkspaceDir, type Workspace } from '../../services/workspace/index';
import { parseCommandArgs, parseSize, type CliIo, type Command } from '../command';
import { formatVerdict, printJson, progressPrinter, reportError } from '../output';
import { readPassphrase, trustFlags } from '../shared';

const USAGE = `Usage: mirror verify <path> [options]
       mirror verify --workspace <dir> [options]

<path> is a mirror bundle (*.tar.zst, *.tar.zst.age), a Trivy bundle (db.bundle,
java-db.bundle), an offline kit folder (with offline-manifest.json) or a
workspace folder (its staging tree is re-read and checked). Without <path>,
--workspace names the workspace whose staging tree to verify.

Trust (keys inside a bundle or kit are never trusted):
  (always)                        the keys pinned in the workspace (--workspace, the input
                                  workspace, or the default one), each for its own tenant only
  --key <pem>                     also trust this public key (PEM) for this command; repeatable.
                                  It adds to the pinned keys; a key revoked in the workspace is refused
  --keyring <dir>                 also trust every *.pub / *.pem file in this folder
  --workspace <dir>               the workspace whose pinned keys and limits to use
  --tenant <t>                    only this tenant's pinned keys
  --signature <file>              detached signature of a Trivy bundle given alone
  --trusted-root <json>           Sigstore trusted root, for signatures/export.sigstore.json
  --certificate-identity <san>    expected Sigstore certificate identity
  --certificate-oidc-issuer <url> expected Sigstore OIDC issuer

Decryption:
  --identity <file>               age identity file (AGE-SECRET-KEY-1… or AGE-SECRET-KEY-PQ-1… lines); repeatable
  --passphrase-file <file>        passphrase of a scrypt age-encrypted bundle (first line)

Limits (defaults: 64G total, 8G per file, 1000000 members, ratio 1000, paths 64 deep):
  --max-bytes <n>  --max-member-bytes <n>  --max-members <n>  --max-ratio <n>  --max-depth <n>

Output:
  --json                          one JSON object on stdout
Exit codes: 0 verified; 1 input not found; 2 digest/size/missing/extra/tombstone;
4 usage; 5 signature or key not trusted; 8 ordering; 11 validation failed; 130 cancelled.
Invoke as \`npx --no mirror verify …\` (a bare \`npx mirror\` could fetch an unrelated package).`;

const OPTIONS = {
  key: { type: 'string', multiple: true },
  keyring: { type: 'string' },
  workspace: { type: 'string' },
  tenant: { type: 'string' },
  signature: { type: 'string' },
  identity: { type: 'string', multiple: true },
  'passphrase-file': { type: 'string' },
  'trusted-root': { type: 'string' },
  'certificate-identity': { type: 'string' },
  'certificate-oidc-issuer': { type: 'string' },
  'max-bytes': { type: 'string' },
  'max-member-bytes': { type: 'string' },
  'max-members': { type: 'string' },
  'max-ratio': { type: 'string' },
  'max-depth': { type: 'string' },
  json: { type: 'boolean' },
} as const;

function positiveNumber(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new OpsError('ERR_USAGE', `${flag} expects a positive number, got "${v}".`);
  return n;
}

function positiveSize(flag: string, v: string | undefined): number | undefined {
  const n = parseSize(flag, v);
  if (n !== undefined && n <= 0) throw new OpsError('ERR_USAGE', `${flag} must be above zero.`);
  return n;
}

/** The workspace this command runs in: --workspace, the input itself, or the default one if it exists. */
function contextWorkspace(io: CliIo, flag: string | undefined, input: string): string | null {
  if (flag) return resolve(io.cwd, flag);
  if (existsSync(input) && statSync(input).isDirectory() && isWorkspaceDir(input)) return input;
  const def = defaultWorkspaceDir(io.env);
  return isWorkspaceDir(def) ? def : null;
}

/**
 * Structured log lines for a refusal (mirror.verify.failed, and the Trivy
 * unsupported-schema event) in the workspace's log, when there is a workspace.
 * Logging never changes the verdict.
 */
function logVerdict(ws: Workspace, v: Verdict): void {
  try {
    const all = [v, ...v.items];
    for (const item of all) for (const e of trivyLogEvents(item)) logEvent(ws, e);
    if (!v.ok && v.code) {
      for (const item of v.items.length ? v.items.filter((i) => !i.ok) : [v]) {
        if (item.kind === 'trivy-db' || item.kind === 'trivy-java-db') continue;
        logEvent(ws, { event: 'mirror.verify.failed', level: 'error', errorCode: item.code ?? v.code, message: item.message, path: item.path, ...(item.exportId ? { exportId: item.exportId } : {}) });
        bumpCounter(ws, 'verify_failures_total', { error_code: item.code ?? v.code });
      }
    }
  } catch {
    /* a log that cannot be written does not change the verdict */
  }
}

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'Verify a bundle, an offline kit or a workspace staging tree (signatures, digests, chain).',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const json = argv.includes('--json');
    let given: string | null = null;
    try {
      const { values, positionals } = parseCommandArgs(argv, OPTIONS);
      if (positionals.length > 1) throw new OpsError('ERR_USAGE', `mirror verify takes one path, got ${positionals.length}.`);
      if (positionals.length === 0 && !values.workspace) throw new OpsError('ERR_USAGE', 'Give the bundle, kit or workspace to verify: mirror verify <path> (or --workspace <dir>).');
      given = positionals[0] ?? values.workspace!;
      const input = resolve(io.cwd, given);
      const passphrase = readPassphrase(io, values['passphrase-file']);
      const limits: NonNullable<VerifyOptions['limits']> = {};
      const maxBytes = positiveSize('--max-bytes', values['max-bytes']);
      const maxMember = positiveSize('--max-member-bytes', values['max-member-bytes']);
      const maxMembers = positiveNumber('--max-members', values['max-members']);
      const maxRatio = positiveNumber('--max-ratio', values['max-ratio']);
      if (maxBytes !== undefined) limits.maxTotalBytes = maxBytes;
      if (maxMember !== undefined) limits.maxMemberBytes = maxMember;
      if (maxMembers !== undefined) limits.maxMembers = Math.floor(maxMembers);
      if (maxRatio !== undefined) limits.maxRatio = maxRatio;
      const maxDepth = positiveNumber('--max-depth', values['max-depth']);
      if (maxDepth !== undefined) limits.maxDepth = Math.max(2, Math.floor(maxDepth));
      const optional = (flag: string | undefined): string | undefined => (flag === undefined ? undefined : resolve(io.cwd, flag));
      const req: VerifyRequest = {
        ...(passphrase !== undefined ? { passphrase } : {}),
        ...(values.signature ? { signature: optional(values.signature) } : {}),
        ...(values['trusted-root'] ? { trustedRoot: optional(values['trusted-root']) } : {}),
        ...(values['certificate-identity'] ? { certificateIdentity: values['certificate-identity'] } : {}),
        ...(values['certificate-oidc-issuer'] ? { certificateOidcIssuer: values['certificate-oidc-issuer'] } : {}),
        limits,
        signal: io.signal,
        trust: trustFlags(io, values),
      };
      const progress = json ? undefined : progressPrinter(io);
      if (progress) req.onProgress = progress;
      // The workspace whose pinned keys and limits apply (opened through the engine: recovered first).
      const wsDir = contextWorkspace(io, values.workspace, input);
      let verdict: Verdict;
      if (wsDir) {
        const engine = createEngine(wsDir);
        try {
          const { options, note } = engine.verifyOptions(req);
          verdict = await verifyPath(input, options);
          if (note && !verdict.ok) verdict.warnings.push(note);
          logVerdict(engine.ws, verdict);
        } finally {
          engine.close();
        }
      } else {
        const { options, note } = verifyOptionsWithoutWorkspace(req);
        verdict = await verifyPath(input, options);
        if (note && !verdict.ok) verdict.warnings.push(note);
      }
      verdict.path = given;
      if (io.signal.aborted && verdict.code !== 'ERR_CANCELLED') {
        throw new OpsError('ERR_CANCELLED', 'Cancelled by the operator (SIGINT). Nothing was changed.');
      }
      if (json) printJson(io, verdict);
      else {
        io.stdout.write(formatVerdict(verdict) + '\n');
        const plan = (verdict as Partial<KitVerdict>).plan;
        if (plan?.length) io.stdout.write(['What an import of this kit would do:', ...plan.map((p, i) => `  ${i + 1}. ${p.description}`)].join('\n') + '\n');
      }
      return exitCodeFor(verdict.code);
    } catch (e) {
      if (!json) return reportError(io, e, json);
      // --json: still exactly one object of the verdict's shape, so scripts read one format.
      const err = toErrorShape(io.signal.aborted ? new OpsError('ERR_CANCELLED', 'Cancelled by the operator (SIGINT). Nothing was changed.') : e);
      printJson(io, {
        ok: false,
        code: err.code,
        message: err.message,
        action: err.action ?? null,
        path: given,
        kind: null,
        exportId: null,
        generation: null,
        checks: [],
        items: [],
        warnings: [],
        stats: { bytes: 0, files: 0, seconds: 0 },
        ...(err.path ? { member: err.path } : {}),
      });
      return exitCodeFor(err.code);
    }
  },
};
