// Seeding: the benchmark objects, generated from a seed and uploaded to MinIO
// (multipart, parts generated on the fly), and local copies where a system
// needs a file. Orchestrator process, main thread. Uploads go to MinIO
// directly, not through the counting proxy, so no network profile slows them.
import { closeSync, createReadStream, existsSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { mkdir } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import {
  CompleteMultipartUploadCommand, CreateMultipartUploadCommand, HeadObjectCommand, PutObjectCommand,
  UploadPartCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { formatBytes } from '../lib/index.js';
import { sizeLabel, type SystemDef } from './catalog.js';
import { BLOCK, CONTENT_VERSION, fillBlocks } from './content.js';
import type { BenchOptions } from './options.js';
import { arrowQueryFile, ARROW_BATCHES, ARROW_COLUMN, ARROW_COLUMNS, writeArrow } from './arrow.js';
import { parquetQueryFile, QUERY_COLUMN, ROW_GROUPS, writeParquet } from './parquet.js';
import { BUDGET_SIZE } from './workloads.js';
import { inParts } from './parts.js';

const PART = 64 * 1024 * 1024;
const UPLOADS_IN_FLIGHT = 3;

/** A part of the object, [offset, offset+length), generated. */
function generatedPart(seed: number, offset: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(Math.ceil(length / BLOCK) * BLOCK);
  fillBlocks(seed, offset, buf);
  return buf.subarray(0, length);
}

type PartSource = (offset: number, length: number) => Buffer | Readable;

async function upload(client: S3Client, bucket: string, key: string, size: number, part: PartSource): Promise<void> {
  const existing = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
  if (existing && Number(existing.ContentLength) === size) return;
  if (size <= PART) {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: part(0, size), ContentLength: size }));
    return;
  }
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const parts: Array<{ ETag: string; PartNumber: number }> = [];
  await inParts(size, PART, UPLOADS_IN_FLIGHT, async (offset, length) => {
    const PartNumber = offset / PART + 1;
    const out = await client.send(new UploadPartCommand({
      Bucket: bucket, Key: key, UploadId, PartNumber, Body: part(offset, length), ContentLength: length,
    }));
    parts.push({ ETag: out.ETag!, PartNumber });
  });
  parts.sort((a, b) => a.PartNumber - b.PartNumber);
  await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
}

/** Uploads the seeded object of `size` bytes under `key`. */
export function uploadGenerated(client: S3Client, bucket: string, key: string, size: number, seed: number): Promise<void> {
  return upload(client, bucket, key, size, (offset, length) => generatedPart(seed, offset, length));
}

/** Uploads a local file under `key`, streamed part by part. */
export function uploadFile(client: S3Client, bucket: string, key: string, path: string): Promise<void> {
  const size = statSync(path).size;
  return upload(client, bucket, key, size, (offset, length) => createReadStream(path, { start: offset, end: offset + length - 1 }));
}

