// Builds a Source from its serializable spec, inside the fault worker (design
// rule 12: a live object from the main thread cannot serve faults). The S3
// source and custom modules are imported lazily so that file and memory
// mappings do not load the AWS SDK.
import { pathToFileURL } from 'node:url';
import { S3MmapError } from '../shared/errors.js';
import type { Source, SourceSpec } from './source.js';
import { FileSource } from './file.js';
import { MemorySource } from './memory.js';

export async function createSource(spec: SourceSpec): Promise<Source> {
  switch (spec.kind) {
    case 'memory':
      return new MemorySource(spec.data, spec.length, spec.version);
    case 'file':
      return new FileSource(spec.path);
    case 's3': {
      const { S3Source } = await import('../s3/source.js');
      return new S3Source(spec);
    }
    case 'module': {
      const mod = await import(pathToFileURL(spec.path).href);
      const factory = mod.default ?? mod.createSource;
      if (typeof factory !== 'function') {
        throw new S3MmapError('EINVAL', `s3mmap: ${spec.path} must export a default function (options) => Source`);
      }
      return (await factory(spec.options)) as Source;
    }
    default:
      throw new S3MmapError('EINVAL', `s3mmap: unknown source kind ${(spec as { kind: string }).kind}`);
  }
}
