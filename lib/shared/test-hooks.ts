// Test hooks, off unless S3MMAP_TEST_HOOKS is set: faults that the test suite
// cannot provoke on demand from outside. Read once, when the fault worker
// first imports this module (the installer and the S3 source are its only
// importers); nothing here runs on the caller's thread. Never set it in
// production. The value is a comma-separated list:
//   copyEagain=N  the worker's first N UFFDIO_COPY calls answer EAGAIN, as the
//                 kernel does while the address space changes (fork, mremap),
//                 so the retry path runs and stats().copyRetries counts it
//   jitter=max    backoff delays take the top of their range instead of a
//                 random point in it, so tests can check their growth
const spec = process.env.S3MMAP_TEST_HOOKS ?? '';
const hooks = new Map(spec.split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]));

export const testHooks = {
  /** Forced EAGAIN answers still to give (counts down). */
  copyEagain: Number(hooks.get('copyEagain') ?? 0) || 0,
  /** Replaces Math.random in backoffDelay; undefined: the real one. */
  jitter: hooks.get('jitter') === 'max' ? () => 1 : undefined,
};
