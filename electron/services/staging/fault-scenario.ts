/** The deterministic chain used by the fault-injection test and its driver. */
import { fakeExport, syntheticFiles, type FakeBundleSpec } from './testing';

export const FAULT_FILES = 80;

export function faultFull(): FakeBundleSpec {
  return { exportId: 'exp-fault-1', generation: 1, variant: 'full', createdAt: '2025-11-01T02:00:00Z', files: syntheticFiles(FAULT_FILES, 'full', 200) };
}

export function faultDelta(): FakeBundleSpec {
  const full = faultFull();
  const base = fakeExport(full);
  const names = Object.keys(full.files).sort();
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 10; i++) files[names[i * 7]] = Buffer.from(`changed ${i}`.padEnd(300, '~'));
  for (let i = 0; i < 6; i++) files[`data/added/sub-${i % 3}/new-${i}.json`] = Buffer.from(`added ${i}`);
  const removed = names.filter((_, i) => i % 7 === 3).slice(0, 6);
  return {
    exportId: 'exp-fault-2',
    generation: 2,
    variant: 'delta',
    createdAt: '2025-11-02T02:00:00Z',
    base: { exportId: full.exportId, generation: 1, exportJsonBytes: base.bytes, state: base.state },
    files,
    removed,
  };
}
