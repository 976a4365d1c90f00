// The environment a user of the `s3mmap` command would have: AWS variables
// for the run's S3 endpoint only, no profile files, no instance metadata, and
// not the test runner's switches (the CLI must set what it needs itself).
// Runs in the test-file process, for the children it spawns.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testS3 } from './s3.js';

/** `extra` adds variables; an undefined value removes one. */
export function userEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const s3 = testS3();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('AWS_') && !k.startsWith('S3MMAP_') && !k.startsWith('VITEST') && v !== undefined) env[k] = v;
  }
  Object.assign(env, {
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_REGION: s3.region,
    AWS_ENDPOINT_URL: s3.endpoint,
    AWS_CONFIG_FILE: join(tmpdir(), 's3mmap-no-such-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(tmpdir(), 's3mmap-no-such-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}
