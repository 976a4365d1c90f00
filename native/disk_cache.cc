// The disk cache's syscalls: reading and verifying entries, writing them
// (temporary file, then rename), per-block fetch locks (byte-range OFD
// locks, never blocking), the directory's lock (flock), scanning and
// unlinking for the cleanup pass, and the usage counter that every process
// shares through a MAP_SHARED file. Reads, writes and scans run on the I/O
// pool (io_pool.h); counter and lock calls are single non-blocking syscalls
// or atomics, made on the caller's thread.
// What to cache, when to evict and what a result means is decided in
// lib/worker/disk-cache.ts; the on-disk format lives here and in
// lib/shared/cache-layout.ts, which documents it.
#include <napi.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "disk_cache.h"
#include "io_pool.h"
#include "xxhash64.h"

namespace s3mmap {
namespace {

// Entry header, little-endian:
//   0  magic "S3MMAPC1"      8  format version (u32)   12 header bytes (u32)
//   16 identity (32 bytes: sha256 of endpoint, bucket, key, ETag)
//   48 block offset (u64)    56 data length (u64)
//   64 xxh64 of the data     72 xxh64 of bytes 0..71
//   80 data
constexpr char kMagic[8] = {'S', '3', 'M', 'M', 'A', 'P', 'C', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeader = 80;
constexpr size_t kIdentity = 32;

// Lookup statuses and drop reasons, as lib/worker/disk-cache.ts reads them.
enum Status { kMiss = 0, kHit = 1, kOwned = 2, kBusy = 3 };
enum Reason { kFine = 0, kChecksum = 1, kSize = 2, kHeaderMismatch = 3, kNotOurs = 4, kNotFile = 5 };
enum Flags { kWantLock = 1, kDropBad = 2 };

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

struct Verdict {
  int status;  // kHit, kMiss or -errno
  int reason;  // why a present file was refused
};

// Reads the entry at `path` for block [offset, offset+len) and, if it is
// whole and ours, copies data[from, from+copy) to dst. A refused entry
// leaves dst undefined.
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

// A block's fetch lock: one byte, at the block's offset, of its object
// version's lock file, as an open-file-description lock (F_OFD_SETLK): no
// file is created or removed per block, the lock never waits, and it goes
// with the descriptor, so a process that dies lets go of all of them.
// 1 taken, 0 held by another descriptor, or -errno.
int RangeLock(int fd, uint64_t offset) {
  struct flock l = {};
  l.l_type = F_WRLCK;
  l.l_whence = SEEK_SET;
  l.l_start = static_cast<off_t>(offset);
  l.l_len = 1;
  if (fcntl(fd, F_OFD_SETLK, &l) == 0) return 1;
  return errno == EAGAIN || errno == EACCES ? 0 : -errno;
}

void RangeUnlock(int fd, uint64_t offset) {
  struct flock l = {};
  l.l_type = F_UNLCK;
  l.l_whence = SEEK_SET;
  l.l_start = static_cast<off_t>(offset);
  l.l_len = 1;
  fcntl(fd, F_OFD_SETLK, &l);
}

std::string Str(const Napi::Value& v) { return v.As<Napi::String>().Utf8Value(); }

std::vector<std::string> Strings(const Napi::Value& v) {
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::string> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out[i] = a.Get(i).As<Napi::String>().Utf8Value();
  return out;
}

bool Identity(const Napi::Value& v, uint8_t* out) {
  size_t n;
  uint8_t* p = BufferData(v, &n);
  if (n != kIdentity) return false;
  std::memcpy(out, p, kIdentity);
  return true;
}

// Per block, in `blocks` (6 doubles): offset, length, dst offset, copy from, copy length, flags.
// Out (3 int32 per block): status, reason, 1 if this call took the block's lock.
class LookupJob : public IoJob {
 public:
  uint8_t identity[kIdentity];
  uint8_t* dst;
  size_t dst_len;
  const double* blocks;
  int32_t* out;
  size_t count;
  std::vector<std::string> paths;
  int lock_fd;
  long touch_after_sec;

  void Work() override {
    std::vector<uint8_t> scratch;
    for (size_t i = 0; i < count; i++) {
      const double* b = blocks + 6 * i;
      uint64_t offset = static_cast<uint64_t>(b[0]);
      size_t len = static_cast<size_t>(b[1]);
      uint8_t* to = dst + static_cast<size_t>(b[2]);
      size_t from = static_cast<size_t>(b[3]), copy = static_cast<size_t>(b[4]);
      int flags = static_cast<int>(b[5]);
      int32_t* o = out + 3 * i;
      o[2] = 0;
      Verdict v = ReadEntry(paths[i].c_str(), identity, offset, len, to, from, copy, touch_after_sec, scratch);
      o[1] = v.reason;
      if (v.reason != kFine && (flags & kDropBad)) unlink(paths[i].c_str());
      if (v.status != kMiss || !(flags & kWantLock)) {
        o[0] = v.status;
        continue;
      }
      int r = RangeLock(lock_fd, offset);
      if (r <= 0) {
        o[0] = r == 0 ? kBusy : r;
        continue;
      }
      // Whoever held the lock may have written the entry just before letting go.
      Verdict again = ReadEntry(paths[i].c_str(), identity, offset, len, to, from, copy, touch_after_sec, scratch);
      if (again.status == kHit) {
        RangeUnlock(lock_fd, offset);
        o[0] = kHit;
      } else {
        if (again.reason != kFine && (flags & kDropBad)) unlink(paths[i].c_str());
        o[0] = kOwned;
        o[2] = 1;
      }
    }
  }
  napi_value Result(napi_env) override { return nullptr; }
};

// cacheLookup(identity, dst, blocks Float64Array, paths, lockFd, touchAfterSec, out Int32Array) -> Promise<void>
Napi::Value CacheLookupJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto job = std::make_unique<LookupJob>();
  Napi::Float64Array blocks = info[2].As<Napi::Float64Array>();
  Napi::Int32Array out = info[6].As<Napi::Int32Array>();
  job->count = blocks.ElementLength() / 6;
  job->paths = Strings(info[3]);
  job->lock_fd = info[4].As<Napi::Number>().Int32Value();
  job->dst = BufferData(info[1], &job->dst_len);
  job->blocks = blocks.Data();
  job->out = out.Data();
  job->touch_after_sec = static_cast<long>(info[5].As<Napi::Number>().DoubleValue());
  bool ok = Identity(info[0], job->identity) && job->paths.size() == job->count && out.ElementLength() >= 3 * job->count;
  for (size_t i = 0; ok && i < job->count; i++) {
    const double* b = job->blocks + 6 * i;
    ok = b[4] <= b[1] && b[3] + b[4] <= b[1] && b[2] >= 0 && b[2] + b[4] <= static_cast<double>(job->dst_len);
  }
  if (!ok) {
    Napi::RangeError::New(env, "s3mmap: cacheLookup arguments do not fit").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  job->Keep(env, info[1]);
  job->Keep(env, info[2]);
  job->Keep(env, info[6]);
  napi_value p = SubmitIo(env, job.release());
  return p ? Napi::Value(env, p) : env.Undefined();
}

// The usage counter: bytes held by the cache directory, shared by every
// process through one page of a MAP_SHARED file: [0] bytes held, [1] when a
// cleanup pass began waiting for the directory's lock (ms, 0: none), [2]
// when a pass last set [0] (ms, 0: never, so [0] means nothing yet). Mapped
// once per process and directory, never unmapped (one page).
struct Counter {
  std::string path;
  int64_t* words;
};
std::mutex g_counters_mu;
std::vector<Counter> g_counters;

int64_t* CounterWords(const Napi::Value& handle) {
  std::lock_guard<std::mutex> lock(g_counters_mu);
  return g_counters.at(static_cast<size_t>(handle.As<Napi::Number>().Int32Value())).words;
}

int64_t NowMs() {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return static_cast<int64_t>(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
}

bool Reserve(int64_t* used, int64_t n, int64_t cap) {
  int64_t cur = __atomic_load_n(used, __ATOMIC_SEQ_CST);
  for (;;) {
    if (cur + n > cap) return false;
    if (__atomic_compare_exchange_n(used, &cur, cur + n, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) return true;
  }
}

// A cleanup pass that waited this long for the lock is taken to have died.
constexpr int64_t kPassTurnMs = 15000;

// Per block, in `blocks` (4 doubles): offset, length, src offset, 1 if its lock is held.
// Out (1 int32 per block): 0, or -errno: -EAGAIN (a cleanup pass has the
// directory), -ENOSPC (no room under the cap), -ENOENT (the directory is gone).
//
// The whole job holds the directory's lock shared: a cleanup pass holds it
// exclusively, so it never sees a write between its reservation and its
// rename and can set the counter to exactly what it finds. Writers step
// aside while a pass is waiting for the lock, so they cannot starve it, and
// never wait on a pool thread: they come back with -EAGAIN. A block's lock
// is let go once its entry is written or has failed for good, and kept for
// the caller to retry (or let go) after -EAGAIN, -ENOSPC or -ENOENT.
class WriteJob : public IoJob {
 public:
  uint8_t identity[kIdentity];
  const uint8_t* src;
  const double* blocks;
  int32_t* out;
  size_t count;
  std::vector<std::string> tmp_paths, paths;
  int lock_fd;
  int64_t* counter;
  int64_t cap;
  std::string gate;

  void Work() override {
    int gate_fd = EnterGate();
    for (size_t i = 0; i < count; i++) {
      const double* b = blocks + 4 * i;
      uint64_t offset = static_cast<uint64_t>(b[0]);
      size_t len = static_cast<size_t>(b[1]);
      const uint8_t* data = src + static_cast<size_t>(b[2]);
      bool locked = b[3] != 0;
      int r = gate_fd;
      if (gate_fd >= 0) {
        int64_t bytes = static_cast<int64_t>(kHeader + len);
        if (!Reserve(counter, bytes, cap)) {
          r = -ENOSPC;
        } else {
          r = WriteOne(tmp_paths[i].c_str(), paths[i].c_str(), offset, data, len);
          if (r != 0) __atomic_sub_fetch(counter, bytes, __ATOMIC_SEQ_CST);
        }
      }
      out[i] = r;
      bool retry = r == -EAGAIN || r == -ENOSPC || r == -ENOENT;
      if (locked && !retry) RangeUnlock(lock_fd, offset);
    }
    if (gate_fd >= 0) close(gate_fd);
  }

  int EnterGate() {
    int64_t at = __atomic_load_n(counter + 1, __ATOMIC_SEQ_CST);
    if (at != 0 && NowMs() - at < kPassTurnMs) return -EAGAIN;
    int fd = open(gate.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) return fd;
    int e = errno;
    close(fd);
    return e == EWOULDBLOCK ? -EAGAIN : -e;
  }

  int WriteOne(const char* tmp, const char* path, uint64_t offset, const uint8_t* data, size_t len) {
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

  napi_value Result(napi_env) override { return nullptr; }
};

// cacheWrite(identity, src, blocks, tmpPaths, paths, lockFd, out, counter, cap, gatePath) -> Promise<void>
Napi::Value CacheWriteJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto job = std::make_unique<WriteJob>();
  job->background = true;
  size_t src_len;
  job->src = BufferData(info[1], &src_len);
  Napi::Float64Array blocks = info[2].As<Napi::Float64Array>();
  Napi::Int32Array out = info[6].As<Napi::Int32Array>();
  job->count = blocks.ElementLength() / 4;
  job->blocks = blocks.Data();
  job->out = out.Data();
  job->tmp_paths = Strings(info[3]);
  job->paths = Strings(info[4]);
  job->lock_fd = info[5].As<Napi::Number>().Int32Value();
  job->counter = CounterWords(info[7]);
  job->cap = static_cast<int64_t>(info[8].As<Napi::Number>().DoubleValue());
  job->gate = Str(info[9]);
  bool ok = Identity(info[0], job->identity) && job->tmp_paths.size() == job->count && job->paths.size() == job->count &&
            out.ElementLength() >= job->count;
  for (size_t i = 0; ok && i < job->count; i++) {
    const double* b = job->blocks + 4 * i;
    ok = b[2] >= 0 && b[2] + b[1] <= static_cast<double>(src_len);
  }
  if (!ok) {
    Napi::RangeError::New(env, "s3mmap: cacheWrite arguments do not fit").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  job->Keep(env, info[1]);
  job->Keep(env, info[2]);
  job->Keep(env, info[6]);
  napi_value p = SubmitIo(env, job.release());
  return p ? Napi::Value(env, p) : env.Undefined();
}

struct ScanEntry {
  std::string path;
  double size, atime_ms, mtime_ms;
  bool dir;
};

double Ms(const struct timespec& t) { return static_cast<double>(t.tv_sec) * 1000.0 + static_cast<double>(t.tv_nsec) / 1e6; }

// Every file and directory below `root`, `depth` levels deep at most.
class ScanJob : public IoJob {
 public:
  std::string root;
  int depth = 3;
  std::vector<ScanEntry> found;
  int error = 0;

  void Walk(const std::string& dir, const std::string& rel, int level) {
    DIR* d = opendir(dir.c_str());
    if (!d) {
      if (level == 0) error = errno;
      return;
    }
    int dfd = dirfd(d);
    while (struct dirent* e = readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      struct stat st;
      if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
      std::string r = rel.empty() ? e->d_name : rel + "/" + e->d_name;
      bool is_dir = S_ISDIR(st.st_mode);
      found.push_back({r, static_cast<double>(st.st_size), Ms(st.st_atim), Ms(st.st_mtim), is_dir});
      if (is_dir && level + 1 < depth) Walk(dir + "/" + e->d_name, r, level + 1);
    }
    closedir(d);
  }

  void Work() override { Walk(root, "", 0); }

  napi_value Result(napi_env env) override {
    Napi::Env e(env);
    Napi::Object o = Napi::Object::New(e);
    if (error) {
      o.Set("errno", Napi::Number::New(e, error));
      return o;
    }
    size_t n = found.size();
    Napi::Array paths = Napi::Array::New(e, n);
    Napi::Float64Array sizes = Napi::Float64Array::New(e, n);
    Napi::Float64Array atimes = Napi::Float64Array::New(e, n);
    Napi::Float64Array mtimes = Napi::Float64Array::New(e, n);
    Napi::Uint8Array dirs = Napi::Uint8Array::New(e, n);
    for (size_t i = 0; i < n; i++) {
      paths.Set(i, Napi::String::New(e, found[i].path));
      sizes[i] = found[i].size;
      atimes[i] = found[i].atime_ms;
      mtimes[i] = found[i].mtime_ms;
      dirs[i] = found[i].dir ? 1 : 0;
    }
    o.Set("paths", paths);
    o.Set("sizes", sizes);
    o.Set("atimes", atimes);
    o.Set("mtimes", mtimes);
    o.Set("dirs", dirs);
    return o;
  }
};

// cacheScan(root, depth) -> Promise<{ paths, sizes, atimes, mtimes, dirs } | { errno }>
Napi::Value CacheScanJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* job = new ScanJob();
  job->background = true;
  job->root = Str(info[0]);
  job->depth = info[1].As<Napi::Number>().Int32Value();
  napi_value p = SubmitIo(env, job);
  return p ? Napi::Value(env, p) : env.Undefined();
}

class UnlinkJob : public IoJob {
 public:
  std::vector<std::string> paths;
  double removed = 0;
  void Work() override {
    for (auto& p : paths)
      if (unlink(p.c_str()) == 0) removed++;
  }
  napi_value Result(napi_env env) override {
    napi_value v;
    napi_create_double(env, removed, &v);
    return v;
  }
};

// cacheUnlink(paths) -> Promise<count removed>
Napi::Value CacheUnlinkJs(const Napi::CallbackInfo& info) {
  auto* job = new UnlinkJob();
  job->background = true;
  job->paths = Strings(info[0]);
  napi_value p = SubmitIo(info.Env(), job);
  return p ? Napi::Value(info.Env(), p) : info.Env().Undefined();
}

// cacheLockFileOpen(path) -> fd | -errno: an object version's block-lock file, opened once per mapping.
Napi::Value CacheLockFileOpenJs(const Napi::CallbackInfo& info) {
  int fd = open(Str(info[0]).c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  return Napi::Number::New(info.Env(), fd < 0 ? -errno : fd);
}

// cacheRangeUnlock(lockFd, offset): lets go of a block's lock without writing it.
Napi::Value CacheRangeUnlockJs(const Napi::CallbackInfo& info) {
  RangeUnlock(info[0].As<Napi::Number>().Int32Value(), static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue()));
  return info.Env().Undefined();
}

// cacheCloseFd(fd): the lock file, once its mapping's last write ended.
Napi::Value CacheCloseFdJs(const Napi::CallbackInfo& info) {
  close(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

// cacheTryLock(path) -> fd, 0 if held elsewhere, or -errno: the directory's lock.
Napi::Value CacheTryLockJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), TryLock(Str(info[0]).c_str()));
}

// cacheUnlock(fd): lets go of the directory's lock.
Napi::Value CacheUnlockJs(const Napi::CallbackInfo& info) {
  close(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

// cacheCounterOpen(path) -> handle, or throws
Napi::Value CacheCounterOpenJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = Str(info[0]);
  std::lock_guard<std::mutex> lock(g_counters_mu);
  for (size_t i = 0; i < g_counters.size(); i++)
    if (g_counters[i].path == path) return Napi::Number::New(env, static_cast<double>(i));
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  struct stat st;
  const char* failed = "open";
  void* p = MAP_FAILED;
  if (fd >= 0) {
    failed = "fstat";
    if (fstat(fd, &st) == 0) {
      failed = "ftruncate";
      // Growing it is safe from any process: the new bytes read as zero.
      if (st.st_size >= 4096 || ftruncate(fd, 4096) == 0) {
        failed = "mmap";
        p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      }
    }
  }
  int err = errno;
  if (fd >= 0) close(fd);
  if (p == MAP_FAILED) {
    Napi::Error e = Napi::Error::New(env, std::string("s3mmap: cannot open the cache's usage counter ") + path + ": " + strerror(err));
    e.Set("code", Napi::String::New(env, strerrorname_np(err) ? strerrorname_np(err) : "EIO"));
    e.Set("syscall", Napi::String::New(env, failed));
    e.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  g_counters.push_back({path, static_cast<int64_t*>(p)});
  return Napi::Number::New(env, static_cast<double>(g_counters.size() - 1));
}

// cacheCounterAdd(handle, delta) -> the new value
Napi::Value CacheCounterAddJs(const Napi::CallbackInfo& info) {
  int64_t delta = static_cast<int64_t>(info[1].As<Napi::Number>().DoubleValue());
  int64_t v = __atomic_add_fetch(CounterWords(info[0]), delta, __ATOMIC_SEQ_CST);
  return Napi::Number::New(info.Env(), static_cast<double>(v));
}

// cacheCounterSet(handle, value): a cleanup pass, holding the directory's
// lock, says what it found, and when.
Napi::Value CacheCounterSetJs(const Napi::CallbackInfo& info) {
  int64_t* w = CounterWords(info[0]);
  __atomic_store_n(w, static_cast<int64_t>(info[1].As<Napi::Number>().DoubleValue()), __ATOMIC_SEQ_CST);
  __atomic_store_n(w + 2, NowMs(), __ATOMIC_SEQ_CST);
  return info.Env().Undefined();
}

// cacheCounterLastPass(handle) -> ms of the last cacheCounterSet, 0 if none ever (the counter is not to be trusted).
Napi::Value CacheCounterLastPassJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(__atomic_load_n(CounterWords(info[0]) + 2, __ATOMIC_SEQ_CST)));
}

Napi::Value CacheCounterGetJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(__atomic_load_n(CounterWords(info[0]), __ATOMIC_SEQ_CST)));
}

// cacheCounterPassWaiting(handle, ms): a cleanup pass waits for the lock since `ms` (0: done); writers step aside.
Napi::Value CacheCounterPassWaitingJs(const Napi::CallbackInfo& info) {
  __atomic_store_n(CounterWords(info[0]) + 1, static_cast<int64_t>(info[1].As<Napi::Number>().DoubleValue()), __ATOMIC_SEQ_CST);
  return info.Env().Undefined();
}

// xxh64(bytes, seed) -> BigInt, for tests of the format (synchronous, small inputs).
Napi::Value Xxh64Js(const Napi::CallbackInfo& info) {
  size_t n;
  uint8_t* p = BufferData(info[0], &n);
  uint64_t seed = info.Length() > 1 ? static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue()) : 0;
  return Napi::BigInt::New(info.Env(), Xxh64(p, n, seed));
}

}  // namespace

