// What a failed map could leave behind in this process: mapped regions, open
// userfaultfds, sockets, other fds. Read from /proc/self and from the addon's
// own count. Runs in the test-file process, any thread.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { native } from '../../dist/lib/shared/native.js';

export interface ProcessResources {
  /** Regions the addon holds mapped. */
  regions: number;
  /** fds that are userfaultfds. */
  uffds: number;
  sockets: number;
  fds: number;
  /** Anonymous read-only private mappings (what a region looks like in /proc/self/maps). */
  readOnlyAnon: number;
}

export function resources(): ProcessResources {
  let uffds = 0;
  let sockets = 0;
  let fds = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let link: string;
    try {
      link = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the fd of the directory listing itself, closed already
    }
    fds++;
    if (link === 'anon_inode:[userfaultfd]') uffds++;
    else if (link.startsWith('socket:')) sockets++;
  }
  const readOnlyAnon = readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => /^\S+ r--p 00000000 00:00 0\s*$/.test(l)).length;
  return { regions: native.liveRegions(), uffds, sockets, fds, readOnlyAnon };
}

/** Waits (up to `ms`) for sockets closed asynchronously to go, then reads again. */
export async function settledResources(before: ProcessResources, ms = 3000): Promise<ProcessResources> {
  const until = Date.now() + ms;
  let now = resources();
  while (Date.now() < until && (now.sockets > before.sockets || now.fds > before.fds)) {
    await new Promise((r) => setTimeout(r, 50));
    now = resources();
  }
  return now;
}
