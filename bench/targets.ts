// The targets s3mmap is held to (issue 11), computed from the run's rows so
// that regenerating the report restates them: each met, or its gap as a
// ratio, or not measured in this run and why. Pure functions; orchestrator
// process, main thread.
import { DEFAULTS } from '../lib/shared/defaults.js';
import { systemDef } from './catalog.js';
import { fmtMs, fmtRatio } from './format.js';
import { PROFILES, type NetworkName } from './network.js';
import { groupKey } from './plan.js';
import type { Row } from './report.js';

export interface TargetResult {
  target: string;
  wanted: string;
  measured: string;
  /** undefined: not measured in this run. */
  met?: boolean;
  status: string;
}

const DOWNLOADS = ['parallel', 'parallel-16', 'parallel-32'];
const MOUNTS = ['s3fs', 'rclone', 'mountpoint'];

type Find = (base: string, system: string) => Row | undefined;

/** `x` must be at least (or at most) `bound`; the gap is how much faster s3mmap must get. */
function judge(target: string, wanted: string, x: number | undefined, bound: number, atLeast: boolean, show: (x: number) => string, missing: string): TargetResult {
  if (x === undefined || !Number.isFinite(x)) return { target, wanted, measured: '—', status: `not measured in this run (${missing})` };
  const met = atLeast ? x >= bound : x <= bound;
  const gap = atLeast ? bound / x : x / bound;
  // Near misses in percent: a ratio rounded to 1.0× would hide them.
  const short = gap < 2 ? `${Math.max(1, Math.round((gap - 1) * 100))}%` : fmtRatio(gap);
  return { target, wanted, measured: show(x), met, status: met ? 'met' : `gap: ${short} short of it` };
}

const time = (r?: Row) => r?.wallMs?.median;