void InitDiskCache(Napi::Env env, Napi::Object exports) {
  exports.Set("cacheLookup", Napi::Function::New(env, CacheLookupJs));
  exports.Set("cacheWrite", Napi::Function::New(env, CacheWriteJs));
  exports.Set("cacheScan", Napi::Function::New(env, CacheScanJs));
  exports.Set("cacheUnlink", Napi::Function::New(env, CacheUnlinkJs));
  exports.Set("cacheTryLock", Napi::Function::New(env, CacheTryLockJs));
  exports.Set("cacheLockFileOpen", Napi::Function::New(env, CacheLockFileOpenJs));
  exports.Set("cacheRangeUnlock", Napi::Function::New(env, CacheRangeUnlockJs));
  exports.Set("cacheCloseFd", Napi::Function::New(env, CacheCloseFdJs));
  exports.Set("cacheUnlock", Napi::Function::New(env, CacheUnlockJs));
  exports.Set("cacheCounterOpen", Napi::Function::New(env, CacheCounterOpenJs));
  exports.Set("cacheCounterAdd", Napi::Function::New(env, CacheCounterAddJs));
  exports.Set("cacheCounterSet", Napi::Function::New(env, CacheCounterSetJs));
  exports.Set("cacheCounterGet", Napi::Function::New(env, CacheCounterGetJs));
  exports.Set("cacheCounterLastPass", Napi::Function::New(env, CacheCounterLastPassJs));
  exports.Set("cacheCounterPassWaiting", Napi::Function::New(env, CacheCounterPassWaitingJs));
  exports.Set("xxh64", Napi::Function::New(env, Xxh64Js));
}

}  // namespace s3mmap
