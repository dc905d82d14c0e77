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

/**
 * Generation `n` (3, 4, …) of the chain after faultDelta: a few files
 * changed, one added in a new folder, one removed, and a file/folder swap
 * ("data/swap/x" is a file in odd generations and a folder in even ones), so
 * a recycled tree meets every kind of difference.
 */
export function faultChain(n: number): FakeBundleSpec {
  const prev = n === 3 ? faultDelta() : faultChain(n - 1);
  const prevExport = fakeExport(prev);
  const names = prevExport.state.map((e) => e.path).filter((p) => !p.startsWith('data/swap/'));
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 5; i++) files[names[(i * 11 + n) % names.length]] = Buffer.from(`gen ${n} change ${i}`.padEnd(250, '#'));
  files[`data/gen-${n}/only-${n}.json`] = Buffer.from(`added in ${n}`);
  if (n % 2 === 0) files['data/swap/x/inner.json'] = Buffer.from(`folder in ${n}`);
  else files['data/swap/x'] = Buffer.from(`file in ${n}`);
  const removed = [names[(n * 13) % names.length], ...prevExport.state.filter((e) => e.path.startsWith('data/swap/')).map((e) => e.path)].filter((p) => !(p in files));
  return {
    exportId: `exp-fault-${n}`,
    generation: n,
    variant: 'delta',
    createdAt: `2025-11-${String(n).padStart(2, '0')}T02:00:00Z`,
    base: { exportId: prev.exportId, generation: prev.generation, exportJsonBytes: prevExport.bytes, state: prevExport.state },
    files,
    removed,
  };
}
