// Waits until a mapping has no fetch in flight (seen twice, 20 ms apart): a
// fill or readahead install landing between two reads of the stats would
// count in one and not the other. Integration test files (vitest forks).

export async function idle(m: { stats(): { inflight: number } }): Promise<void> {
  for (let quiet = 0; quiet < 2; await new Promise((r) => setTimeout(r, 20))) quiet = m.stats().inflight === 0 ? quiet + 1 : 0;
}
