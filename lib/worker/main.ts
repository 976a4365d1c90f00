// Entry point of the fault worker: one worker thread per process, serving the
// faults of every mapping. It owns the uffds, the chunk caches and the
// sources; it never reads or writes mapped memory (DESIGN.md rule 1) and never
// blocks its event loop in a syscall (rule 2): uffds and the "region
// released" eventfd are watched with uv_poll on this thread's loop.
import { writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { S3MmapError, serializeError } from '../shared/errors.js';
import { native, UffdFeature } from '../shared/native.js';
import type { FromWorker, MapReply, MapRequest, ToWorker } from '../shared/protocol.js';
import { chooseBacking } from './backing.js';
import { BufferPool } from './buffer-pool.js';
import { POLICY } from '../shared/defaults.js';
import { DiskCacheStore } from './disk-cache-store.js';
import { ObjectCache } from './disk-cache.js';
import { PrefetchedSource } from './prefetched.js';
import { RegionServer } from './region-server.js';
import { formatBytes } from '../shared/sizes.js';
import { createSource } from '../sources/index.js';
import type { Source } from '../sources/source.js';
import { Counter, createStatsBuffer, StatsWriter } from '../shared/stats.js';
import { CACHE_BLOCK, ENTRY_HEADER } from '../shared/cache-layout.js';

const port = parentPort!;
// Shared by every mapping: fetch buffers are recycled instead of reallocated.
const pool = new BufferPool(POLICY.bufferPoolBytes);
const servers = new Map<bigint, RegionServer>();

function send(msg: FromWorker): void {
  port.postMessage(msg);
}

native.armExitGuard();
// An error nothing caught ends this thread, and its mappings with it (the
// exit guard's teardown hook). The caller's thread hears of it through the
// Worker's 'error' event only if it is not parked in a fault; this line goes
// straight to fd 2 either way.
process.on('uncaughtExceptionMonitor', (err, origin) => {
  writeSync(2, `s3mmap: the fault worker failed (${origin}): ${(err as Error)?.stack ?? String(err)}\n`);
});
// Regions whose last view was collected, or that were closed, are unmapped
// already; stop serving them and close their uffds (DESIGN.md rule 7: close last).
native.watch(-1, () => {
  for (const id of native.takeReleased()) retire(id);
});

function retire(id: bigint): void {
  const server = servers.get(id);
  if (server) {
    servers.delete(id);
    server.stop();
  }
  native.destroyRegion(id);
  // The region is unmapped: its shared pages file is let go (and removed by the last holder).
  server?.closeShared();
}

async function map(msg: MapRequest): Promise<MapReply> {
  const source = await createSource(msg.spec);
  let info;
  try {
    info = await source.open(undefined, firstBytes(msg));
  } catch (err) {
    await Promise.resolve(source.close()).catch(() => {});
    throw err;
  }
  const stats = createStatsBuffer();
  if (info.size === 0) {
    await source.close();
    return { info, region: null, stats, residency: new SharedArrayBuffer(1), backing: { shared: false, note: 'nothing to map (empty object)' } };
  }
  let disk: ObjectCache | null;
  try {
    disk = await openDiskCache(msg, source, info.size, stats);
  } catch (err) {
    await Promise.resolve(source.close()).catch(() => {});
    throw err;
  }
  const length = Math.ceil(info.size / native.pageSize) * native.pageSize;
  let { file, backing } = chooseBacking(msg.serve, source.cacheIdentity?.(), info.size, length);
  let region;
  try {
    // THREAD_ID: which thread faulted, so a chunk installed for a thread is
    // kept until that thread has read it (residency.ts).
    const features = UffdFeature.POISON | UffdFeature.THREAD_ID;
    if (file) {
      try {
        region = native.createRegion(info.size, msg.userModeOnly, features | UffdFeature.MISSING_SHMEM, file.fd);
      } catch (err) {
        native.shmClose(file.fd, file.path);
        file = null;
        backing = { shared: false, note: `no shared memory (${(err as Error).message})` };
      }
    }
    region ??= native.createRegion(info.size, msg.userModeOnly, features);
  } catch (err) {
    disk?.close();
    await Promise.resolve(source.close()).catch(() => {});
    throw regionError(err, info.size, msg.serve.label);
  }
  // One byte per chunk, allocated only once the region exists: for an object
  // past the address space it would be gigabytes of committed memory that
  // outlive the refusal until a GC, enough to make the next fork fail.
  const residency = new SharedArrayBuffer(Math.ceil(info.size / msg.serve.chunkSize));
  const id = region.id;
  const prefetched = msg.serve.diskCache ? undefined : source.takePrefetched?.();
  const server = new RegionServer({
    region,
    size: info.size,
    source: prefetched ? new PrefetchedSource(source, prefetched) : source,
    serve: msg.serve,
    pool,
    stats,
    residency,
    onError: (err, offset, length) => send({ type: 'fault-error', id, error: serializeError(err), offset, length }),
    disk,
    shared: file,
  });
  servers.set(id, server);
  server.start();
  return {
    info,
    region: { id, mode: region.mode, features: region.features, length: region.length },
    stats,
    residency,
    backing,
  };
}

/** How much of the object's start the open fetches with the pin (the S3
 *  source's first GET): the first chunk, which the first fault there then
 *  installs. With a disk cache that chunk is likely on disk already, and a
 *  warm process should take nothing from S3 it has: one byte, not kept. */
function firstBytes(msg: MapRequest): number {
  return msg.serve.diskCache ? 1 : msg.serve.chunkSize;
}

/** The disk cache's view of the object, when one was asked for and the
 *  source can name its bytes. The cache is optional: a filesystem with no
 *  room (ENOSPC, EDQUOT) never fails the mapping. The least recently used
 *  entries are deleted and the object's files tried again; if there is still
 *  no room the mapping runs without the cache and stats().diskCacheBypassed
 *  says so. A directory that cannot be used at all (read-only, another
 *  user's) is refused with one line. */
async function openDiskCache(msg: MapRequest, source: Source, size: number, stats: SharedArrayBuffer): Promise<ObjectCache | null> {
  const options = msg.serve.diskCache;
  const identity = options ? source.cacheIdentity?.() : undefined;
  if (!options || !identity) return null;
  const refuse = (err: unknown) => {
    const code = (err as { code?: string }).code ?? 'EIO';
    return new S3MmapError(code, `s3mmap: cannot use the cache directory ${options.dir} for ${msg.serve.label} (${code}: ${(err as Error).message.replace(/^s3mmap: /, '')}); check its permissions, or map without cacheDir`, { cause: err });
  };
  const bypass = () => {
    new StatsWriter(stats).set(Counter.diskCacheBypassed, 1);
    return null;
  };
  let store: DiskCacheStore;
  let cap: number;
  try {
    store = DiskCacheStore.open(options.dir);
    cap = store.capFor(options.maxBytes);
  } catch (err) {
    if (noRoom(err)) return bypass();
    throw refuse(err);
  }
  // Not one entry fits, and the cache holds next to nothing to delete: other files filled the disk.
  if (cap < CACHE_BLOCK + ENTRY_HEADER) return bypass();
  store.opened(cap);
  for (let attempt = 0; ; attempt++) {
    try {
      return new ObjectCache(store, identity, size, cap);
    } catch (err) {
      if (!noRoom(err)) throw refuse(err);
      if (attempt > 0) return bypass();
      await store.makeRoom(cap);
    }
  }
}

function noRoom(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** createRegion's errno error, said for the caller: what could not be mapped and what to do. */
function regionError(err: unknown, size: number, label: string): unknown {
  const e = err as { code?: string; syscall?: string; message?: string };
  if (e.syscall === 'mmap' && e.code === 'ENOMEM') {
    return new S3MmapError(
      'ENOMEM',
      `s3mmap: cannot reserve ${formatBytes(size)} of address space for ${label} (mmap: ENOMEM); the process address-space limit (ulimit -v) or vm.max_map_count leaves no room: raise it, close other mappings, or map a smaller object`,
      { cause: err },
    );
  }
  if (typeof e.code === 'string' && typeof e.syscall === 'string') {
    return new S3MmapError(e.code, `s3mmap: cannot map ${label}: ${e.message}`, { cause: err });
  }
  return err;
}

async function handle(msg: ToWorker): Promise<unknown> {
  if (msg.type === 'map') return map(msg);
  const server = servers.get(msg.id);
  switch (msg.type) {
    case 'drain':
      return server?.drain();
    case 'close':
      retire(msg.id);
      return undefined;
    case 'load':
    case 'prefetch':
    case 'evict':
      if (!server) throw Object.assign(new Error('s3mmap: the mapping is closed'), { code: 'ERR_CLOSED' });
      if (msg.type === 'load') return server.load(msg.offset, msg.length);
      if (msg.type === 'prefetch') return server.prefetch(msg.offset, msg.length);
      return server.evict(msg.offset, msg.length);
    case 'advise':
      server?.setReadahead(msg.mode);
      return undefined;
  }
}

port.on('message', (msg: ToWorker) => {
  handle(msg).then(
    (value) => send({ type: 'reply', req: msg.req, ok: true, value }),
    (err) => send({ type: 'reply', req: msg.req, ok: false, error: serializeError(err) }),
  );
});