/** Writes the seeded object to a local file unless a file of that size is there. */
export async function writeGenerated(path: string, size: number, seed: number): Promise<void> {
  if (existsSync(path) && statSync(path).size === size) return;
  await mkdir(dirname(path), { recursive: true });
  const tmp = path + '.part';
  const fd = openSync(tmp, 'w');
  try {
    for (let offset = 0; offset < size; offset += PART) {
      const part = generatedPart(seed, offset, Math.min(PART, size - offset));
      let n = 0;
      while (n < part.length) n += writeSync(fd, part, n, part.length - n, offset + n);
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export const BUCKET = 'bench';
/** Opened by every cell before its clock starts (see CellSpec.warmupKey). */
export const WARMUP_KEY = 'warmup.bin';
/** GET once per network profile to check its bandwidth (bench/calibrate.ts). */
export const CALIBRATION_KEY = 'calibrate-8MiB.bin';
export const CALIBRATION_SIZE = 8 * 1024 * 1024;

/** What was seeded, under which keys, and what the Parquet query must return. */
export interface Seeded {
  /** The object of the scan, random and strided workloads (and fault-service's size). */
  mainKey: string;
  /** Its local copy, for the mapFile variants of fault-service. */
  mainLocal?: string;
  parquetKey: string;
  parquetLocal?: string;
  parquet?: { size: number; checksum: number };
  arrowKey: string;
  arrowLocal?: string;
  arrow?: { size: number; checksum: number };
  /** Object size → key, for time-to-map. */
  mapKeys: Map<number, string>;
  /** Object size → key, for the cold scan at each of its sizes. */
  scanKeys: Map<number, string>;
  /** The budget workload's small object. */
  budgetKey: string;
  notes: string[];
}

function sizeTag(n: number): string {
  return sizeLabel(n).replace(' ', '');
}

/** Uploads (once: MinIO's data folder is kept across runs) every object the chosen workloads read. */
export async function seedObjects(
  admin: S3Client, opts: BenchOptions, defs: SystemDef[], root: string, objectsDir: string, log: (s: string) => void,
): Promise<Seeded> {
  const want = new Set<string>(opts.workloads);
  const scan = ['sequential', 'warm', 'random', 'random4', 'strided', 'crossover', 'procs4-scan', 'procs4-random'].some((w) => want.has(w));
  const objKey = (size: number) => `obj-${sizeTag(size)}-s${opts.seed}-${CONTENT_VERSION}.bin`;
  const mainKey = objKey(opts.size);
  const parquetKey = `table-${sizeTag(opts.parquetSize)}-s${opts.seed}-${CONTENT_VERSION}.parquet`;
  const arrowKey = `table-${sizeTag(opts.arrowSize)}-s${opts.seed}-${CONTENT_VERSION}.arrow`;
  const seeded: Seeded = {
    mainKey, parquetKey, arrowKey, budgetKey: objKey(BUDGET_SIZE), mapKeys: new Map(), scanKeys: new Map([[opts.size, mainKey]]), notes: [],
  };
  await uploadGenerated(admin, BUCKET, WARMUP_KEY, 64 * 1024, opts.seed + 1);
  if (opts.networks.some((n) => n.network !== 'loopback')) await uploadGenerated(admin, BUCKET, CALIBRATION_KEY, CALIBRATION_SIZE, opts.seed + 2);
  if (scan) {
    log(`seeding ${mainKey} (${formatBytes(opts.size)})`);
    await uploadGenerated(admin, BUCKET, mainKey, opts.size, opts.seed);
  }
  if (want.has('sequential')) {
    for (const size of opts.scanSizes.filter((n) => n !== opts.size)) {
      seeded.scanKeys.set(size, objKey(size));
      log(`seeding ${objKey(size)} (${formatBytes(size)})`);
      await uploadGenerated(admin, BUCKET, objKey(size), size, opts.seed);
    }
  }
  if (want.has('budget')) {
    log(`seeding ${seeded.budgetKey} (${formatBytes(BUDGET_SIZE)})`);
    await uploadGenerated(admin, BUCKET, seeded.budgetKey, BUDGET_SIZE, opts.seed);
  }
  if (want.has('fault-service') && defs.some((d) => d.id.startsWith('s3mmap-file'))) {
    seeded.mainLocal = join(objectsDir, mainKey);
    log(`writing ${relative(root, seeded.mainLocal)}`);
    await writeGenerated(seeded.mainLocal, opts.size, opts.seed);
  }
  // The columnar files: written once with their format's library (cached across runs), uploaded,
  // and their query answered from the local copy.
  const columnar = [
    {
      w: 'parquet', key: parquetKey, size: opts.parquetSize, lib: 'hyparquet-writer', write: writeParquet, query: parquetQueryFile,
      note: (size: number, rows: number, bytes: number) => `Parquet: ${formatBytes(size)} file, ${ROW_GROUPS} row groups of 4 PLAIN uncompressed columns (INT64, INT64, DOUBLE, INT32); the query decodes column ${QUERY_COLUMN} of row group ${ROW_GROUPS >> 1} (${rows} rows, ${formatBytes(bytes)}).`,
    },
    {
      w: 'arrow', key: arrowKey, size: opts.arrowSize, lib: 'apache-arrow', write: writeArrow, query: arrowQueryFile,
      note: (size: number, rows: number, bytes: number) => `Arrow: ${formatBytes(size)} IPC file, ${ARROW_BATCHES} record batches of ${ARROW_COLUMNS} uncompressed Int32 columns without nulls; the query reads column ${ARROW_COLUMN} of every batch (${rows} rows, ${formatBytes(bytes)}).`,
    },
  ] as const;
  for (const f of columnar.filter((x) => want.has(x.w))) {
    const local = join(objectsDir, f.key);
    log(`writing ${relative(root, local)} with ${f.lib} (cached across runs)`);
    await f.write(local, f.size, opts.seed);
    await uploadFile(admin, BUCKET, f.key, local);
    const q = await f.query(local);
    const size = statSync(local).size;
    if (f.w === 'parquet') {
      seeded.parquetLocal = local;
      seeded.parquet = { size, checksum: q.checksum };
    } else {
      seeded.arrowLocal = local;
      seeded.arrow = { size, checksum: q.checksum };
    }
    seeded.notes.push(f.note(size, q.rows, q.columnBytes));
  }
  if (want.has('map')) {
    for (const size of opts.mapSizes) {
      const key = size === opts.size && scan ? mainKey : `map-${sizeTag(size)}-s${opts.seed}-${CONTENT_VERSION}.bin`;
      log(`seeding ${key} (${formatBytes(size)})`);
      await uploadGenerated(admin, BUCKET, key, size, opts.seed);
      seeded.mapKeys.set(size, key);
    }
  }
  return seeded;
}
