/**
 * The workspace's health at a glance (issue 11): computed once by the engine
 * (electron/services/health), shown by the dashboard (IPC `health.get`) and
 * by `mirror status` (text and --json). Pure types.
 */

/** pass | warn | fail | unknown (unknown: cannot be judged, e.g. the host clock is behind data already seen). */
export type HealthStatus = 'pass' | 'warn' | 'fail' | 'unknown';

export interface HealthItem {
  status: HealthStatus;
  /** One plain sentence an operator can act on. */
  summary: string;
}

export interface FreshnessHealth extends HealthItem {
  newest: { exportId: string; generation: number; createdAt: string; appliedAt: string } | null;
  /** Hours since the newest applied export's createdAt; null when unknown. */
  ageHours: number | null;
  budgetHours: number;
  /** The latest instant already seen on this host (data and own records). */
  latestSeen: string | null;
  /** The host clock is earlier than data already seen: freshness cannot be judged. */
  clockBehind: boolean;
}

/** One point of the delta chain: full → deltas. */
export interface ChainPoint {
  generation: number;
  kind: 'full' | 'delta';
  exportId: string | null;
  /**
   * current: staged now; applied: applied earlier (kept or pruned);
   * library: in the library but never applied; failed: its apply or verification failed;
   * missing: a gap (no bundle for this generation after the full one).
   */
  state: 'current' | 'applied' | 'library' | 'failed' | 'missing';
  at: string | null;
  /** For failed points: the error code recorded. */
  code: string | null;
}

export interface ChainHealth extends HealthItem {
  tenant: string | null;
  profileId: string | null;
  currentGeneration: number | null;
  /** The newest generations of the chain (at most 200; the summary covers the whole span). */
  points: ChainPoint[];
  /** Missing generations among `points` (the summary names every gap of the span, as ranges). */
  gaps: number[];
  /** Every failed generation of the span. */
  failed: number[];
}

export interface StoragePoint {
  at: string;
  stagingBytes: number;
  libraryBytes: number;
}

export interface StorageHealth extends HealthItem {
  stagingBytes: number;
  /** How staging was measured: from what each build recorded, or by looking at every file. */
  stagingMeasure?: 'ledger' | 'walk';
  libraryBytes: number;
  usedBytes: number;
  freeBytes: number | null;
  thresholds: { warnBytes: number; failBytes: number; warnFreeBytes: number; failFreeBytes: number };
  /** Storage over time (from each applied generation and library addition), oldest first. */
  trend: StoragePoint[];
}

export interface LastImportHealth extends HealthItem {
  at: string | null;
  subject: string | null;
  action: string | null;
  ok: boolean | null;
  code: string | null;
  /** The runbook's advice for the failure code. */
  advice: { cause: string; action: string; followUp: string } | null;
}

export interface FailureItem {
  ts: string;
  event: string;
  code: string | null;
  message: string;
  /** The runbook's cause / action / follow-up for the code (null when the code has none). */
  advice: { cause: string; action: string; followUp: string } | null;
}

export interface FailuresHealth extends HealthItem {
  count: number;
  since: string | null;
  counts: Record<string, number>;
  /** The newest unacknowledged failures (at most 20), newest first. */
  items: FailureItem[];
}

export interface TenantKeys {
  tenant: string;
  active: number;
  fingerprints: string[];
  /** Data from this tenant was seen (library or staging). */
  seen: boolean;
}

export interface KeysHealth extends HealthItem {
  tenants: TenantKeys[];
  missing: string[];
}

export interface ChecklistHealth extends HealthItem {
  /** Today's daily checklist run (UTC day), or null when none was started today. */
  runId: string | null;
  state: string | null;
  done: number;
  total: number;
  startedAt: string | null;
}

export interface RetentionHealth extends HealthItem {
  lastRun: string | null;
}

/** One import or verification over time (charts and their "view as table"). */
export interface HistoryPoint {
  at: string;
  action: string;
  kind: 'import' | 'verify';
  ok: boolean;
  subject: string;
  generation: number | null;
  code: string | null;
}

export interface HealthReport {
  generatedAt: string;
  /** The worst of the items below (unknown counts between warn and fail). */
  overall: HealthStatus;
  workspace: string;
  freshness: FreshnessHealth;
  chain: ChainHealth;
  storage: StorageHealth;
  lastImport: LastImportHealth;
  failures: FailuresHealth;
  keys: KeysHealth;
  checklist: ChecklistHealth;
  retention: RetentionHealth;
  importsFrozen: { since: string | null; reason: string | null } | null;
  /** Imports and verifications, oldest first (at most 500). */
  history: HistoryPoint[];
}

const RANK: Record<HealthStatus, number> = { pass: 0, warn: 1, unknown: 2, fail: 3 };

/** The worse of statuses (fail > unknown > warn > pass). */
export function worstStatus(...s: HealthStatus[]): HealthStatus {
  return s.reduce<HealthStatus>((a, b) => (RANK[b] > RANK[a] ? b : a), 'pass');
}