export function computeTargets(rows: Row[], unavailable: Map<string, string>, network: NetworkName = 's3-standard'): TargetResult[] {
  const at = (net: NetworkName): Find => (base, system) => rows.find((r) => r.group === groupKey(base, net) && r.system === system && r.status === 'ok');
  const find = at(network);
  const on = ` on ${network}`;
  const out: TargetResult[] = [];
  const self = (base: string) => find(base, 's3mmap');
  const whyNot = (id: string) => unavailable.get(id)?.split('\n')[0] ?? `no ${systemDef(id)?.label ?? id} cell`;
  const x = (n: number) => `${n.toFixed(2)}×`;

  // Cold sequential: the best download of the three lane counts.
  const best = DOWNLOADS.map((id) => find('sequential', id)).filter((r): r is Row => !!r).sort((a, b) => time(a)! - time(b)!)[0];
  const seq = self('sequential');
  out.push(judge(`cold sequential scan${on}: s3mmap's rate against the best parallel ranged download${best ? ` (${best.label})` : ''}`, '≥ 0.95×',
    seq && best ? time(best)! / time(seq)! : undefined, 0.95, true, x, 'sequential cells of s3mmap and the parallel downloads'));
  for (const id of MOUNTS) {
    out.push(judge(`cold sequential scan${on}: ahead of ${systemDef(id)!.label}`, '> 1×',
      seq && find('sequential', id) ? time(find('sequential', id))! / time(seq)! : undefined, 1, true, x, whyNot(id)));
  }
  // Sparse random: total time, and the median fault against the bare GET's median.
  const ranged = (base: string) => find(base, 'ranged');
  const rnd = self('random');
  out.push(judge(`sparse random (1,000 dependent 4 KiB reads)${on}: total time against the same reads as bare ranged GETs`, '≤ 1.1×',
    rnd && ranged('random') ? time(rnd)! / time(ranged('random'))! : undefined, 1.1, false, x, 'random cells of s3mmap and ranged'));
  const fault = rnd?.faultP50Us;
  const bare = ranged('random')?.readP50Us;
  out.push(judge(`sparse random${on}: median fault latency against the bare GET's median + 1 ms`,
    bare !== undefined ? `≤ ${fmtMs(bare / 1000 + 1)}` : '≤ bare GET p50 + 1 ms',
    fault !== undefined && bare !== undefined ? fault / 1000 : undefined, bare !== undefined ? bare / 1000 + 1 : 0, false, fmtMs, 'fault and GET latencies of the random cells'));
  // From 4 threads: the same 1,000 reads, so the rate ratio is the time ratio.
  const r4 = self('random4');
  out.push(judge(`random reads from 4 threads${on}: aggregate rate against single-thread random`, '≥ 3.5×',
    r4 && rnd ? time(rnd)! / time(r4)! : undefined, 3.5, true, x, 'random and random4 cells of s3mmap'));
  // Parquet: time against the ranged-GET reader, bytes against the column chunk.
  const pq = self('parquet');
  out.push(judge(`Parquet, one column${on}: time against the ranged-GET reader`, '≤ 1.0×',
    pq && ranged('parquet') ? time(pq)! / time(ranged('parquet'))! : undefined, 1, false, x, 'parquet cells of s3mmap and ranged'));
  out.push(judge(`Parquet, one column${on}: bytes fetched against the column chunk's bytes`, '≤ 1.1×',
    pq?.bytesFetched !== undefined && pq.bytesRead ? pq.bytesFetched / pq.bytesRead : undefined, 1.1, false, x, 'parquet cell of s3mmap'));
  const st = self('strided');
  out.push(judge(`strided (one 64 KiB read every 16 MiB)${on}: time against a ranged GET per read`, '≤ 1.0×',
    st && ranged('strided') ? time(st)! / time(ranged('strided'))! : undefined, 1, false, x, 'strided cells of s3mmap and ranged'));
  // mapObject() to the first byte read: one GET (the open's, which brings the
  // first chunk): one first byte, the chunk's transfer, plus 3 ms.
  const profile = PROFILES[network];
  const transferMs = profile.bandwidthBps ? (DEFAULTS.chunkSize / profile.bandwidthBps) * 1000 : 0;
  const limit = profile.firstByteMedianMs + transferMs + 3;
  const maps = rows.filter((r) => r.system === 's3mmap' && r.status === 'ok' && r.firstByteMs !== undefined && r.group.startsWith('map ') && r.group.endsWith(` @ ${network}`));
  if (!maps.length) out.push(judge(`mapObject() to first byte${on}`, `≤ ${fmtMs(limit)}`, undefined, limit, false, fmtMs, 'map cells of s3mmap'));
  for (const m of maps) {
    const r = judge(`mapObject() to first byte${on}, ${m.group.replace(/^map /, '').replace(/ @ .*$/, '')} object`, `≤ 1 first byte + a chunk's transfer + 3 ms = ${fmtMs(limit)}`, m.firstByteMs, limit, false, fmtMs, '');
    // What a bare HEAD and GET took on the same emulated network, for scale.
    const bare = rows.find((x) => x.group === m.group && x.system === 'ranged' && x.status === 'ok')?.firstByteMs;
    if (bare !== undefined) r.measured += ` (bare HEAD + GET: ${fmtMs(bare)})`;
    out.push(r);
  }
  // Loopback: nothing but the fault path between s3mmap and a bare GET.
  const lb = at('loopback');
  for (const [base, what] of [['random', 'sparse random'], ['strided', 'strided']] as const) {
    const mine = lb(base, 's3mmap');
    const theirs = lb(base, 'ranged');
    out.push(judge(`${what} on loopback: s3mmap's speed against the bare ranged-GET reader`, '≥ 0.95×',
      mine && theirs ? time(theirs)! / time(mine)! : undefined, 0.95, true, x, `${base} cells of s3mmap and ranged on loopback`));
  }
  return out;
}

export function targetsSection(results: TargetResult[], network: NetworkName = 's3-standard'): string {
  const met = results.filter((r) => r.met === true).length;
  const measured = results.filter((r) => r.met !== undefined).length;
  const lines = [
    `## Targets (${network} unless said otherwise)`, '',
    `${met} of ${measured} measured targets met${measured < results.length ? `; ${results.length - measured} not measured in this run` : ''}. ` +
      'Ratios are medians against medians; "N% short" (or "N× short") is how much s3mmap must improve that ratio to meet it.', '',
    '| target | wanted | measured | status |', '|---|---|---|---|',
    ...results.map((r) => `| ${r.target} | ${r.wanted} | ${r.measured} | ${r.met === true ? '**met**' : r.status.replace(/\|/g, '/')} |`),
  ];
  return lines.join('\n');
}
