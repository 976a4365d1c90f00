// What the counting proxy costs per request: p50 of 64 KiB GETs of the warm-up
// object straight to MinIO and through the proxy, measured once per run after
// seeding, for the report's notes. Orchestrator process, main thread: the
// proxy it measures runs on the proxy thread, so awaiting here is safe.
import { BUCKET, WARMUP_KEY } from './seed.js';
import { getRange, peerClient } from './systems/sdk.js';
import type { S3Target } from './systems/types.js';

export interface ProxyCost {
  direct: number;
  proxied: number;
}

/** Interleaved, after a few to warm both paths. */
export async function calibrateProxy(
  direct: string, proxied: string, region: string, credentials: S3Target['credentials'],
): Promise<ProxyCost> {
  const times: Record<keyof ProxyCost, number[]> = { direct: [], proxied: [] };
  const targets = { direct, proxied };
  const clients = Object.fromEntries(Object.entries(targets).map(([k, endpoint]) => {
    const t = { endpoint, region, bucket: BUCKET, key: WARMUP_KEY, credentials };
    return [k, { t, client: peerClient(t, 1) }];
  })) as Record<keyof ProxyCost, { t: S3Target; client: ReturnType<typeof peerClient> }>;
  const buf = new Uint8Array(64 * 1024);
  for (let i = 0; i < 45; i++) {
    for (const k of ['direct', 'proxied'] as const) {
      const t0 = performance.now();
      await getRange(clients[k].client, clients[k].t, buf, 0, 0, buf.length);
      if (i >= 5) times[k].push(performance.now() - t0);
    }
  }
  for (const c of Object.values(clients)) c.client.destroy();
  const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  return { direct: p50(times.direct), proxied: p50(times.proxied) };
}
