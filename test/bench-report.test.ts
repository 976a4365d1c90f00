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
import { fillFigures } from '../dist/bench/systems/s3mmap.js';
import { chunksTouched, computeTargets } from '../dist/bench/targets.js';
import { plan, PROCS, RANDOM_READS, THREADS } from '../dist/bench/workloads.js';

const MiB = 1024 * 1024;
const seeded = {
  mainKey: 'main', parquetKey: 'table', parquet: { size: 64 * MiB, checksum: 7 }, arrowKey: 'arrow', arrow: { size: 64 * MiB, checksum: 8 },
  budgetKey: 'b16', mapKeys: new Map([[16 * MiB, 'm16'], [256 * MiB, 'm256']]), scanKeys: new Map([[64 * MiB, 'main'], [1024 * MiB, 'g1']]), notes: [],
};

function row(group: string, system: string, ms: number, extra: Partial<Row> = {}): Row {
  const def = systemDef(system)!;
  return {
    group, system, label: def.label, role: def.role, status: 'ok', reps: 1, failures: 0,
    wallMs: { median: ms, min: ms, max: ms }, bytesRead: 1, throughputBps: 1000 / ms, ...extra,
  };
}

describe('bench plan', () => {
  it('--quick runs everything on loopback, strided on s3-standard and map on s3-express for s3mmap and ranged', () => {
    const opts = parseOptions(['--quick'], '/nowhere');
    const { cells, groups } = planCells(opts, opts.systems.map((id) => systemDef(id)!), seeded);
    const std = cells.filter((c) => c.network === 's3-standard');
    expect(std.map((c) => `${c.workload} ${c.def.id}`).sort()).toEqual(['strided ranged', 'strided s3mmap']);
    expect(groups.filter((g) => g.network === 's3-standard').map((g) => g.key)).toEqual(['strided @ s3-standard']);
    expect(groups.filter((g) => g.network === 's3-express').map((g) => g.key)).toEqual(['map 16 MiB @ s3-express', 'map 256 MiB @ s3-express']);
    // A mapping starts cold for each k; one download serves them all, and one ranged reader.
    const cross = cells.filter((c) => c.workload === 'crossover');
    expect(cross.filter((c) => c.def.id === 's3mmap').map((c) => c.ks)).toEqual([[1], [10], [100]]);
    expect(cross.filter((c) => c.def.id === 'parallel-32').map((c) => c.ks)).toEqual([[1, 10, 100]]);
    expect(cross.filter((c) => c.def.id === 'ranged').map((c) => c.ks)).toEqual([[1, 10, 100]]);
    expect(cross.some((c) => c.def.id === 'get-object')).toBe(false);
    // The new workloads, small: one scan size, a 2 s budget against readahead 0, 4 processes for s3mmap default, private and the mounts.
    expect(groups.filter((g) => g.workload === 'sequential').map((g) => g.key)).toEqual(['sequential']);
    const who = (w: string) => cells.filter((c) => c.workload === w).map((c) => c.def.id).sort();
    expect(who('budget')).toEqual(['s3mmap', 's3mmap-nora']);
    expect(cells.find((c) => c.workload === 'budget')!.seconds).toBe(2);
    expect(cells.find((c) => c.workload === 'procs4-random')!.reads).toBe(250);
    expect(who('procs4-scan')).toEqual(['geesefs', 'goofys', 'mountpoint', 'rclone', 's3fs', 's3mmap', 's3mmap-private']);
    expect(who('random')).toContain('s3mmap-fill-off');
    expect(who('arrow')).toEqual(['get-object', 'memory', 'parallel', 'ranged', 'rclone', 's3fs', 's3mmap', 'geesefs', 'goofys', 'mountpoint'].sort());
  });

  it('the full run: three networks, the scan at 64 MiB and 1 GiB, the processes on the first network only', () => {
    const opts = parseOptions([], '/nowhere');
    expect(opts.networks.map((n) => n.network)).toEqual(['loopback', 's3-standard', 's3-express']);
    const { groups } = planCells(opts, opts.systems.map((id) => systemDef(id)!), seeded);
    expect(groups.filter((g) => g.workload === 'sequential').map((g) => g.key)).toEqual([
      'sequential 64 MiB', 'sequential', 'sequential 64 MiB @ s3-standard', 'sequential @ s3-standard', 'sequential 64 MiB @ s3-express', 'sequential @ s3-express',
    ]);
    expect(groups.filter((g) => g.workload.startsWith('procs4')).map((g) => g.key)).toEqual(['procs4-scan', 'procs4-random']);
    expect(groups.filter((g) => g.workload === 'budget').map((g) => g.network)).toEqual(['loopback', 's3-standard', 's3-express']);
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
    // Two scan sizes (64 MiB and the 1 GiB main object), three repetitions.
    expect(planned.filter((c) => c.network === 's3-standard').map((c) => `${c.workload} ${c.def.id}`)).toEqual(Array(6).fill('sequential s3mmap'));
  });

  it('random4 deals the single-thread reads out, and the crossover reads distinct records', () => {
    const size = 256 * MiB;
    const shares = Array.from({ length: THREADS }, (_, t) => plan('random4', size, t).reads);
    expect(shares.flat()).toHaveLength(RANDOM_READS);
    expect(new Set(shares.flat().map(([o]) => o))).toEqual(new Set(plan('random', size).reads.map(([o]) => o)));
    const k = plan('crossover', size, 1000).reads;
    expect(new Set(k.map(([o]) => o)).size).toBe(1000);
    expect(plan('crossover', size, 10).reads).toEqual(k.slice(0, 10));
    // Every process reads the same reads, each from its own quarter on.
    const p1 = plan('procs4-random', size, 1, RANDOM_READS).reads;
    expect(new Set(p1.map(([o]) => o))).toEqual(new Set(plan('random', size).reads.map(([o]) => o)));
    expect(p1[0]).toEqual(plan('random', size).reads[RANDOM_READS / PROCS]);
    // Fewer reads (--quick): the first of the same reads, still the same set for every process.
    const q = Array.from({ length: PROCS }, (_, p) => plan('procs4-random', size, p, 250).reads);
    expect(q.map((r) => new Set(r.map(([o]) => o)))).toEqual(Array(PROCS).fill(new Set(plan('random', size).reads.slice(0, 250).map(([o]) => o))));
  });

  it('counts the chunks a read plan touches, two for a read across a boundary, a chunk read again once', () => {
    expect(chunksTouched([[0, 4096], [65536 - 10, 20], [131072, 65536], [131072 + 8, 8]], 65536)).toBe(3);
  });

  it('reads whether a fill started from what a build reports, and nothing from a build without one', () => {
    expect(fillFigures({ faults: 1 })).toEqual({});
    expect(fillFigures({ fill: { started: false, reason: 'below the crossover' } })).toEqual({ fillStarted: 0 });
    expect(fillFigures({ fill: { startedAtMs: 120, bytes: 4096 } })).toEqual({ fillStarted: 1, fillBytes: 4096 });
    expect(fillFigures({ fillState: 'running' })).toEqual({ fillStarted: 1 });
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
    row(std('map 16 MiB'), 's3mmap', 17, { firstByteMs: 36 }),
    row('strided', 's3mmap', 50), row('strided', 'ranged', 45),
    row(std('crossover k=10'), 's3mmap', 300, { fillStarted: { started: 0, of: 1 } }), row(std('crossover k=10'), 'ranged', 250), row(std('crossover k=10'), 'parallel', 3000),
    row(std('crossover k=1000'), 's3mmap', 20_000, { fillStarted: { started: 1, of: 1 } }), row(std('crossover k=1000'), 'ranged', 19_000), row(std('crossover k=1000'), 'parallel', 3500),
    row(std('budget'), 's3mmap', 6000, { opsPerSec: 1000, evictionsPerOp: 2 }), row(std('budget'), 's3mmap-nora', 6000, { opsPerSec: 25_000, evictionsPerOp: 0.5 }),
    row(std('random'), 'parallel-16', 3500), row(std('random'), 's3mmap-fill-off', 21_000, { bytesFetched: 70 * MiB }),
  ];
  const g = (base: string, workload: Group['workload'], objectSize: number, k?: number): Group => ({ key: std(base), workload, title: '', objectSize, network: 's3-standard', k });
  const groups: Group[] = [
    g('sequential', 'sequential', 1024 * MiB), g('random', 'random', 1024 * MiB), g('parquet', 'parquet', 64 * MiB), g('map 16 MiB', 'map', 16 * MiB),
    g('crossover k=10', 'crossover', 1024 * MiB, 10), g('crossover k=1000', 'crossover', 1024 * MiB, 1000), g('budget', 'budget', 16 * MiB),
    { key: 'strided', workload: 'strided', title: '', objectSize: 1024 * MiB, network: 'loopback' },
  ];
  const unavailable = new Map([['mountpoint', 'no mount-s3 binary']]);
  const targets = computeTargets(rows, groups, unavailable, crossovers(groups, rows));
  const byName = (t: string) => targets.find((x) => x.target.includes(t))!;

  it('states each as met or its gap, in percent when small', () => {
    expect(byName('best parallel')).toMatchObject({ measured: '0.90×', met: false, status: 'gap: 6% short of it' });
    expect(byName('best parallel download').target).toContain('(8 MiB × 16)');
    expect(byName('ahead of s3fs-fuse')).toMatchObject({ measured: '3.00×', met: true });
    expect(byName('ahead of mountpoint-s3')).toMatchObject({ status: 'not measured in this run (no mount-s3 binary)' });
    expect(byName('total time against')).toMatchObject({ measured: '1.05×', met: true });
    expect(byName('median fault latency')).toMatchObject({ met: true, wanted: '≤ 19.0 ms' });
    expect(byName('4 threads')).toMatchObject({ measured: '2.50×', met: false, status: 'gap: 40% short of it' });
    expect(byName('Parquet, one column on s3-standard: bytes fetched')).toMatchObject({ measured: '1.20×', met: false });
    expect(byName('first byte on s3-standard, 16 MiB')).toMatchObject({ wanted: expect.stringContaining('= 19.8 ms'), met: false });
    // The lower of the plain choices: the ranged GETs at k = 10, the download at k = 1,000 and for the dense random reader.
    expect(byName('k = 10 records')).toMatchObject({ measured: '1.20×', met: true });
    expect(byName('k = 10 records').target).toContain('(ranged GET per read)');
    expect(byName('k = 1,000 records')).toMatchObject({ measured: '5.71×', met: false });
    expect(byName('sparse random (1,000 dependent 4 KiB reads) on s3-standard: s3mmap')).toMatchObject({ measured: '5.71×', met: false });
    // Bytes with fill off against one 64 KiB chunk per read (a read across a boundary takes two).
    const touched = chunksTouched(plan('random', 1024 * MiB).reads, 65536) * 65536;
    expect(byName('fill off: bytes fetched')).toMatchObject({ measured: `${(70 * MiB / touched).toFixed(2)}×` });
    expect(byName('budget on s3-standard: reads per second')).toMatchObject({ measured: '0.04×', met: false });
    expect(byName('budget on s3-standard: evictions per read')).toMatchObject({ measured: '4.00×', met: false });
    // The crossover is about k = 140 here: k = 10 is below a quarter of it, and its cell started no fill.
    expect(byName('stops below a quarter')).toMatchObject({ measured: '0 of 1 cells', met: true });
    expect(byName('Arrow')).toBeUndefined();
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
