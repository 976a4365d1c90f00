// A source over a local file. Fault worker thread. Reads are pread(2) on the
// addon's own I/O threads (lib/shared/native-io.ts): async fs goes through
// the libuv pool, whose threads may all be parked in faults this very source
// must serve (design rule 3), and a synchronous read would hold the worker's
// loop, so no other fault is served and no install overlaps the next read
// meanwhile. The file is pinned like an S3 object: a change of size, mtime or
// inode after open fails the read instead of mixing versions.
import { closeSync, fstatSync, openSync, type Stats } from 'node:fs';
import { S3MmapError } from '../shared/errors.js';
import { io } from '../shared/native-io.js';
import type { Source, SourceInfo } from './source.js';

function tag(st: Stats): string {
  return `${st.ino}-${st.size}-${st.mtimeMs}`;
}

export class FileSource implements Source {
  private fd = -1;
  private version = '';
  /** Reads on the I/O threads: the fd is closed only after the last one, so
   *  none reads from a number the process has reused for another file. */
  private reading = 0;
  private closing = false;
  constructor(private readonly path: string) {}

  async open(): Promise<SourceInfo> {
    try {
      this.fd = openSync(this.path, 'r');
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'EIO';
      throw new S3MmapError(code, `s3mmap: cannot open ${this.path} (${code}); check the path and its permissions`);
    }
    const st = fstatSync(this.fd);
    if (!st.isFile()) {
      closeSync(this.fd);
      throw new S3MmapError('EINVAL', `s3mmap: ${this.path} is not a regular file; map a file or an S3 object`);
    }
    this.version = tag(st);
    return { size: st.size, version: this.version, meta: { lastModified: st.mtime.toISOString() } };
  }

  async read(offset: number, length: number, into: Uint8Array): Promise<void> {
    if (this.closing || this.fd < 0) throw new S3MmapError('ERR_CLOSED', `s3mmap: ${this.path} is closed`);
    // One fstat, microseconds: the version check stays on this thread.
    if (tag(fstatSync(this.fd)) !== this.version) {
      throw new S3MmapError('ObjectChanged', `s3mmap: ${this.path} changed after it was mapped; map it again to read the new version`);
    }
    this.reading++;
    let n: number;
    try {
      n = await io.ioPread(this.fd, into, 0, length, offset);
    } finally {
      if (--this.reading === 0 && this.closing) this.closeFd();
    }
    if (n < 0) throw new S3MmapError('EIO', `s3mmap: reading ${length} bytes at ${offset} of ${this.path} failed (errno ${-n})`);
    if (n < length) throw new S3MmapError('ObjectChanged', `s3mmap: ${this.path} is shorter than when it was mapped`);
  }

  close(): void {
    this.closing = true;
    if (this.reading === 0) this.closeFd();
  }

  private closeFd(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
