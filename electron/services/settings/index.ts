/**
 * Workspace settings one at a time (`mirror settings get|set|list`): every
 * setting has a name, a type and an allowed range, a change is validated
 * (plain words naming the setting and the range, never a schema dump),
 * needs a reason and is audited (settings.changed: from, to, reason) in the
 * same step as the write.
 */
import { OpsError } from '../../../shared/errors';
import { DEFAULT_SETTINGS, SettingsSchema, type Settings } from '../../../shared/settings';
import { appendAudit } from '../audit/index';
import type { Db } from '../db/index';
import { saveSettings, type Workspace } from '../workspace/index';

export interface SettingDef {
  key: string;
  kind: 'int' | 'number' | 'bytes' | 'text';
  min?: number;
  max?: number;
  description: string;
}

const GiB = 1024 ** 3;

/** Every setting an operator may change, with its allowed range. */
export const SETTINGS: readonly SettingDef[] = [
  { key: 'operator', kind: 'text', max: 200, description: 'operator name recorded in the audit log with the OS user' },
  { key: 'keepGenerations', kind: 'int', min: 1, max: 50, description: 'staging generations kept besides the current one, for rollback' },
  { key: 'stalenessHours', kind: 'number', min: 0.1, max: 24 * 365 * 10, description: 'hours after which the newest export counts as stale (daily check)' },
  { key: 'retention.mirrorDays', kind: 'int', min: 1, max: 3650, description: 'days a mirror bundle stays in the library (runbook 5.2)' },
  { key: 'retention.trivyCount', kind: 'int', min: 1, max: 1000, description: 'Trivy bundles kept in the library (runbook 5.2)' },
  { key: 'retention.keepDeltas', kind: 'int', min: 0, max: 1000, description: 'deltas kept after the latest full bundle (runbook 5.2, N=5)' },
  { key: 'capacity.warnBytes', kind: 'bytes', min: 1, max: 1024 ** 5, description: 'staging + library size at which the storage check warns' },
  { key: 'capacity.failBytes', kind: 'bytes', min: 1, max: 1024 ** 5, description: 'staging + library size at which the storage check fails' },
  { key: 'capacity.warnFreeBytes', kind: 'bytes', min: 0, max: 1024 ** 5, description: 'free space on the volume below which the storage check warns' },
  { key: 'capacity.failFreeBytes', kind: 'bytes', min: 0, max: 1024 ** 5, description: 'free space on the volume below which the storage check fails' },
  { key: 'limits.maxTotalBytes', kind: 'bytes', min: 1, max: 1024 ** 5, description: 'unpacked bytes one bundle may hold' },
  { key: 'limits.maxMemberBytes', kind: 'bytes', min: 1, max: 1024 ** 5, description: 'unpacked bytes of one member of a bundle' },
  { key: 'limits.maxMembers', kind: 'int', min: 1, max: 1_000_000_000, description: 'members one bundle may hold' },
  { key: 'limits.maxRatio', kind: 'number', min: 1, max: 1_000_000, description: 'unpacked/compressed ratio allowed (decompression bombs)' },
  { key: 'limits.ratioGraceBytes', kind: 'bytes', min: 0, max: 1024 ** 4, description: 'bytes unpacked before the ratio limit applies' },
  { key: 'limits.maxDepth', kind: 'int', min: 2, max: 1024, description: 'folders deep a path inside a bundle may be (the top folder mirror/ counts)' },
];

function def(key: string): SettingDef {
  const d = SETTINGS.find((s) => s.key === key);
  if (!d) throw new OpsError('ERR_USAGE', `There is no setting "${key}". Settings: ${SETTINGS.map((s) => s.key).join(', ')}.`);
  return d;
}

function read(settings: Settings, key: string): unknown {
  let v: unknown = settings;
  for (const part of key.split('.')) v = (v as Record<string, unknown> | undefined)?.[part];
  return v;
}

function write(settings: Settings, key: string, value: unknown): Settings {
  const out = structuredClone(settings) as Record<string, unknown>;
  const parts = key.split('.');
  let o = out;
  for (const p of parts.slice(0, -1)) o = o[p] as Record<string, unknown>;
  o[parts[parts.length - 1]] = value;
  return out as Settings;
}

