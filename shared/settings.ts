/** Workspace settings: schema and defaults (runbook 5.2 and the spec's limits). Pure. */
import { z } from 'zod';

const GiB = 1024 ** 3;

export const LimitsSchema = z.object({
  /** Total unpacked bytes of one bundle. */
  maxTotalBytes: z.number().int().positive().default(64 * GiB),
  /** Unpacked bytes of one member. */
  maxMemberBytes: z.number().int().positive().default(8 * GiB),
  maxMembers: z.number().int().positive().default(1_000_000),
  /** Unpacked/compressed ratio allowed once `ratioGraceBytes` have been unpacked. */
  maxRatio: z.number().positive().default(1000),
  ratioGraceBytes: z.number().int().nonnegative().default(64 * 1024 * 1024),
  /** Most folders deep a path inside a bundle may be (spec conventions; the tar member name, top folder included). */
  maxDepth: z.number().int().min(2).max(1024).default(64),
});
export type Limits = z.infer<typeof LimitsSchema>;
export const DEFAULT_LIMITS: Limits = LimitsSchema.parse({});

export const SettingsSchema = z.object({
  /** Staging generations kept besides the current one, for rollback. */
  keepGenerations: z.number().int().min(1).max(50).default(2),
  retention: z
    .object({
      mirrorDays: z.number().int().min(1).default(30),
      trivyCount: z.number().int().min(1).default(10),
      keepDeltas: z.number().int().min(0).default(5),
    })
    .default({ mirrorDays: 30, trivyCount: 10, keepDeltas: 5 }),
  capacity: z
    .object({
      /** Bytes of staging + library above which the storage check warns / fails. */
      warnBytes: z.number().int().positive().default(200 * GiB),
      failBytes: z.number().int().positive().default(400 * GiB),
      /** Free space on the workspace volume below which the check warns / fails. */
      warnFreeBytes: z.number().int().nonnegative().default(20 * GiB),
      failFreeBytes: z.number().int().nonnegative().default(5 * GiB),
    })
    .default({ warnBytes: 200 * GiB, failBytes: 400 * GiB, warnFreeBytes: 20 * GiB, failFreeBytes: 5 * GiB }),
  /** Age of the newest applied export's createdAt beyond which data is stale. */
  stalenessHours: z.number().positive().default(48),
  limits: LimitsSchema.default(DEFAULT_LIMITS),
  /** Operator name recorded in the audit log with the OS user. */
  operator: z.string().max(200).default(''),
});
export type Settings = z.infer<typeof SettingsSchema>;
export const DEFAULT_SETTINGS: Settings = SettingsSchema.parse({});
