/**
 * The one place verdicts are built: a Report collects checks, failures and
 * warnings; buildVerdict turns it into the Verdict every verifier returns
 * (mirror, Trivy, kit, staging tree, import), with the reported code chosen by
 * the spec's precedence and the runbook's action for it.
 */
import { pickReportedCode, runbookAdvice, type ErrorCode } from '../../../shared/errors';
import { escapeUntrusted } from '../../../shared/escape';
import type { Check, Failure, Verdict, VerdictKind } from '../../../shared/types';
import { nowMs } from '../clock';

/** Collects checks and failures; the reported code follows the spec's precedence. */
export class Report {
  readonly checks: Check[] = [];
  readonly failures: Failure[] = [];
  readonly warnings: string[] = [];
  ok(name: string, detail?: string): void {
    this.checks.push(detail === undefined ? { name, ok: true } : { name, ok: true, detail });
  }
  fail(name: string, code: ErrorCode, messageIn: string, path?: string): void {
    // Messages quote bundle-derived names: escaped (shared/escape.ts) before they reach any output.
    const message = escapeUntrusted(messageIn, 'text');
    this.checks.push({ name, ok: false, detail: message });
    this.failures.push(path === undefined ? { code, message } : { code, message, path });
  }
  get failed(): boolean {
    return this.failures.length > 0;
  }
}

export interface VerdictInput {
  report: Report;
  path: string;
  kind: VerdictKind;
  exportId: string | null;
  generation: number | null;
  okMessage: string;
  /** bytes, files, and when the work started (nowMs()), or the stats as measured. */
  bytes?: number;
  files?: number;
  started?: number;
  stats?: Verdict['stats'];
  items?: Verdict[];
  keys?: { tried: string[]; signedBy: string[] };
  /** Codes reported before the spec's general precedence when present (Trivy: signature, then schema version). */
  firstCodes?: ErrorCode[];
  /**
   * For a verifier whose refusal is a summary rather than its first failure
   * (the staging tree: "N mismatches", and advice to roll back rather than
   * the code's runbook action): used only when the verdict is a refusal.
   */
  refusal?: { message: string; action: string | null; member?: string };
}

export function buildVerdict(input: VerdictInput): Verdict {
  const { report } = input;
  const codes = report.failures.map((f) => f.code);
  const code = input.firstCodes?.find((c) => codes.includes(c)) ?? pickReportedCode(codes);
  const first = code === null ? undefined : report.failures.find((f) => f.code === code);
  const memberFailure = code === null ? undefined : report.failures.find((f) => f.code === code && f.path);
  const v: Verdict = {
    ok: code === null,
    code,
    message: first ? first.message : input.okMessage,
    action: code ? (runbookAdvice(code)?.action ?? null) : null,
    path: input.path,
    kind: input.kind,
    exportId: input.exportId,
    generation: input.generation,
    checks: report.checks,
    items: input.items ?? [],
    warnings: report.warnings.map((w) => escapeUntrusted(w, 'text')),
    stats: input.stats ?? { bytes: input.bytes ?? 0, files: input.files ?? 0, seconds: Math.round(nowMs() - (input.started ?? nowMs())) / 1000 },
  };
  if (report.failures.length) v.failures = report.failures;
  if (memberFailure?.path) v.member = escapeUntrusted(memberFailure.path);
  if (code !== null && input.refusal) {
    v.message = input.refusal.message;
    v.action = input.refusal.action;
    if (input.refusal.member !== undefined) v.member = escapeUntrusted(input.refusal.member);
    else delete v.member;
  }
  if (input.keys) v.keys = input.keys;
  return v;
}

/** A Report holding checks and failures gathered elsewhere (verifiers that keep their own lists). */
export function reportOf(checks: Check[], failures: Failure[], warnings: string[] = []): Report {
  const r = new Report();
  r.checks.push(...checks);
  r.failures.push(...failures);
  r.warnings.push(...warnings);
  return r;
}
