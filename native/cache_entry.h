// The disk cache's entry format and the per-entry syscalls, no Node: reading
// and verifying an entry, writing one (temporary file, then rename), a
// block's fetch lock (one byte of a lock file, an OFD lock that never waits)
// and the directory's lock (flock). Called on the I/O pool's threads
// (disk_cache.cc's jobs) and, for the locks, on the calling JS thread.
// lib/shared/cache-layout.ts documents the format too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace s3mmap {

// Entry header, little-endian:
//   0  magic "S3MMAPC1"      8  format version (u32)   12 header bytes (u32)
//   16 identity (32 bytes: sha256 of endpoint, bucket, key, ETag)
//   48 block offset (u64)    56 data length (u64)
//   64 xxh64 of the data     72 xxh64 of bytes 0..71
//   80 data
constexpr uint32_t kVersion = 1;
constexpr size_t kHeader = 80;
constexpr size_t kIdentity = 32;

// Lookup statuses and drop reasons, as lib/worker/disk-cache.ts reads them.
enum Status { kMiss = 0, kHit = 1, kOwned = 2, kBusy = 3 };
enum Reason { kFine = 0, kChecksum = 1, kSize = 2, kHeaderMismatch = 3, kNotOurs = 4, kNotFile = 5 };
enum Flags { kWantLock = 1, kDropBad = 2 };


struct Verdict {
  int status;  // kHit, kMiss or -errno
  int reason;  // why a present file was refused
};

// Reads the entry at `path` for block [offset, offset+len) and, if it is
// whole and ours, copies data[from, from+copy) to dst; stamps it used (atime)
// when its stamp is older than `touch_after_sec` (< 0: never). A refused
// entry leaves dst undefined.
Verdict ReadEntry(const char* path, const uint8_t* identity, uint64_t offset, size_t len, uint8_t* dst, size_t from, size_t copy,
                  long touch_after_sec, std::vector<uint8_t>& scratch);

// Writes block [offset, offset+len) as an entry: to `tmp`, then renamed to
// `path`, so it appears whole or not at all. 0 or -errno.
int WriteEntry(const char* tmp, const char* path, const uint8_t* identity, uint64_t offset, const uint8_t* data, size_t len);

// The directory's lock, exclusively, without waiting: its fd, 0 when another
// holder has it, or -errno.
int TryLock(const char* path);

// A block's fetch lock over [offset, offset+length) of a lock file: 1
// taken, 0 held by another descriptor, or -errno.
int RangeLock(int fd, uint64_t offset, uint64_t length = 1);
void RangeUnlock(int fd, uint64_t offset, uint64_t length = 1);

}  // namespace s3mmap
