// Unit tests of lib/api/options.ts resolveOptions (every validation message,
// the fetch and readahead clamps under a resident budget) and of
// lib/shared/sizes.ts (parseSize, formatBytes). The native addon is replaced
// by a fake that reports a 4096-byte page: nothing is loaded or mapped.
// Vitest 'unit' project, test-file thread.
import { describe, expect, it, vi } from 'vitest';

// The page size is the addon's constant; opening a userfaultfd (probe) to learn it would be a bug.
const probe = vi.hoisted(() => vi.fn(() => { throw new Error('resolveOptions must not open a userfaultfd'); }));
vi.mock('../../lib/shared/native.js', () => ({ native: { probe, pageSize: 4096 }, Errno: {} }));

const { resolveOptions } = await import('../../lib/api/options.js');
const { formatBytes, parseSize } = await import('../../lib/shared/sizes.js');
const { S3MmapError } = await import('../../lib/shared/errors.js');
const { PINNED } = await import('../helpers/pins.js');

const KiB = 1024;
const MiB = 1024 * KiB;

function refused(options: Parameters<typeof resolveOptions>[0]): { code: string; message: string } {
  try {
    resolveOptions(options, 'x');
  } catch (e) {
    expect(e).toBeInstanceOf(S3MmapError);
    return e as InstanceType<typeof S3MmapError>;
  }
  throw new Error(`expected ${JSON.stringify(options)} to be refused`);
}

describe('resolveOptions: defaults', () => {
  it('takes the page size from the addon, without opening a userfaultfd', () => {
    expect(resolveOptions({ chunkSize: 4096 }, 'x').chunkSize).toBe(4096);
    expect(probe).not.toHaveBeenCalled();
  });

  it('fills every option from the defaults table', () => {
    const d = PINNED.defaults;
    expect(resolveOptions({}, 's3://b/k', 's3:e')).toEqual({
      chunkSize: d.chunkSize, fetchSize: d.fetchSize, cacheSize: d.cacheSize, readahead: d.readahead,
      concurrency: d.concurrency, residentBudget: d.residentBudget, fill: d.fill, label: 's3://b/k', userModeOnly: false, diskCache: null,
      // The same in chunks: what the fault worker serves by.
      plan: {
        chunkSize: d.chunkSize, fetchChunks: d.fetchSize / d.chunkSize, readaheadChunks: d.readahead / d.chunkSize,
        loadMinPieceChunks: MiB / d.chunkSize, concurrency: d.concurrency, budgetChunks: 0, fill: d.fill, endpoint: 's3:e',
      },
    });
  });

  it('takes sizes as numbers or strings, and userModeOnly as given', () => {
    expect(resolveOptions({ chunkSize: '16k', fetchSize: '1m', cacheSize: '2m', readahead: '4MiB', concurrency: 3, userModeOnly: true, fill: 'off' }, 'y')).toEqual({
      chunkSize: 16 * KiB, fetchSize: MiB, cacheSize: 2 * MiB, readahead: 4 * MiB, concurrency: 3, residentBudget: 0, fill: 'off', label: 'y', userModeOnly: true, diskCache: null,
      plan: { chunkSize: 16 * KiB, fetchChunks: 64, readaheadChunks: 256, loadMinPieceChunks: 64, concurrency: 3, budgetChunks: 0, fill: 'off', endpoint: 'local' },
    });
    expect(resolveOptions({ chunkSize: 8192, cacheSize: 0, readahead: 0 }, 'z')).toMatchObject({ chunkSize: 8192, cacheSize: 0, readahead: 0 });
  });
});

