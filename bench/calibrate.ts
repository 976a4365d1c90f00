// What the proxy adds per request, measured once per run after seeding, for
// the report: on loopback, p50 of 64 KiB GETs straight to MinIO and through
// the counting proxy; on each emulated network, a 64 KiB GET's p50 and one
// 8 MiB GET against what the profile says they must take (a check of the
// emulation in every run). Orchestrator process, main thread: the proxy it
// measures runs on the proxy thread, so awaiting here is safe.
import { median } from './format.js';
import { describeProfile, PROFILES, type NetworkName } from '../lib/dev/s3-harness/network.js';
import { BUCKET, CALIBRATION_KEY, CALIBRATION_SIZE, WARMUP_KEY } from './seed.js';
import { getRange, peerClient } from './systems/sdk.js';
import type { S3Target } from './systems/types.js';

export interface ProxyCost {
  direct: number;
  proxied: number;
}

export interface ProfileCheck {
  network: NetworkName;
  /** p50 of 64 KiB GETs through the proxy, and the profile's median first byte plus 64 KiB at its bandwidth. */
  smallP50Ms: number;
  smallProfileMs: number;
  /** One 8 MiB GET, and the profile's first byte plus 8 MiB at its bandwidth. */
  largeMs: number;
  largeProfileMs: number;
}

const SMALL = 64 * 1024;

async function timeGets(t: S3Target, length: number, n: number, skip = 0): Promise<number[]> {
  const client = peerClient(t, 1);
  const buf = new Uint8Array(length);
  const times: number[] = [];
  try {
    for (let i = 0; i < n + skip; i++) {
      const t0 = performance.now();
      await getRange(client, t, buf, 0, 0, length);
      if (i >= skip) times.push(performance.now() - t0);
    }
  } finally {
    client.destroy();
  }
  return times;
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
  const buf = new Uint8Array(SMALL);
  for (let i = 0; i < 45; i++) {
    for (const k of ['direct', 'proxied'] as const) {
      const t0 = performance.now();
      await getRange(clients[k].client, clients[k].t, buf, 0, 0, buf.length);
      if (i >= 5) times[k].push(performance.now() - t0);
    }
  }
  for (const c of Object.values(clients)) c.client.destroy();
  return { direct: median(times.direct), proxied: median(times.proxied) };
}

/** Checks an emulated profile through the proxy, then leaves the proxy on loopback. */
export async function checkProfile(
  network: NetworkName, setNetwork: (n: NetworkName, seed: number) => Promise<void>,
  proxied: string, region: string, credentials: S3Target['credentials'],
): Promise<ProfileCheck> {
  const p = PROFILES[network];
  const t = { endpoint: proxied, region, bucket: BUCKET, credentials };
  await setNetwork(network, 1);
  try {
    const small = await timeGets({ ...t, key: WARMUP_KEY }, SMALL, 25, 3);
    const [large] = await timeGets({ ...t, key: CALIBRATION_KEY }, CALIBRATION_SIZE, 1, 1);
    const paced = (n: number) => (p.bandwidthBps ? (n / p.bandwidthBps) * 1000 : 0);
    return {
      network, smallP50Ms: median(small), smallProfileMs: p.firstByteMedianMs + paced(SMALL),
      largeMs: large, largeProfileMs: p.firstByteMedianMs + paced(CALIBRATION_SIZE),
    };
  } finally {
    await setNetwork('loopback', 1);
  }
}

/** The report's lines on the profiles used: parameters, sources, and this run's check. */
export function profileNotes(networks: NetworkName[], checks: ProfileCheck[]): string[] {
  return networks.map((n) => {
    const p = PROFILES[n];
    const c = checks.find((x) => x.network === n);
    const check = c
      ? ` Checked in this run through the proxy: a 64 KiB GET took ${c.smallP50Ms.toFixed(1)} ms (p50 of 25; the profile's median first byte plus 64 KiB at its bandwidth is ${c.smallProfileMs.toFixed(1)} ms), an 8 MiB GET ${c.largeMs.toFixed(0)} ms (profile: ${c.largeProfileMs.toFixed(0)} ms).`
      : '';
    return `**${n}**: ${describeProfile(p)}. Source: ${p.source}.${check}`;
  });
}
