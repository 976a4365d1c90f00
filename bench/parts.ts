// Work on an object in fixed-size parts with a few lanes in flight: the
// parallel download peer and the multipart seeding both need it. Runs in
// whichever bench process calls it.

/** Calls `fn` once per part of [0, size), `lanes` at a time, in order of offset. */
export async function inParts(
  size: number,
  partSize: number,
  lanes: number,
  fn: (offset: number, length: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < size) {
      const offset = next;
      next += partSize;
      await fn(offset, Math.min(partSize, size - offset));
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
}