function fmtBytes(n: number): string {
  for (const [u, f] of [['TiB', 1024 ** 4], ['GiB', GiB], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) if (n >= f && n % f === 0) return `${n / f} ${u}`;
  return `${n} bytes`;
}

/** The allowed range in words ("a whole number from 1 to 50", "a size such as 200GiB, from 1 byte …"). */
export function allowedRange(d: SettingDef): string {
  if (d.kind === 'text') return `text of at most ${d.max} characters`;
  const lo = d.kind === 'bytes' ? fmtBytes(d.min ?? 0) : String(d.min);
  const hi = d.kind === 'bytes' ? fmtBytes(d.max ?? 0) : String(d.max);
  if (d.kind === 'int') return `a whole number from ${lo} to ${hi}`;
  if (d.kind === 'bytes') return `a size in bytes, or with a unit such as 200GiB or 500MB, from ${lo} to ${hi}`;
  return `a number from ${lo} to ${hi}`;
}

function parseValue(d: SettingDef, raw: string): string | number {
  const t = raw.trim();
  const bad = () => new OpsError('ERR_USAGE', `The setting ${d.key} must be ${allowedRange(d)}; "${raw}" is not.`);
  if (d.kind === 'text') {
    if (raw.length > (d.max ?? 200)) throw bad();
    return t;
  }
  let n: number;
  if (d.kind === 'bytes') {
    const m = /^(\d+(?:\.\d+)?)\s*(b|bytes?|k|kb|kib|m|mb|mib|g|gb|gib|t|tb|tib)?$/i.exec(t);
    if (!m) throw bad();
    const unit = (m[2] ?? 'b').toLowerCase();
    const mult = unit.startsWith('t') ? 1024 ** 4 : unit.startsWith('g') ? GiB : unit.startsWith('m') ? 1024 ** 2 : unit.startsWith('k') ? 1024 : 1;
    n = Math.round(Number(m[1]) * mult);
  } else {
    if (!/^-?\d+(\.\d+)?$/.test(t)) throw bad();
    n = Number(t);
    if (d.kind === 'int' && !Number.isInteger(n)) throw bad();
  }
  if (!Number.isFinite(n) || (d.min !== undefined && n < d.min) || (d.max !== undefined && n > d.max)) throw bad();
  return n;
}

/** Rules between settings, in plain words. */
function crossCheck(s: Settings): void {
  if (s.capacity.warnBytes >= s.capacity.failBytes) throw new OpsError('ERR_USAGE', `capacity.warnBytes (${fmtBytes(s.capacity.warnBytes)}) must be below capacity.failBytes (${fmtBytes(s.capacity.failBytes)}): the storage check warns before it fails.`);
  if (s.capacity.warnFreeBytes < s.capacity.failFreeBytes) throw new OpsError('ERR_USAGE', `capacity.warnFreeBytes (${fmtBytes(s.capacity.warnFreeBytes)}) must not be below capacity.failFreeBytes (${fmtBytes(s.capacity.failFreeBytes)}).`);
  if (s.limits.maxMemberBytes > s.limits.maxTotalBytes) throw new OpsError('ERR_USAGE', `limits.maxMemberBytes (${fmtBytes(s.limits.maxMemberBytes)}) cannot be above limits.maxTotalBytes (${fmtBytes(s.limits.maxTotalBytes)}).`);
}

export interface SettingView {
  key: string;
  value: unknown;
  default: unknown;
  allowed: string;
  description: string;
}

export function listSettings(ws: Workspace): SettingView[] {
  return SETTINGS.map((d) => ({ key: d.key, value: read(ws.settings, d.key), default: read(DEFAULT_SETTINGS, d.key), allowed: allowedRange(d), description: d.description }));
}

export function getSetting(ws: Workspace, key: string): SettingView {
  const d = def(key);
  return { key, value: read(ws.settings, key), default: read(DEFAULT_SETTINGS, key), allowed: allowedRange(d), description: d.description };
}

/**
 * Changes one setting: validated (range and the rules between settings),
 * written atomically to workspace.json, audited with the reason. Returns
 * the workspace with its new settings.
 */
export function setSetting(ws: Workspace, db: Db, key: string, raw: string, opts: { reason: string; operator?: string }): { ws: Workspace; from: unknown; to: unknown } {
  const d = def(key);
  const reason = (opts.reason ?? '').trim();
  if (reason.length < 3) throw new OpsError('ERR_USAGE', `A reason is required to change ${key} (for example the change record id): --reason "CHG-123 …".`);
  const value = parseValue(d, raw);
  const from = read(ws.settings, key);
  const next = write(ws.settings, key, value);
  crossCheck(next);
  const parsed = SettingsSchema.safeParse(next);
  if (!parsed.success) throw new OpsError('ERR_USAGE', `The setting ${key} must be ${allowedRange(d)}.`);
  let out!: Workspace;
  db.transaction(() => {
    appendAudit(db, { action: 'settings.changed', subject: key, operator: opts.operator, details: { key, from, to: value, reason } });
    out = saveSettings(ws, parsed.data);
  }).immediate();
  return { ws: out, from, to: value };
}

/**
 * Replaces all settings at once (the app's settings page): validated like
 * `set` (the schema and the rules between settings), and one audit row per
 * changed setting (settings.changed: from, to, reason) in the same step.
 */
export function saveSettingsAudited(ws: Workspace, db: Db, next: Settings, opts: { reason?: string; operator?: string } = {}): Workspace {
  const parsed = SettingsSchema.parse(next);
  crossCheck(parsed);
  const changes = SETTINGS.filter((d) => JSON.stringify(read(ws.settings, d.key)) !== JSON.stringify(read(parsed, d.key)));
  const reason = (opts.reason ?? '').trim();
  if (changes.length > 0 && reason.length < 3) {
    throw new OpsError('ERR_USAGE', `A reason is required to change ${changes.map((d) => d.key).join(', ')} (for example the change record id); it is recorded in the audit log. Nothing was changed.`);
  }
  let out = ws;
  db.transaction(() => {
    for (const d of changes) appendAudit(db, { action: 'settings.changed', subject: d.key, operator: opts.operator, details: { key: d.key, from: read(ws.settings, d.key), to: read(parsed, d.key), reason, source: 'app' } });
    out = saveSettings(ws, parsed);
  }).immediate();
  return out;
}
