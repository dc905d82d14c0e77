/** Formatting helpers for operator-facing numbers and dates. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function shortDigest(d: string | null | undefined): string {
  if (!d) return '–';
  const m = /^(sha256:)?([0-9a-f]{64})$/.exec(d);
  return m ? `${m[1] ?? ''}${m[2].slice(0, 12)}…` : d;
}
