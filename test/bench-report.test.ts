// The benchmark's planning and its report arithmetic, on made-up rows: which
// cells --quick plans (one emulated-S3 path always included), how the targets
// are judged (met, or the gap as a ratio), and where the crossover falls.
// Pure functions; runs in a vitest fork, main thread.
import { describe, expect, it } from 'vitest';
import { systemDef } from '../dist/bench/catalog.js';
import { crossovers } from '../dist/bench/crossover.js';
import { parseOptions } from '../dist/bench/options.js';
import { groupKey, planCells } from '../dist/bench/plan.js';
import type { Group, Row } from '../dist/bench/report.js';
import { computeTargets } from '../dist/bench/targets.js';
import { plan, RANDOM_READS, THREADS } from '../dist/bench/workloads.js';

const MiB = 1024 * 1024;
const seeded = {
  mainKey: 'main', parquetKey: 'table', parquet: { size: 64 * MiB, checksum: 7 },
  mapKeys: new Map([[16 * MiB, 'm16'], [256 * MiB, 'm256']]), notes: [],
};

function row(group: string, system: string, ms: number, extra: Partial<Row> = {}): Row {
  const def = systemDef(system)!;
  return {
    group, system, label: def.label, role: def.role, status: 'ok', reps: 1, failures: 0,
    wallMs: { median: ms, min: ms, max: ms }, bytesRead: 1, throughputBps: 1000 / ms, ...extra,
  };
}

describe('bench plan', () => {
  it('--quick runs everything on loopback and strided on s3-standard for s3mmap and ranged', () => {
    const opts = parseOptions(['--quick'], '/nowhere');
    const { cells, groups } = planCells(opts, opts.systems.map((id) => systemDef(id)!), seeded);
    const std = cells.filter((c) => c.network === 's3-standard');
    expect(std.map((c) => `${c.workload} ${c.def.id}`).sort()).toEqual(['strided ranged', 'strided s3mmap']);
    expect(groups.filter((g) => g.network === 's3-standard').map((g) => g.key)).toEqual(['strided @ s3-standard']);
    // A mapping starts cold for each k; one download serves them all.
    const cross = cells.filter((c) => c.workload === 'crossover');
    expect(cross.filter((c) => c.def.id === 's3mmap').map((c) => c.ks)).toEqual([[1], [10], [100]]);
    expect(cross.filter((c) => c.def.id === 'parallel-32').map((c) => c.ks)).toEqual([[1, 10, 100]]);
    expect(cross.some((c) => c.def.id === 'ranged' || c.def.id === 'get-object')).toBe(false);
  });

  it('--network lists every workload on each profile', () => {
    const opts = parseOptions(['--network', 's3-standard,s3-express', '--workloads', 'random,random4', '--systems', 's3mmap,ranged'], '/nowhere');
    const { cells } = planCells(opts, opts.systems.map((id) => systemDef(id)!), seeded);
    expect(cells).toHaveLength(2 * 2 * 2 * 3);
    expect(new Set(cells.map((c) => c.network))).toEqual(new Set(['s3-standard', 's3-express']));
    expect(() => parseOptions(['--network', 's3-glacier'], '/nowhere')).toThrow(/unknown network/);
    // Ceilings and fault service touch no network: only on loopback.
    const both = parseOptions(['--network', 'loopback,s3-standard', '--workloads', 'sequential,fault-service', '--systems', 's3mmap,memory,uffd-c,s3mmap-mem-64k'], '/nowhere');
    const planned = planCells(both, both.systems.map((id) => systemDef(id)!), seeded).cells;
    expect(planned.filter((c) => c.network === 's3-standard').map((c) => `${c.workload} ${c.def.id}`)).toEqual(['sequential s3mmap', 'sequential s3mmap', 'sequential s3mmap']);
  });

  it('random4 deals the single-thread reads out, and the crossover reads distinct records', () => {
    const size = 256 * MiB;
    const shares = Array.from({ length: THREADS }, (_, t) => plan('random4', size, t).reads);
    expect(shares.flat()).toHaveLength(RANDOM_READS);
    expect(new Set(shares.flat().map(([o]) => o))).toEqual(new Set(plan('random', size).reads.map(([o]) => o)));
    const k = plan('crossover', size, 1000).reads;
    expect(new Set(k.map(([o]) => o)).size).toBe(1000);
    expect(plan('crossover', size, 10).reads).toEqual(k.slice(0, 10));
  });
});

