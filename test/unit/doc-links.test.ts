// Every relative link and anchor in README.md and docs/*.md resolves: the
// file exists, and a #fragment names a heading of that page (GitHub's
// anchors: lower case, punctuation dropped, spaces to hyphens, -1, -2 for
// repeats). Links inside code blocks and code spans are not links. Vitest
// 'unit' project, test-file thread.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { docPages, root } from '../helpers/doc-pages.js';

const rootDir = fileURLToPath(root);

/** Markdown outside fenced code blocks. */
function outsideFences(md: string): string {
  let fenced = false;
  return md
    .split('\n')
    .filter((line) => {
      if (/^\s*```/.test(line)) {
        fenced = !fenced;
        return false;
      }
      return !fenced;
    })
    .join('\n');
}

/** Markdown outside fenced code blocks, code spans removed: where links are links. */
function prose(md: string): string {
  return outsideFences(md).replace(/`[^`\n]*`/g, '');
}

function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/ /g, '-');
}

function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of outsideFences(md).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = slug(m[1].replace(/`/g, ''));
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

const pages = docPages();

describe('links in README.md and docs/*.md', () => {
  it('the slugs are GitHub\'s', () => {
    expect(slug('Node.js versions')).toBe('nodejs-versions');
    expect(slug('Try it without S3: s3mmap demo')).toBe('try-it-without-s3-s3mmap-demo');
    expect(slug('Mapping fails: bad input')).toBe('mapping-fails-bad-input');
    expect([...anchors('# A\n## B\n## B\n```\n# not a heading\n```\n')]).toEqual(['a', 'b', 'b-1']);
  });

  it('README.md and the docs pages are all there', () => {
    expect(pages.map((p) => p.path)).toEqual(expect.arrayContaining(['README.md', 'docs/api.md', 'docs/cli.md', 'docs/disk-cache.md', 'docs/failures.md', 'docs/benchmark.md']));
  });

  for (const page of pages) {
    it(`${page.path}: every relative link names a file that exists, and every #anchor a heading there`, () => {
      const links = [...prose(page.text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]);
      const broken: string[] = [];
      let checked = 0;
      for (const link of links) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:
        checked++;
        const [path, fragment] = link.split('#', 2);
        const target = path === '' ? join(rootDir, page.path) : normalize(join(rootDir, dirname(page.path), decodeURI(path)));
        if (!target.startsWith(rootDir) || !existsSync(target)) {
          broken.push(`${link}: no such file`);
          continue;
        }
        if (fragment === undefined) continue;
        if (!statSync(target).isFile() || !target.endsWith('.md')) {
          broken.push(`${link}: an anchor into a file that is not a page`);
          continue;
        }
        if (!anchors(readFileSync(target, 'utf8')).has(fragment)) broken.push(`${link}: no heading '${fragment}'`);
      }
      expect(broken).toEqual([]);
      if (page.path === 'README.md') expect(checked).toBeGreaterThan(5);
    });
  }
});
