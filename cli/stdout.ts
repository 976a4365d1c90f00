// Writing bytes to stdout the way a Unix filter must: all of them, through
// partial writes and a non-blocking pipe (EAGAIN), and stopping quietly when
// the reader has gone (EPIPE: `s3mmap cat ... | head -c 10`). Main thread.
//
// Why not process.stdout.write alone: the bytes are mapped memory, and a
// stream may hold on to them after write() returns, while cat evicts pages
// behind itself. Why not writeSync alone: Node puts a stdout pipe in
// non-blocking mode as soon as anything touches process.stdout (the fault
// worker's stdio forwarding does), and writeSync then fails with EAGAIN
// whenever the pipe is full; sleeping and retrying would throttle the copy.
// So: writeSync while the pipe takes bytes, and on EAGAIN hand the rest of
// the piece to process.stdout, whose event loop waits for the pipe to drain,
// and await it before going on. Neither path uses the libuv threadpool,
// which a page fault must never occupy (DESIGN.md rule 3).
import { writeSync } from 'node:fs';
import { S3MmapError } from '../lib/shared/errors.js';

// Bytes per write(2): keeps a pipe full without holding the main thread for
// long between progress updates.
const MAX_WRITE = 1024 * 1024;

/** Writes all of `buf` to stdout. Resolves false when the reader closed the pipe. */
export async function writeAll(buf: Uint8Array): Promise<boolean> {
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(1, buf, off, Math.min(buf.length - off, MAX_WRITE));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') return false;
      if (code !== 'EAGAIN') throw writeError(e);
      const end = Math.min(buf.length, off + MAX_WRITE);
      const ok = await streamWrite(buf.subarray(off, end));
      if (!ok) return false;
      off = end;
    }
  }
  return true;
}

/** Resolves once the stream has written every byte (not merely queued them). */
function streamWrite(piece: Uint8Array): Promise<boolean> {
  return new Promise((resolve, reject) => {
    process.stdout.write(piece, (e) => {
      if (!e) resolve(true);
      else if ((e as NodeJS.ErrnoException).code === 'EPIPE') resolve(false);
      else reject(writeError(e));
    });
  });
}

function writeError(e: unknown): S3MmapError {
  const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
  return new S3MmapError(code, `s3mmap: cannot write to stdout (${code}): ${(e as Error).message}`, { cause: e });
}
