// Which module implements a system id, loaded on demand (each cell process and
// reader thread loads only the one it measures). Any bench process, any thread.
import type { SystemModule } from './types.js';

const MODULES: Array<[RegExp, string]> = [
  [/^s3mmap/, './s3mmap.js'],
  [/^get-object$/, './get-object.js'],
  [/^parallel(-\d+)?$/, './parallel.js'],
  [/^ranged$/, './ranged.js'],
  [/^(s3fs|rclone|goofys|geesefs|mountpoint)$/, './fuse-file.js'],
  [/^memory$/, './memory.js'],
];

export async function loadSystem(system: string): Promise<SystemModule> {
  const entry = MODULES.find(([re]) => re.test(system));
  if (!entry) throw new Error(`unknown system ${system}`);
  return (await import(entry[1])) as SystemModule;
}
