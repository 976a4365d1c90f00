// Keeps the README's "Where this is tested" section exact: every file it
// names exists, and every test name it quotes (the words in double quotes
// after a file) is found in that file. Vitest 'unit' project, test-file thread.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');
const start = readme.indexOf('### Where this is tested');
const next = readme.indexOf('\n## ', start);
const section = readme.slice(start, next < 0 ? undefined : next).replace(/\s+/g, ' ');

describe("the README's \"Where this is tested\"", () => {
  it('names only files that exist, and tests that exist in the file named before them', () => {
    expect(start).toBeGreaterThan(0);
    const cited: [string, string][] = [];
    let file: string | undefined;
    for (const m of section.matchAll(/`(test\/[\w./-]+\.(?:ts|mjs))`|"([^"]+)"/g)) {
      if (m[1]) {
        file = m[1];
        expect(existsSync(new URL(file, root)), file).toBe(true);
      } else {
        expect(file, `"${m[2]}" comes before any file`).toBeDefined();
        cited.push([file!, m[2]]);
      }
    }
    expect(cited.length).toBeGreaterThan(40);
    const missing = cited.filter(([f, name]) => !readFileSync(new URL(f, root), 'utf8').replace(/\s+/g, ' ').includes(name));
    expect(missing).toEqual([]);
  });
});
