// The disk cache's entry format and per-entry syscalls (cache_entry.h). Any
// thread: the I/O pool's for reads and writes, the JS thread for the locks.
#include "cache_entry.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "xxhash64.h"

namespace s3mmap {
namespace {

constexpr char kMagic[8] = {'S', '3', 'M', 'M', 'A', 'P', 'C', '1'};

void Put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
void Put64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint32_t Get32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
uint64_t Get64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

void BuildHeader(uint8_t* h, const uint8_t* identity, uint64_t offset, const uint8_t* data, size_t len) {
  std::memcpy(h, kMagic, 8);
  Put32(h + 8, kVersion);
  Put32(h + 12, kHeader);
  std::memcpy(h + 16, identity, kIdentity);
  Put64(h + 48, offset);
  Put64(h + 56, len);
  Put64(h + 64, Xxh64(data, len, 0));
  Put64(h + 72, Xxh64(h, 72, 0));
}

bool HeaderMatches(const uint8_t* h, const uint8_t* identity, uint64_t offset, size_t len) {
  return std::memcmp(h, kMagic, 8) == 0 && Get32(h + 8) == kVersion && Get32(h + 12) == kHeader &&
         Get64(h + 72) == Xxh64(h, 72, 0) && std::memcmp(h + 16, identity, kIdentity) == 0 && Get64(h + 48) == offset &&
         Get64(h + 56) == len;
}

int OpenRead(const char* path) {
  // O_NOATIME: reads do not dirty the inode; the LRU stamp is set explicitly, at most once per interval.
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = open(path, O_RDONLY | O_CLOEXEC);
  return fd;
}

}  // namespace

Verdict ReadEntry(const char* path, const uint8_t* identity, uint64_t offset, size_t len, uint8_t* dst, size_t from, size_t copy,
                  long touch_after_sec, std::vector<uint8_t>& scratch) {
  int fd = OpenRead(path);
  if (fd < 0) return {errno == ENOENT || errno == ENOTDIR ? kMiss : -errno, kFine};
  struct stat st;
  Verdict v{kMiss, kFine};
  if (fstat(fd, &st) != 0) {
    v.status = -errno;
  } else if (!S_ISREG(st.st_mode)) {
    v.reason = kNotFile;
  } else if (st.st_uid != geteuid()) {
    v.reason = kNotOurs;
  } else if (static_cast<uint64_t>(st.st_size) != kHeader + len) {
    v.reason = kSize;
  } else {
    uint8_t header[kHeader];
    bool direct = from == 0 && copy == len;
    if (!direct && scratch.size() < len) scratch.resize(len);
    uint8_t* data = direct ? dst : scratch.data();
    struct iovec iov[2] = {{header, kHeader}, {data, len}};
    ssize_t n;
    do {
      n = preadv(fd, iov, 2, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      v.status = -errno;
    } else if (static_cast<size_t>(n) != kHeader + len) {
      v.reason = kSize;  // shortened since fstat
    } else if (!HeaderMatches(header, identity, offset, len)) {
      v.reason = kHeaderMismatch;
    } else if (Get64(header + 64) != Xxh64(data, len, 0)) {
      v.reason = kChecksum;
    } else {
      if (!direct) std::memcpy(dst, data + from, copy);
      v.status = kHit;
      if (touch_after_sec >= 0 && time(nullptr) - st.st_atime >= touch_after_sec) {
        struct timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
        futimens(fd, times);
      }
    }
  }
  close(fd);
  return v;
}

// The directory's lock (a file that stays), exclusively, without waiting:
// its fd, 0 when another holder has it, or -errno. flock dies with its
// process, so a crashed cleanup pass never leaves the directory locked.
int TryLock(const char* path) {
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return -errno;
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
  int e = errno;
  close(fd);
  return e == EWOULDBLOCK ? 0 : -e;
}

// A block's fetch lock: `length` bytes from the block's offset (one for the
// disk cache's blocks; a shared region's chunk spans the chunk, so one
// descriptor's adjacent locks merge), as an open-file-description lock (F_OFD_SETLK): no
// file is created or removed per block, the lock never waits, and it goes
// with the descriptor, so a process that dies lets go of all of them.
// 1 taken, 0 held by another descriptor, or -errno.
int RangeLock(int fd, uint64_t offset, uint64_t length) {
  struct flock l = {};
  l.l_type = F_WRLCK;
  l.l_whence = SEEK_SET;
  l.l_start = static_cast<off_t>(offset);
  l.l_len = static_cast<off_t>(length);
  if (fcntl(fd, F_OFD_SETLK, &l) == 0) return 1;
  return errno == EAGAIN || errno == EACCES ? 0 : -errno;
}

void RangeUnlock(int fd, uint64_t offset, uint64_t length) {
  struct flock l = {};
  l.l_type = F_UNLCK;
  l.l_whence = SEEK_SET;
  l.l_start = static_cast<off_t>(offset);
  l.l_len = static_cast<off_t>(length);
  fcntl(fd, F_OFD_SETLK, &l);
}

int WriteEntry(const char* tmp, const char* path, const uint8_t* identity, uint64_t offset, const uint8_t* data, size_t len) {
  uint8_t header[kHeader];
  BuildHeader(header, identity, offset, data, len);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return -errno;
  struct iovec iov[2] = {{header, kHeader}, {const_cast<uint8_t*>(data), len}};
  size_t want = kHeader + len, done = 0;
  int err = 0;
  while (done < want) {
    ssize_t n = pwritev(fd, iov, 2, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (n == 0) {
      err = EIO;
      break;
    }
    done += static_cast<size_t>(n);
    // Advance the iovecs past what was written.
    size_t skip = static_cast<size_t>(n);
    for (auto& v : iov) {
      size_t k = skip < v.iov_len ? skip : v.iov_len;
      v.iov_base = static_cast<uint8_t*>(v.iov_base) + k;
      v.iov_len -= k;
      skip -= k;
    }
  }
  // No fsync: a crash can leave a short or empty file only after a power
  // loss, and every read verifies the length and the checksum.
  if (close(fd) != 0 && err == 0) err = errno;
  if (err == 0 && rename(tmp, path) != 0) err = errno;
  if (err != 0) unlink(tmp);
  return -err;
}

}  // namespace s3mmap
