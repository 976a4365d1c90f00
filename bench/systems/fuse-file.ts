// Peers 5, 6 and 8 (s3fs, rclone mount, goofys/geesefs): the orchestrator has
// mounted the bucket; here the object is a file read with fs.readSync at the
// workload's offsets into one reused buffer. Cell process, main thread.
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import type { CellSpec, OpenSystem } from './types.js';

/** Reads the warm-up object through the mount: the daemon's code paths are paged in. */
export async function warmup(spec: CellSpec): Promise<void> {
  if (spec.warmupPath) readFileSync(spec.warmupPath);
}

export const open: OpenSystem = async (spec) => {
  if (!spec.path) throw new Error('fuse-file: no path to read');
  const fd = openSync(spec.path, 'r');
  const size = fstatSync(fd).size;
  let scratch = new Uint8Array(1024 * 1024);
  return {
    reader: {
      size,
      read: (offset, length) => {
        if (scratch.length < length) scratch = new Uint8Array(length);
        let n = 0;
        while (n < length) {
          const got = readSync(fd, scratch, n, length - n, offset + n);
          if (got === 0) throw new Error(`${spec.path}: end of file at ${offset + n}, expected ${length - n} more bytes`);
          n += got;
        }
        return scratch.subarray(0, length);
      },
    },
    close: async () => closeSync(fd),
  };
};
