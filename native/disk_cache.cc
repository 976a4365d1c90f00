// The disk cache's jobs on the I/O pool (io_pool.h): lookups (read and
// verify entries, take a missing block's fetch lock) and writes (each entry
// reserved on the usage counter under the directory's lock held shared,
// written to a temporary file and renamed); and the lock files' bindings.
// The entry format and its syscalls are in cache_entry.cc, the usage counter
// in cache_counter.cc, the cleanup pass's scans in cache_scan.cc. What to
// cache, when to evict and what a result means is decided in
// lib/worker/disk-cache.ts and disk-cache-store.ts.
#include <napi.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "cache_counter.h"
#include "cache_entry.h"
#include "disk_cache.h"
#include "io_pool.h"
#include "napi_util.h"
#include "xxhash64.h"

namespace s3mmap {
namespace {

// Keeps the job's buffers alive until it ends, and submits it: its promise.
Napi::Value Submit(Napi::Env env, std::unique_ptr<IoJob> job, std::initializer_list<Napi::Value> buffers) {
  for (const Napi::Value& b : buffers) job->Keep(env, b);
  napi_value p = SubmitIo(env, job.release());
  return p ? Napi::Value(env, p) : env.Undefined();
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
  return Submit(env, std::move(job), {info[1], info[2], info[6]});
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
          r = WriteEntry(tmp_paths[i].c_str(), paths[i].c_str(), identity, offset, data, len);
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
  return Submit(env, std::move(job), {info[1], info[2], info[6]});
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
  exports.Set("cacheTryLock", Napi::Function::New(env, CacheTryLockJs));
  exports.Set("cacheLockFileOpen", Napi::Function::New(env, CacheLockFileOpenJs));
  exports.Set("cacheRangeUnlock", Napi::Function::New(env, CacheRangeUnlockJs));
  exports.Set("cacheCloseFd", Napi::Function::New(env, CacheCloseFdJs));
  exports.Set("cacheUnlock", Napi::Function::New(env, CacheUnlockJs));
  exports.Set("xxh64", Napi::Function::New(env, Xxh64Js));
  InitCacheCounter(env, exports);
  InitCacheScan(env, exports);
}

}  // namespace s3mmap