describe('resolveOptions: every refusal, in one line with code EINVAL', () => {
  it('a chunk size that is not a positive multiple of the page size', () => {
    for (const chunkSize of [0, 1000, 4097, '1.5k', 4095]) {
      const bytes = parseSize(chunkSize);
      expect(refused({ chunkSize })).toMatchObject({
        code: 'EINVAL',
        message: `s3mmap: chunk size ${bytes} is not a positive multiple of the page size (4096); use e.g. 64k, 1m or 8m`,
      });
    }
    expect(resolveOptions({ chunkSize: 4096 }, 'x').chunkSize).toBe(4096);
  });

  for (const [option, name] of [
    ['chunkSize', 'chunk size'], ['fetchSize', 'fetch size'], ['cacheSize', 'cache size'],
    ['readahead', 'readahead'], ['residentBudget', 'resident budget'],
  ] as const) {
    it(`a ${name} that is not a size`, () => {
      for (const value of ['12q', '-4096', 'lots', -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(refused({ [option]: value })).toMatchObject({
          code: 'EINVAL',
          message: `s3mmap: invalid ${name} '${value}'; use bytes or a unit, e.g. 64k, 1m, 8MiB`,
        });
      }
    });
  }

  it('a concurrency that is not an integer from 1 to 1024', () => {
    for (const concurrency of [0, -1, 1.5, 1025, Number.NaN, '4' as unknown as number]) {
      expect(refused({ concurrency })).toMatchObject({
        code: 'EINVAL',
        message: `s3mmap: concurrency ${concurrency} must be an integer from 1 to 1024`,
      });
    }
    expect(resolveOptions({ concurrency: 1 }, 'x').concurrency).toBe(1);
    expect(resolveOptions({ concurrency: 1024 }, 'x').concurrency).toBe(1024);
  });

  it('a resident budget smaller than one chunk', () => {
    expect(refused({ residentBudget: 64 * KiB - 1 })).toMatchObject({
      code: 'EINVAL', message: `s3mmap: resident budget ${64 * KiB - 1} is smaller than one chunk (${64 * KiB})`,
    });
    expect(refused({ chunkSize: '1m', residentBudget: '512k' }).message).toBe(`s3mmap: resident budget ${512 * KiB} is smaller than one chunk (${MiB})`);
    expect(resolveOptions({ residentBudget: 64 * KiB }, 'x').residentBudget).toBe(64 * KiB);
  });

  it('a fill mode other than auto, off or eager', () => {
    expect(refused({ fill: 'always' as 'auto' })).toMatchObject({ code: 'EINVAL', message: "s3mmap: fill 'always' is not one of auto, off, eager" });
  });

  it('the chunk size is checked first: nothing else is looked at', () => {
    expect(refused({ chunkSize: 1000, concurrency: 0, fetchSize: 'bad' }).message).toMatch(/^s3mmap: chunk size 1000 /);
  });
});

describe('resolveOptions: clamps', () => {
  it('the fetch size is whole chunks, at least one', () => {
    expect(resolveOptions({ fetchSize: 100 * KiB }, 'x').fetchSize).toBe(64 * KiB);
    expect(resolveOptions({ fetchSize: 200 * KiB }, 'x').fetchSize).toBe(192 * KiB);
    expect(resolveOptions({ fetchSize: 1 }, 'x').fetchSize).toBe(64 * KiB);
    expect(resolveOptions({ chunkSize: '1m', fetchSize: '64k' }, 'x').fetchSize).toBe(MiB);
  });

  it('under a resident budget: one GET at most a quarter of it, readahead at most half', () => {
    expect(resolveOptions({ residentBudget: '1m' }, 'x')).toMatchObject({ fetchSize: 256 * KiB, readahead: 512 * KiB, residentBudget: MiB });
    // ... and the plan in chunks says the same.
    expect(resolveOptions({ residentBudget: '1m' }, 'x').plan).toMatchObject({ fetchChunks: 4, readaheadChunks: 8, budgetChunks: 16 });
    expect(resolveOptions({ residentBudget: '128m' }, 'x')).toMatchObject({ fetchSize: 8 * MiB, readahead: 64 * MiB });
    expect(resolveOptions({ residentBudget: '40m' }, 'x')).toMatchObject({ fetchSize: 8 * MiB, readahead: 20 * MiB });
    // A quarter rounds down to whole chunks: 1000k / 4 = 250k -> 192k.
    expect(resolveOptions({ residentBudget: '1000k' }, 'x')).toMatchObject({ fetchSize: 192 * KiB, readahead: 500 * KiB });
    // Never below one chunk, however small the budget.
    expect(resolveOptions({ residentBudget: '100k' }, 'x')).toMatchObject({ fetchSize: 64 * KiB, readahead: 50 * KiB });
    // A smaller readahead asked for stays.
    expect(resolveOptions({ residentBudget: '1m', readahead: '128k', fetchSize: '128k' }, 'x')).toMatchObject({ fetchSize: 128 * KiB, readahead: 128 * KiB });
  });

  it('without a budget nothing is clamped', () => {
    expect(resolveOptions({ fetchSize: '64m', readahead: '1g' }, 'x')).toMatchObject({ fetchSize: 64 * MiB, readahead: 1024 * MiB });
  });
});

describe('parseSize', () => {
  it('binary units, any case, with or without B / iB, spaces around', () => {
    const cases: [string | number, number][] = [
      [4096, 4096], ['4096', 4096], ['64k', 64 * KiB], ['64K', 64 * KiB], ['64KiB', 64 * KiB], ['64kb', 64 * KiB],
      ['1.5m', 1.5 * MiB], ['8MiB', 8 * MiB], ['1g', 1024 * MiB], ['2t', 2 * 1024 ** 4], [' 3 m ', 3 * MiB], ['10b', 10],
      ['0', 0], [0, 0], [12.7, 12], ['1.0001k', 1024],
    ];
    for (const [input, bytes] of cases) expect(parseSize(input), String(input)).toBe(bytes);
  });

  it('refuses what is not a size, saying what to write', () => {
    for (const bad of ['', 'k', '12q', '-1', '1e3', '1.k', 'm1', '1 k b', '0x10']) {
      expect(() => parseSize(bad), bad).toThrow(new RangeError(`invalid size '${bad}': use a number of bytes or a unit, e.g. 64k, 1m, 8MiB`));
    }
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => parseSize(bad)).toThrow(new RangeError(`invalid size ${bad}`));
    }
  });
});

describe('formatBytes', () => {
  it('bytes under 1 KiB, then three significant digits in binary units up to TiB', () => {
    const cases: [number, string][] = [
      [0, '0 B'], [1023, '1023 B'], [1024, '1.00 KiB'], [1536, '1.50 KiB'], [10 * KiB, '10.0 KiB'], [100 * KiB, '100 KiB'],
      [1023 * KiB, '1023 KiB'], [MiB, '1.00 MiB'], [64 * MiB, '64.0 MiB'], [256 * MiB, '256 MiB'], [1024 * MiB, '1.00 GiB'],
      [5 * 1024 ** 4, '5.00 TiB'], [2048 * 1024 ** 4, '2048 TiB'], [20.2 * KiB, '20.2 KiB'], [99.99 * KiB, '100.0 KiB'],
    ];
    for (const [n, text] of cases) expect(formatBytes(n), String(n)).toBe(text);
  });
});
