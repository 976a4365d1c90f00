// The user-facing pages: README.md and every docs/*.md, read from the
// checkout. Used by the unit tests that keep the pages true (links, the tests
// they cite, the defaults they state). Test-file thread.
import { readdirSync, readFileSync } from 'node:fs';

export const root = new URL('../../', import.meta.url);

export interface Page {
  /** Path from the project root, e.g. 'docs/api.md'. */
  path: string;
  text: string;
}

export function docPages(): Page[] {
  const docs = readdirSync(new URL('docs/', root)).filter((n) => n.endsWith('.md')).sort().map((n) => `docs/${n}`);
  return ['README.md', ...docs].map((path) => ({ path, text: readFileSync(new URL(path, root), 'utf8') }));
}

/** Every page's text, whitespace folded to single spaces: for checks that do not care which page says it. */
export function allPagesText(): string {
  return docPages().map((p) => p.text).join('\n').replace(/\s+/g, ' ');
}
