// `s3mmap ls`: the keys under a prefix with their sizes, so a user can find
// what to map; without a bucket, the buckets. Main thread. One client built
// by the library's connectS3(), so the endpoint, region and credentials are
// resolved exactly as mapObject() resolves them.
import type { Argv, CommandModule } from 'yargs';
import { parseS3Url } from '../../lib/s3/url.js';
import { addSecrets } from '../errors.js';
import { clientOptions, type GlobalArgs } from '../options.js';
import { err, formatBytes, json, out } from '../output.js';

export const usage = 's3mmap ls [s3://bucket/[prefix]] [--recursive] [--json]';

interface LsArgs extends GlobalArgs {
  url?: string;
  recursive?: boolean;
}

interface Entry {
  type: 'object' | 'prefix' | 'bucket';
  url: string;
  key?: string;
  size?: number;
  lastModified?: string;
  etag?: string;
}

export const lsCommand: CommandModule<GlobalArgs, LsArgs> = {
  command: 'ls [url]',
  describe: 'List the keys under a prefix with their sizes (without a URL: the buckets)',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .usage(`Usage: ${usage}\n\nList the keys under s3://bucket/prefix with their sizes, one level at a time (folders end in '/') or all of them with --recursive. Without a URL, list the buckets.`)
      .positional('url', { type: 'string', describe: 's3://bucket/ or s3://bucket/prefix' })
      .option('recursive', { type: 'boolean', alias: 'r', describe: 'Every key under the prefix, not one level' })
      // Named so it is listed before the global options.
      .group(['recursive'], 'Options:')
      .example('$0 ls', 'The buckets')
      .example('$0 ls s3://data/', 'Keys and folders at the top of a bucket')
      .example('$0 ls s3://data/shards/2024- -r', 'Every key starting with shards/2024-')
      .example("$0 ls s3://data/ -r --json | jq -r '.[] | select(.size > 1e9) | .url'", 'Objects over 1 GB') as unknown as Argv<LsArgs>,
  handler: async (argv) => {
    const loc = argv.url === undefined || /^s3:\/\/\/?$/i.test(argv.url) ? undefined : parseS3Url(argv.url, { allowPrefix: true });
    const { connectS3 } = await import('../../lib/s3/client.js');
    const { ListBucketsCommand, ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    const conn = await connectS3(clientOptions(argv));
    addSecrets(conn.secrets());
    const entries: Entry[] = [];
    // Human output streams page by page: a bucket of a million keys starts printing at once.
    const emit = (batch: Entry[]) => {
      if (argv.json) entries.push(...batch);
      else for (const e of batch) out(line(e));
    };
    try {
      if (!loc) {
        let res;
        try {
          res = await conn.client.send(new ListBucketsCommand({}));
        } catch (e) {
          throw conn.explain(e, { what: 'listing the buckets', target: 'listing the buckets', permission: 's3:ListAllMyBuckets' });
        }
        emit((res.Buckets ?? []).map((b) => ({ type: 'bucket', url: `s3://${b.Name}/`, lastModified: b.CreationDate?.toISOString() })));
      } else {
        let token: string | undefined;
        let any = false;
        do {
          let page;
          try {
            page = await conn.client.send(new ListObjectsV2Command({
              Bucket: loc.bucket,
              Prefix: loc.key || undefined,
              Delimiter: argv.recursive ? undefined : '/',
              ContinuationToken: token,
            }));
          } catch (e) {
            throw conn.explain(e, { what: `listing s3://${loc.bucket}/${loc.key}`, target: `s3://${loc.bucket}/${loc.key}`, bucket: loc.bucket, permission: 's3:ListBucket' });
          }
          const batch: Entry[] = [
            ...(page.CommonPrefixes ?? []).map((p): Entry => ({ type: 'prefix', url: `s3://${loc.bucket}/${p.Prefix}`, key: p.Prefix })),
            ...(page.Contents ?? []).map((o): Entry => ({
              type: 'object', url: `s3://${loc.bucket}/${o.Key}`, key: o.Key, size: o.Size ?? 0,
              lastModified: o.LastModified?.toISOString(), etag: o.ETag,
            })),
          ].sort((a, b) => (a.key! < b.key! ? -1 : a.key! > b.key! ? 1 : 0));
          any ||= batch.length > 0;
          emit(batch);
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        if (!any && !argv.json) err(`s3mmap: nothing under s3://${loc.bucket}/${loc.key}`);
      }
      if (argv.json) json(entries);
    } finally {
      conn.close();
    }
  },
};

// Fixed widths, not fitted per page, so pages line up: formatBytes is at
// most 8 wide ("1023 MiB"), a UTC time 20.
function line(e: Entry): string {
  const when = (e.lastModified ?? '').replace(/\.\d+Z$/, 'Z');
  const size = e.type === 'object' ? formatBytes(e.size ?? 0) : e.type === 'prefix' ? 'DIR' : '';
  return `${size.padStart(8)}  ${when.padEnd(20)}  ${e.url}`;
}
