/**
 * Test support: a large audit log written through the audit service
 * (appendAudit: hash-chained, as the console writes it), in batches of one
 * transaction each. Timestamps run one minute apart ending at `end`, actions
 * and actors rotate, every 50th row is a failure (mirror.verify.failed with
 * an error code) so failed rows can be found and shown.
 */
import { appendAudit } from '../audit/index';
import type { Db } from '../db/index';

export const SEED_ACTIONS = ['mirror.bundle.imported', 'mirror.delta.applied', 'mirror.verify.passed', 'keys.added', 'checklist.step.completed', 'retention.run'] as const;
export const SEED_OPERATORS = ['alice', 'bob', 'carol', 'dave'] as const;

export function seedAudit(db: Db, rows: number, opts: { end?: Date; batch?: number } = {}): { first: string; last: string } {
  const end = (opts.end ?? new Date('2026-01-01T00:00:00.000Z')).getTime();
  const batch = opts.batch ?? 50_000;
  const tsOf = (i: number) => new Date(end - (rows - 1 - i) * 60_000).toISOString();
  for (let start = 0; start < rows; start += batch) {
    db.transaction(() => {
      for (let i = start; i < Math.min(rows, start + batch); i++) {
        const failed = i % 50 === 49;
        appendAudit(db, {
          action: failed ? 'mirror.verify.failed' : SEED_ACTIONS[i % SEED_ACTIONS.length],
          subject: `exp-seed-${String(i).padStart(7, '0')}`,
          operator: SEED_OPERATORS[i % SEED_OPERATORS.length],
          ts: tsOf(i),
          details: failed ? { errorCode: 'ERR_VERIFY_DIGEST', message: `seeded failure ${i}`, generation: i } : { generation: i },
        });
      }
    })();
  }
  return { first: tsOf(0), last: tsOf(rows - 1) };
}
