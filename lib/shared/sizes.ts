// Byte sizes for humans: parsing "64k", "1m", "8MiB" (options, the CLI) and
// printing them back. Any thread.

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Parses 4096, "4096", "64k", "64K", "64KiB", "64kb", "1.5m", "8MiB", "1g". Binary units. */
export function parseSize(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`invalid size ${value}`);
    return Math.floor(value);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(value);
  if (!m) throw new RangeError(`invalid size '${value}': use a number of bytes or a unit, e.g. 64k, 1m, 8MiB`);
  return Math.floor(parseFloat(m[1]) * UNITS[m[2].toLowerCase()]);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[u]}`;
}
