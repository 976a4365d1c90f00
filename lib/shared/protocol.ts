// Messages between the caller's thread (lib/api/worker-client.ts) and the
// fault worker (lib/worker/main.ts). Everything here must survive structured clone.
import type { SerializedError } from './errors.js';
import type { UffdOpenMode } from './native.js';
import type { ServeOptions } from '../worker/region-server.js';
import type { SourceInfo, SourceSpec } from '../sources/source.js';

export interface MapRequest {
  type: 'map';
  spec: SourceSpec;
  serve: ServeOptions;
  userModeOnly: boolean;
}

export interface MapReply {
  info: SourceInfo;
  /** null for an empty object: nothing to map. */
  region: { id: bigint; mode: UffdOpenMode; features: number; length: number } | null;
  stats: SharedArrayBuffer;
  /** One byte per chunk, 1 while installed. */
  residency: SharedArrayBuffer;
}

export type RangeOp = 'load' | 'prefetch' | 'evict';

export type WorkerRequest =
  | MapRequest
  | { type: RangeOp; id: bigint; offset: number; length: number }
  | { type: 'advise'; id: bigint; mode: 'sequential' | 'random' | 'normal' }
  | { type: 'drain'; id: bigint }
  | { type: 'close'; id: bigint };

export type ToWorker = WorkerRequest & { req: number };

export type FromWorker =
  | { type: 'reply'; req: number; ok: true; value?: unknown }
  | { type: 'reply'; req: number; ok: false; error: SerializedError }
  | { type: 'fault-error'; id: bigint; error: SerializedError; offset: number; length: number };
