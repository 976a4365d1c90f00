// One S3 connection (client, agents and their keep-alive sockets, the
// credentials' refresher) per client configuration, lent to every S3 source
// of this thread that asks with the same options: the fault worker's
// mappings of one endpoint share sockets, as a FUSE daemon's files do. A
// mapping opened after another of the same endpoint finds warm sockets (no
// TCP or TLS handshake) and a client whose first request is behind it: on
// loopback a fresh client's open GET left about 2.3 ms after connecting,
// most of it the SDK's first request. Runs on the thread of its caller (the
// fault worker).
import { createHash } from 'node:crypto';
import { connectS3, type S3Connection, type S3Tuning } from './client.js';
import type { S3ClientOptions } from './options.js';
import { POLICY } from '../shared/defaults.js';

interface Shared {
  conn: S3Connection;
  users: number;
  /** A source opened with it: worth keeping a while once unused. */
  proven: boolean;
  /** Set while nobody uses it: it closes when this fires. */
  linger?: NodeJS.Timeout;
}

const shared = new Map<string, Shared>();

/** A connection for these options: the live one, or a new one. Its
 *  close() returns it; the last return closes it after
 *  POLICY.connectionLingerMs, unless a source takes it back before. A
 *  connection whose source never opened (`close()` after a failed open,
 *  with nobody else on it) closes at once: a refused map leaves no socket. */
export async function lendConnection(options: S3ClientOptions, tuning: Omit<S3Tuning, 'concurrency'>, signal?: AbortSignal): Promise<S3Connection & { opened(): void }> {
  const key = keyOf(options, tuning);
  const live = shared.get(key);
  if (live) return lend(key, live);
  // Sockets without a cap: each mapping caps its own GETs (its scheduler
  // keeps a connection for its faults), and one mapping's fill must not
  // queue another's fault behind it in a shared agent.
  const conn = await connectS3(options, { ...tuning, concurrency: Infinity }, signal);
  // Another source connected meanwhile: this one is its own, never shared.
  if (shared.has(key)) return { ...conn, opened: () => {} };
  const entry: Shared = { conn, users: 0, proven: false };
  shared.set(key, entry);
  return lend(key, entry);
}

function lend(key: string, entry: Shared): S3Connection & { opened(): void } {
  entry.users++;
  if (entry.linger) clearTimeout(entry.linger);
  entry.linger = undefined;
  let returned = false;
  return {
    ...entry.conn,
    opened: () => {
      entry.proven = true;
    },
    close: () => {
      if (returned) return;
      returned = true;
      if (--entry.users > 0) return;
      if (!entry.proven) return end(key, entry);
      entry.linger = setTimeout(() => end(key, entry), POLICY.connectionLingerMs);
      entry.linger.unref();
    },
  };
}

function end(key: string, entry: Shared): void {
  if (entry.users > 0) return;
  if (shared.get(key) === entry) shared.delete(key);
  entry.conn.close();
}

/** Options and tuning that make a client differ; hashed, so no credential sits in a map key. */
function keyOf(options: S3ClientOptions, tuning: Omit<S3Tuning, 'concurrency'>): string {
  const json = JSON.stringify([options, tuning], (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : 1))) : v);
  return createHash('sha256').update(json).digest('hex');
}