describe('bench targets', () => {
  const std = (base: string) => groupKey(base, 's3-standard');
  const rows: Row[] = [
    row(std('sequential'), 's3mmap', 1000), row(std('sequential'), 'parallel', 1200), row(std('sequential'), 'parallel-16', 900),
    row(std('sequential'), 's3fs', 3000),
    row(std('random'), 's3mmap', 20_000, { faultP50Us: 18_500 }), row(std('random'), 'ranged', 19_000, { readP50Us: 18_000 }),
    row(std('random4'), 's3mmap', 8000),
    row(std('parquet'), 's3mmap', 100, { bytesFetched: 1200, bytesRead: 1000 }), row(std('parquet'), 'ranged', 120),
    row(std('map 16 MiB'), 's3mmap', 17, { firstByteMs: 21 }),
    row('strided', 's3mmap', 50), row('strided', 'ranged', 45),
  ];
  const unavailable = new Map([['mountpoint', 'no mount-s3 binary']]);
  const byName = (t: string) => computeTargets(rows, unavailable).find((x) => x.target.includes(t))!;

  it('states each as met or its gap, in percent when small', () => {
    expect(byName('best parallel')).toMatchObject({ measured: '0.90×', met: false, status: 'gap: 6% short of it' });
    expect(byName('parallel ranged download').target).toContain('(8 MiB × 16)');
    expect(byName('ahead of s3fs-fuse')).toMatchObject({ measured: '3.00×', met: true });
    expect(byName('ahead of mountpoint-s3')).toMatchObject({ status: 'not measured in this run (no mount-s3 binary)' });
    expect(byName('total time against')).toMatchObject({ measured: '1.05×', met: true });
    expect(byName('median fault latency')).toMatchObject({ met: true, wanted: '≤ 19.0 ms' });
    expect(byName('4 threads')).toMatchObject({ measured: '2.50×', met: false, status: 'gap: 40% short of it' });
    expect(byName('bytes fetched')).toMatchObject({ measured: '1.20×', met: false });
    // One first byte (16 ms) + a 64 KiB chunk at 85 MB/s (0.8 ms) + 3 ms: 21 ms misses it (two first bytes + 2 ms, 34 ms, it would meet).
    expect(byName('first byte on s3-standard, 16 MiB')).toMatchObject({ wanted: expect.stringContaining('19.8 ms'), met: false });
    expect(byName('strided on loopback')).toMatchObject({ measured: '0.90×', met: false });
    expect(byName('sparse random on loopback')).toMatchObject({ measured: '—', status: expect.stringContaining('not measured in this run') });
  });
});

describe('bench crossover', () => {
  it('interpolates the break-even k on log-log axes', () => {
    const groups: Group[] = [1, 10, 100, 1000].map((k) => ({
      key: groupKey(`crossover k=${k}`, 's3-standard'), workload: 'crossover', title: '', objectSize: 1024 * MiB, network: 's3-standard', k,
    }));
    // The mapping costs 20 ms per record, the download 2 s whatever k is: even at k = 100.
    const rows = groups.flatMap((g) => [row(g.key, 's3mmap', 20 * g.k!), row(g.key, 'parallel', 2500), row(g.key, 'parallel-32', 2000)]);
    const [c] = crossovers(groups, rows);
    expect(c.points.map((p) => p.best?.system)).toEqual(['parallel-32', 'parallel-32', 'parallel-32', 'parallel-32']);
    expect(c.breakEven).toBeCloseTo(100, 5);
  });
});
