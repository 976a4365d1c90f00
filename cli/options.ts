// The global options every command takes, their parsing, and what they become
// for the library: S3 client options and mapping options. Main thread, while
// yargs parses, before anything connects.
import type { Options } from 'yargs';
import type { S3ClientOptions } from '../lib/s3/options.js';
import { isHttpEndpoint, shownEndpoint } from '../lib/s3/url.js';
import type { S3MapOptions } from '../lib/api/map.js';
import { DEFAULTS } from '../lib/shared/defaults.js';
import { formatBytes, parseSize } from '../lib/shared/sizes.js';
import { UsageError } from './errors.js';

export interface GlobalArgs {
  endpoint?: string;
  region?: string;
  profile?: string;
  chunkSize?: number;
  cacheSize?: number;
  readahead?: number;
  fill?: 'auto' | 'off' | 'eager';
  userModeOnly?: boolean;
  cache?: string;
  cacheSizeOnDisk?: number;
  shared?: boolean;
  sharedDir?: string;
  sharedSize?: number;
  json?: boolean;
  verbose?: boolean;
}

export const GLOBAL_GROUP = 'Global options:';

function sizeOption(flag: string) {
  return (value: unknown): number | undefined => {
    if (value === undefined) return undefined;
    // Given twice: the last one wins, as with most Unix tools.
    const v = Array.isArray(value) ? value[value.length - 1] : value;
    try {
      return parseSize(String(v));
    } catch {
      throw new UsageError(`invalid ${flag} '${v}': use a number of bytes or a binary unit, e.g. 64k, 1m, 8MiB`);
    }
  };
}

function endpointOption(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const v = String(Array.isArray(value) ? value[value.length - 1] : value);
  if (!isHttpEndpoint(v)) throw new UsageError(`invalid --endpoint '${shownEndpoint(v)}': write it as http://host:port or https://host`);
  return v;
}

export const globalOptions: Record<string, Options> = {
  endpoint: {
    type: 'string',
    describe: 'S3 endpoint URL [default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else AWS]',
    coerce: endpointOption,
  },
  region: { type: 'string', describe: "Region [default: $AWS_REGION, the profile's, else us-east-1]" },
  profile: { type: 'string', describe: 'Shared config/credentials profile [default: $AWS_PROFILE]' },
  'chunk-size': {
    type: 'string',
    describe: `Bytes installed per page fault, a multiple of the page size: 64k, 1m, 8MiB [default: ${formatBytes(DEFAULTS.chunkSize)}]`,
    coerce: sizeOption('--chunk-size'),
  },
  'cache-size': {
    type: 'string',
    describe: `Fetched bytes kept in memory to reinstall evicted pages without a GET; 0 disables [default: ${formatBytes(DEFAULTS.cacheSize)}]`,
    coerce: sizeOption('--cache-size'),
  },
  readahead: {
    type: 'string',
    describe: `Largest readahead window for sequential reads; 0 disables [default: ${formatBytes(DEFAULTS.readahead)}]`,
    coerce: sizeOption('--readahead'),
  },
  fill: {
    type: 'string',
    choices: ['auto', 'off', 'eager'],
    describe: `Fetch the rest of the object in the background: auto once the faults have cost half what that would, off, or eager [default: ${DEFAULTS.fill}]`,
  },
  cache: {
    type: 'string',
    describe: 'Disk cache directory shared by your processes: chunks fetched once are read back from it [default: $S3MMAP_CACHE_DIR, else none]',
    requiresArg: true,
  },
  'cache-size-on-disk': {
    type: 'string',
    describe: 'Most bytes the disk cache keeps; least recently used entries go past it [default: $S3MMAP_CACHE_SIZE, else 4g]',
    coerce: sizeOption('--cache-size-on-disk'),
  },
  shared: {
    type: 'boolean',
    describe: 'Share the pages with your other processes mapping the same object version: one copy in memory; --no-shared for private memory [default: true, $S3MMAP_SHARED=0 turns it off]',
  },
  'shared-dir': {
    type: 'string',
    describe: 'Directory (on a tmpfs) of the shared pages [default: $S3MMAP_SHM_DIR, else /dev/shm/s3mmap-<uid>]',
    requiresArg: true,
  },
  'shared-size': {
    type: 'string',
    describe: 'Most bytes all your shared pages hold; the least recently installed are freed past it [default: $S3MMAP_SHARED_SIZE, else half the tmpfs]',
    coerce: sizeOption('--shared-size'),
  },
  'user-mode-only': {
    type: 'boolean',
    describe: 'Use a user-mode-only userfaultfd, as an unprivileged user gets',
  },
  json: { type: 'boolean', describe: 'Machine-readable output' },
  verbose: { type: 'boolean', alias: 'v', describe: 'More detail; the stack on errors' },
};

export function clientOptions(a: GlobalArgs): S3ClientOptions {
  return { endpoint: a.endpoint, region: a.region, profile: a.profile };
}

export function mapOptions(a: GlobalArgs): S3MapOptions {
  return {
    ...clientOptions(a),
    chunkSize: a.chunkSize,
    cacheSize: a.cacheSize,
    readahead: a.readahead,
    fill: a.fill,
    userModeOnly: a.userModeOnly,
    cacheDir: a.cache,
    cacheDirSize: a.cacheSizeOnDisk,
    shared: a.shared,
    sharedDir: a.sharedDir,
    sharedSize: a.sharedSize,
  };
}
