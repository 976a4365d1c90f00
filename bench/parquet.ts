// The Parquet workload: a seeded file written with hyparquet-writer (in the
// orchestrator, main thread, cached in bench/tmp/), and the query every
// system runs in its cell process: one INT32 column of the middle row group,
// read with hyparquet through an AsyncBuffer over the system's bytes.
import { existsSync, renameSync } from 'node:fs';
import { parquetMetadataAsync, parquetRead, type AsyncBuffer } from 'hyparquet';
import { ParquetWriter, fileWriter } from 'hyparquet-writer';
import { withFileReader, type Reader } from './workloads.js';

/** Bytes per row: id INT64, a INT64, b DOUBLE, c INT32, all PLAIN, uncompressed. */
const ROW_BYTES = 28;
/** Row groups per file; 128 MiB each for a 1 GiB file (parquet-mr's default size). */
export const ROW_GROUPS = 8;
export const QUERY_COLUMN = 'c';

export interface ParquetQueryResult {
  rows: number;
  /** Bytes of the column chunk the query decodes. */
  columnBytes: number;
  checksum: number;
}

/** Writes the file for about `size` bytes, unless it is there already. */
export async function writeParquet(path: string, size: number, seed: number): Promise<void> {
  if (existsSync(path)) return;
  const rowsPerGroup = Math.max(1, Math.floor(size / ROW_BYTES / ROW_GROUPS));
  const tmp = path + '.part';
  const writer = new ParquetWriter({
    writer: fileWriter(tmp),
    schema: [
      { name: 'root', num_children: 4 },
      { name: 'id', type: 'INT64', repetition_type: 'REQUIRED' },
      { name: 'a', type: 'INT64', repetition_type: 'REQUIRED' },
      { name: 'b', type: 'DOUBLE', repetition_type: 'REQUIRED' },
      { name: 'c', type: 'INT32', repetition_type: 'REQUIRED' },
    ],
    codec: 'UNCOMPRESSED',
    statistics: false,
    createdBy: 's3mmap bench',
  });
  let s = seed >>> 0 || 1;
  for (let g = 0; g < ROW_GROUPS; g++) {
    const id = new BigInt64Array(rowsPerGroup);
    const a = new BigInt64Array(rowsPerGroup);
    const b = new Float64Array(rowsPerGroup);
    const c = new Int32Array(rowsPerGroup);
    const idw = new Uint32Array(id.buffer);
    const aw = new Uint32Array(a.buffer);
    for (let i = 0; i < rowsPerGroup; i++) {
      const row = g * rowsPerGroup + i;
      idw[2 * i] = row >>> 0;
      idw[2 * i + 1] = Math.floor(row / 4294967296);
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
      aw[2 * i] = s;
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
      aw[2 * i + 1] = s;
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
      b[i] = (s >>> 0) / 4294967296;
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
      c[i] = s;
    }
    const done = writer.write({
      columnData: [
        { name: 'id', data: id, encoding: 'PLAIN' },
        { name: 'a', data: a, encoding: 'PLAIN' },
        { name: 'b', data: b, encoding: 'PLAIN' },
        { name: 'c', data: c, encoding: 'PLAIN' },
      ],
      rowGroupSize: rowsPerGroup,
    });
    if (done) await done;
  }
  await writer.finish();
  renameSync(tmp, path);
}

/** An AsyncBuffer over a Reader: each slice is one read, copied into its own
 *  ArrayBuffer. A slice names its range, as a ranged GET does: a reader that
 *  can use that (s3mmap's load()) is told it first. */
export function asyncBuffer(reader: Reader): AsyncBuffer {
  return {
    byteLength: reader.size,
    async slice(start: number, end = reader.size): Promise<ArrayBuffer> {
      await reader.willRead?.(start, end - start);
      const out = new Uint8Array(end - start);
      const r = reader.read(start, end - start);
      out.set(r instanceof Uint8Array ? r : await r);
      return out.buffer;
    },
  };
}

/** The query: column QUERY_COLUMN of the middle row group. */
export async function parquetQuery(file: AsyncBuffer): Promise<ParquetQueryResult> {
  const metadata = await parquetMetadataAsync(file);
  const g = Math.floor(metadata.row_groups.length / 2);
  let rowStart = 0;
  for (let i = 0; i < g; i++) rowStart += Number(metadata.row_groups[i].num_rows);
  const group = metadata.row_groups[g];
  const rowEnd = rowStart + Number(group.num_rows);
  const chunk = group.columns.find((c) => c.meta_data?.path_in_schema[0] === QUERY_COLUMN);
  let h = 0;
  let rows = 0;
  await parquetRead({
    file,
    metadata,
    columns: [QUERY_COLUMN],
    rowStart,
    rowEnd,
    onChunk: ({ columnData }) => {
      for (let i = 0; i < columnData.length; i++) h = (Math.imul(h, 31) + (columnData[i] as number)) | 0;
      rows += columnData.length;
    },
  });
  return { rows, columnBytes: Number(chunk?.meta_data?.total_compressed_size ?? 0), checksum: h >>> 0 };
}

/** The expected answer, from the local file. */
export function parquetQueryFile(path: string): Promise<ParquetQueryResult> {
  return withFileReader(path, (reader) => parquetQuery(asyncBuffer(reader)));
}
