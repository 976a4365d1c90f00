// docs/benchmark.md shows the latest full run exactly as the benchmark writes
// it (bench/publish.ts, from bench/results/latest.md): the page and the
// results never tell two stories, and a change to how the page is written
// shows here. Vitest 'unit' project, test-file thread.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BENCH_PAGE, benchSection, markedSection } from '../../bench/publish.js';
import { root } from '../helpers/doc-pages.js';

describe('the benchmark page', () => {
  it(`${BENCH_PAGE} holds, between its markers, what the latest run's report gives`, () => {
    const page = readFileSync(new URL(BENCH_PAGE, root), 'utf8');
    const md = readFileSync(new URL('bench/results/latest.md', root), 'utf8');
    const section = markedSection(page);
    expect(section).toBeDefined();
    expect(section).toBe(`\n${benchSection(md, '../bench/results')}\n`);
    // One level under the page's "## The latest full run"; the charts linked from docs/.
    expect(section).toMatch(/^### s3mmap against the best peer and the ceiling$/m);
    expect(section).toContain('](../bench/results/latest.svg)');
  });
});
