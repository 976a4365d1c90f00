// The defaults table (lib/shared/defaults.ts) against the pins in
// test/helpers/pins.ts, value for value, and against the figures the README
// and the docs/ pages state for them (the options table in docs/api.md, the
// retry policy in docs/failures.md; wherever a page says them): a default changed by accident fails here, one changed on
// purpose is updated in the pins and the README together. Vitest 'unit'
// project, test-file thread.
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../lib/shared/defaults.js';
import { formatBytes } from '../../lib/shared/sizes.js';
import { allPagesText } from '../helpers/doc-pages.js';
import { PINNED } from '../helpers/pins.js';

// The test names say README: the pages it grew into are read with it.
const readme = allPagesText();

describe('defaults', () => {
  it('the table holds exactly the pinned values', () => {
    expect(DEFAULTS).toEqual(PINNED.defaults);
  });

  it("the README's options table states the same sizes and counts", () => {
    const row = (option: string) => new RegExp(`\\| \`${option}\` \\| ([^|]+) \\|`).exec(readme)?.[1].trim();
    const human = (n: number) => formatBytes(n).replace(/\.0+ /, ' ');
    expect(row('chunkSize')).toBe(human(DEFAULTS.chunkSize));
    expect(row('fetchSize')).toBe(human(DEFAULTS.fetchSize));
    expect(row('readahead')).toBe(human(DEFAULTS.readahead));
    expect(row('cacheSize')).toBe(human(DEFAULTS.cacheSize));
    expect(row('concurrency')).toBe(String(DEFAULTS.concurrency));
    expect(row('residentBudget')).toBe('0 (no cap)');
    expect(readme).toContain(`(the window is what the stream has read so far, ${PINNED.readahead.initialWindow} chunks at least, fetched in ${PINNED.readahead.piecesPerWindow} GETs)`);
  });

  it("the README's retry paragraph states the same policy", () => {
    const r = DEFAULTS.retry;
    const s = (ms: number) => `${ms / 1000} s`;
    expect(readme).toContain(`from \`retry.baseDelayMs\` (${r.baseDelayMs} ms, capped at \`retry.maxDelayMs\`, ${s(r.maxDelayMs)}), for at most \`retry.attempts\` (${r.attempts}) attempts and \`retry.deadlineMs\` (${s(r.deadlineMs)}) per read`);
    expect(readme).toContain(`within \`retry.requestTimeoutMs\` (${s(r.requestTimeoutMs)})`);
    expect(readme).toContain(`took longer than ${s(r.openTimeoutMs)} (ETIMEDOUT)`);
    expect(readme).toContain(`after a ${PINNED.exitGraceMs / 1000} s grace`);
  });
});
