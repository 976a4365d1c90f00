// `s3mmap cache`: what the disk cache directory holds (bytes, entries, per
// object) and, with --clear, emptying it or one object's entries. Main
// thread; the directory is the one mappings use: --cache, else
// $S3MMAP_CACHE_DIR.
import type { Argv, CommandModule } from 'yargs';
import { clearDiskCache, diskCacheInfo, type CachedObject } from '../../lib/api/cache-admin.js';
import { CACHE_DIR_ENV, requestedDiskCache } from '../../lib/api/cache-dir.js';
import { parseS3Url } from '../../lib/s3/url.js';
import { UsageError } from '../errors.js';
import type { GlobalArgs } from '../options.js';
import { bytesExact, formatBytes, json, out, section } from '../output.js';

export const usage = 's3mmap cache [s3://bucket/key] [--clear] [--cache DIR] [--json]';

interface CacheArgs extends GlobalArgs {
  url?: string;
  clear?: boolean;
}

function line(o: CachedObject): string {
  const what = o.url ?? `(an object without its description: ${o.dir})`;
  const where = o.endpoint ? `  ${o.endpoint}` : '';
  const versions = o.versions === 1 ? '' : `, ${o.versions} versions`;
  return `${formatBytes(o.bytes).padStart(9)}  ${String(o.entries).padStart(7)} entries  ${what}${where}${versions}`;
}

export const cacheCommand: CommandModule<GlobalArgs, CacheArgs> = {
  command: 'cache [url]',
  describe: "Show the disk cache's size and entries, or clear it (all, or one object)",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .usage(`Usage: ${usage}\n\nShow what the disk cache directory holds: its size, its entries and the objects they belong to. With --clear, remove every entry, or only those of the object named (every version, any endpoint). The directory is --cache, else $${CACHE_DIR_ENV}.`)
      .positional('url', { type: 'string', describe: 'One object, s3://bucket/key' })
      .option('clear', { type: 'boolean', describe: 'Remove the entries (of the object given, else all)' })
      .group(['clear'], 'Options:')
      .example('$0 cache --cache ~/.cache/s3mmap', 'Size, entries and objects of the cache')
      .example('$0 cache s3://data/shard-0001.tdb --clear', "Forget one object's cached bytes")
      .example('$0 cache --clear', 'Empty the cache') as unknown as Argv<CacheArgs>,
  handler: async (argv) => {
    const asked = requestedDiskCache(argv.cache, argv.cacheSizeOnDisk);
    if (!asked) throw new UsageError(`no cache directory: give --cache DIR or set ${CACHE_DIR_ENV}`);
    const target = argv.url ? parseS3Url(argv.url) : undefined;
    if (argv.clear) {
      const r = await clearDiskCache(asked.dir, target);
      if (argv.json) return json({ dir: asked.dir, removed: r.objects.map(({ dir: _, ...o }) => o), bytes: r.bytes });
      const what = target ? `s3://${target.bucket}/${target.key}` : 'every object';
      out(r.objects.length === 0 ? `${asked.dir}: nothing cached for ${what}` : `${asked.dir}: removed ${bytesExact(r.bytes)} of ${what} (${r.objects.reduce((n, o) => n + o.entries, 0)} entries)`);
      return;
    }
    const info = diskCacheInfo(asked.dir);
    const objects = target ? info.objects.filter((o) => o.bucket === target.bucket && o.key === target.key) : info.objects;
    if (argv.json) {
      return json({ dir: info.dir, exists: info.exists, bytes: info.bytes, entries: info.entries, cap: asked.maxBytes, objects: objects.map(({ dir: _, ...o }) => o) });
    }
    if (!info.exists) return out(`${asked.dir}: no disk cache there yet (a mapping with this cacheDir creates it)`);
    for (const l of section('disk cache', [
      ['directory', info.dir],
      ['holds', `${bytesExact(info.bytes)} in ${info.entries.toLocaleString('en-US')} entries of ${info.objects.length} object${info.objects.length === 1 ? '' : 's'}`],
      ['cap', `${formatBytes(asked.maxBytes)} (--cache-size-on-disk, $S3MMAP_CACHE_SIZE); least recently used entries go past it`],
    ])) out(l);
    if (objects.length > 0) {
      out('objects');
      for (const o of objects) out(`  ${line(o)}`);
    } else if (target) {
      out(`nothing cached for s3://${target.bucket}/${target.key}`);
    }
  },
};
