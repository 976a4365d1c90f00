// The memory-speed ceiling: the object generated into a plain Buffer (or, for
// Parquet and Arrow, the local file read into one) before the clock starts; reads are
// views. Cell process, main thread.
import { readFileSync } from 'node:fs';
import { objectBuffer } from '../content.js';
import { bufferReader, type OpenSystem } from './types.js';

export const open: OpenSystem = async (spec) => {
  const buf = (spec.workload === 'parquet' || spec.workload === 'arrow') && spec.localPath ? readFileSync(spec.localPath) : objectBuffer(spec.seed, spec.size);
  return { reader: bufferReader(buf), close: async () => {} };
};
