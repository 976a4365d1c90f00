// A source over a local file. Fault worker thread. Reads are synchronous
// pread(2) calls on purpose: async fs goes through the libuv pool, whose
// threads may all be parked in faults this very source must serve (design
// rule 3). A local pread returns in microseconds, so the worker's loop is not
// held up. The file is pinned like an S3 object: a change of size, mtime or
// inode after open fails the read instead of mixing versions.
import { closeSync, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { S3MmapError } from '../shared/errors.js';
import type { Source, SourceInfo } from './source.js';

function tag(st: Stats): string {
  return `${st.ino}-${st.size}-${st.mtimeMs}`;
}

export class FileSource implements Source {
  private fd = -1;
  private version = '';
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
    if (tag(fstatSync(this.fd)) !== this.version) {
      throw new S3MmapError('ObjectChanged', `s3mmap: ${this.path} changed after it was mapped; map it again to read the new version`);
    }
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, into, done, length - done, offset + done);
      if (n === 0) throw new S3MmapError('ObjectChanged', `s3mmap: ${this.path} is shorter than when it was mapped`);
      done += n;
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
