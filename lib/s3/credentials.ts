// AWS credentials for the S3 source and the CLI: the SDK's default chain
// (environment, shared files with profiles, SSO, credential_process, web
// identity, container and instance metadata), resolved once at connect time,
// and refreshed in the background before temporary ones expire. Runs where
// connectS3() runs (fault worker, CLI main thread); the chain may read files
// and call the network, which is why it never runs on the fault path (rule 3).
import { S3Client } from '@aws-sdk/client-s3';
import { S3MmapError } from '../shared/errors.js';

// Refresh temporary credentials this long before they expire. The SDK starts
// asking its provider again 5 minutes before expiry; ours must be fresh by then.
const REFRESH_BEFORE_EXPIRY_MS = 10 * 60_000;
const MIN_REFRESH_DELAY_MS = 30_000;

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** Set for temporary credentials (STS, SSO, IMDS); they are refreshed before it. */
  expiration?: Date;
}

export async function chainCredentials(profile: string | undefined): Promise<S3Credentials> {
  // The SDK's default chain: env, shared credentials/config (profile, SSO,
  // process, web identity), ECS/EC2 metadata.
  const probe = new S3Client({ profile });
  try {
    const c = await probe.config.credentials();
    return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken, expiration: c.expiration };
  } catch (err) {
    const where = profile ? `profile '${profile}'` : 'the environment, ~/.aws/credentials, ~/.aws/config or instance metadata';
    throw new S3MmapError(
      'NoCredentials',
      `s3mmap: no AWS credentials found in ${where}; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, choose a profile, or pass credentials`,
      { cause: err },
    );
  } finally {
    probe.destroy();
  }
}

/** Re-runs the credential chain in the background before temporary
 *  credentials expire. Requests never wait for it: until it succeeds they keep
 *  the old credentials, which are still valid for minutes. */
export class CredentialRefresher {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  constructor(
    private readonly profile: string | undefined,
    private readonly enabled: boolean,
    private readonly update: (c: S3Credentials) => void,
  ) {}

  schedule(c: S3Credentials): void {
    if (!this.enabled || this.stopped || !c.expiration) return;
    const delay = Math.max(MIN_REFRESH_DELAY_MS, c.expiration.getTime() - Date.now() - REFRESH_BEFORE_EXPIRY_MS);
    this.timer = setTimeout(() => void this.refresh(), delay);
    this.timer.unref();
  }

  private async refresh(): Promise<void> {
    try {
      const c = await chainCredentials(this.profile);
      if (this.stopped) return;
      this.update(c);
      this.schedule(c);
    } catch {
      if (this.stopped) return;
      this.timer = setTimeout(() => void this.refresh(), MIN_REFRESH_DELAY_MS);
      this.timer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
