// The Arrow workload: a seeded Arrow IPC file written with apache-arrow (in
// the orchestrator, main thread, cached in bench/tmp/), and the query every
// system runs in its cell process: one Int32 column of eight, every record
// batch. Where the system holds the object as one Buffer (a mapping, a
// download, memory), apache-arrow reads it zero-copy (tableFromIPC over the
// Buffer: only the pages of what is decoded are touched); elsewhere (a ranged
// GET per read, a FUSE file) the reader fetches what a selective reader would:
// the footer, each batch's metadata, and the column's data buffer.
import { createWriteStream, existsSync, renameSync } from 'node:fs';
import { once } from 'node:events';
import { RecordBatchFileWriter, tableFromArrays, tableFromIPC } from 'apache-arrow';
import { Footer } from 'apache-arrow/ipc/metadata/file';
import { Message, type RecordBatch as BatchHeader } from 'apache-arrow/ipc/metadata/message';
import { withFileReader, type Reader } from './workloads.js';

export const ARROW_COLUMNS = 8;
/** Record batches per file; 128 MiB each for a 1 GiB file, as the Parquet file's row groups. */
export const ARROW_BATCHES = 8;
export const ARROW_COLUMN = 'c3';
const names = Array.from({ length: ARROW_COLUMNS }, (_, i) => `c${i}`);

export interface ArrowQueryResult {
  rows: number;
  /** Bytes of the column's data buffers. */
  columnBytes: number;
  checksum: number;
}

/** Writes the file for about `size` bytes, unless it is there already. */
export async function writeArrow(path: string, size: number, seed: number): Promise<void> {
  if (existsSync(path)) return;
  const rows = Math.max(1, Math.floor(size / 4 / ARROW_COLUMNS / ARROW_BATCHES));
  const tmp = path + '.part';
  const writer = new RecordBatchFileWriter();
  const out = createWriteStream(tmp);
  writer.toNodeStream().pipe(out);
  let s = (seed ^ 0xa770) >>> 0 || 1;
  for (let b = 0; b < ARROW_BATCHES; b++) {
    const cols: Record<string, Int32Array> = {};
    for (const name of names) {
      const c = new Int32Array(rows);
      for (let i = 0; i < rows; i++) {
        s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
        c[i] = s;
      }
      cols[name] = c;
    }
    writer.write(tableFromArrays(cols).batches[0]);
    // Let the file stream take this batch before the next is generated.
    await new Promise((resolve) => setImmediate(resolve));
  }
  writer.finish();
  await once(out, 'finish');
  renameSync(tmp, path);
}

function fold(h: number, values: Int32Array): number {
  for (let i = 0; i < values.length; i++) h = (Math.imul(h, 31) + values[i]) | 0;
  return h;
}

/** Zero-copy: apache-arrow over the whole object in one Buffer. */
function queryBuffer(buf: Uint8Array): ArrowQueryResult {
  const column = tableFromIPC(buf).getChild(ARROW_COLUMN);
  if (!column) throw new Error(`arrow: no column ${ARROW_COLUMN}`);
  let h = 0;
  let rows = 0;
  let columnBytes = 0;
  for (const d of column.data) {
    const values = d.values as Int32Array;
    h = fold(h, values);
    rows += values.length;
    columnBytes += values.byteLength;
  }
  return { rows, columnBytes, checksum: h >>> 0 };
}

const MAGIC_LEN = 6;

/** Selective: the footer, each batch's metadata, then only the column's data buffer. */
async function queryRanges(reader: Reader): Promise<ArrowQueryResult> {
  const read = async (offset: number, length: number) => {
    const r = reader.read(offset, length);
    // Readers may reuse their buffer (FUSE): keep a copy.
    return new Uint8Array(r instanceof Uint8Array ? r : await r);
  };
  const tail = await read(reader.size - MAGIC_LEN - 4, MAGIC_LEN + 4);
  const footerLen = new DataView(tail.buffer).getInt32(0, true);
  const footer = Footer.decode(await read(reader.size - MAGIC_LEN - 4 - footerLen, footerLen));
  const field = footer.schema.fields.findIndex((f) => f.name === ARROW_COLUMN);
  if (field < 0) throw new Error(`arrow: no column ${ARROW_COLUMN}`);
  let h = 0;
  let rows = 0;
  let columnBytes = 0;
  for (const block of footer.recordBatches()) {
    // A block: continuation marker, metadata length, the flatbuffer, padding; then the body.
    const meta = await read(block.offset, block.metaDataLength);
    const len = new DataView(meta.buffer).getInt32(4, true);
    const header = Message.decode(meta.subarray(8, 8 + len)).header() as BatchHeader;
    // Fixed-width columns without nulls: a validity buffer (empty) and a data buffer each.
    const region = header.buffers[2 * field + 1];
    const data = await read(block.offset + block.metaDataLength + region.offset, region.length);
    const values = new Int32Array(data.buffer, data.byteOffset, header.nodes[field].length);
    h = fold(h, values);
    rows += values.length;
    columnBytes += values.byteLength;
  }
  return { rows, columnBytes, checksum: h >>> 0 };
}

export async function arrowQuery(reader: Reader): Promise<ArrowQueryResult> {
  return reader.buffer ? queryBuffer(reader.buffer) : queryRanges(reader);
}

/** The expected answer, from the local file, read selectively (the other path than a mapping's). */
export function arrowQueryFile(path: string): Promise<ArrowQueryResult> {
  return withFileReader(path, arrowQuery);
}
