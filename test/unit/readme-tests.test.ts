// Keeps "Where this is tested" (docs/testing.md) exact: every file it names
// exists, and every test name it quotes (the words in double quotes after a
// file) is found in that file; and every test file that README.md or any
// docs/*.md page names exists. Vitest 'unit' project, test-file thread.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { docPages, root } from '../helpers/doc-pages.js';

const pages = docPages();
const home = pages.find((p) => /^#{1,3} Where this is tested$/m.test(p.text));
const text = home?.text ?? '';
const start = text.search(/^#{1,3} Where this is tested$/m);
const next = text.slice(start + 1).search(/^#{1,2} /m);
const section = text.slice(start, next < 0 ? undefined : start + 1 + next).replace(/\s+/g, ' ');

describe('"Where this is tested"', () => {
  it('is a page of docs/, linked from the README', () => {
    expect(home?.path).toBe('docs/testing.md');
    expect(pages.find((p) => p.path === 'README.md')!.text).toContain('(docs/testing.md)');
  });

  it('names only files that exist, and tests that exist in the file named before them', () => {
    expect(start).toBeGreaterThanOrEqual(0);
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

describe('test files named by any page', () => {
  for (const page of pages) {
    it(`${page.path}: every test/… file it names exists`, () => {
      const named = [...page.text.matchAll(/`(test\/[\w./-]+\.(?:ts|mjs))`/g)].map((m) => m[1]);
      expect(named.filter((f) => !existsSync(new URL(f, root)))).toEqual([]);
    });
  }
});
