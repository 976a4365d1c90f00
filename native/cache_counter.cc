// The disk cache's usage counter (cache_counter.h). Any thread: the I/O
// pool's writers reserve on it, the JS thread opens, reads and sets it.
#include "cache_counter.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>
#include <string>
#include <vector>

#include "napi_util.h"

namespace s3mmap {
namespace {

// Mapped once per process and directory, never unmapped (one page).
struct Counter {
  std::string path;
  int64_t* words;
};
std::mutex g_counters_mu;
std::vector<Counter> g_counters;

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
        // Backed now, or never: a page of a full filesystem (tmpfs, a
        // sparse file) that is first written through the mapping raises
        // SIGBUS; here it is ENOSPC, and the mapping runs without the cache.
        failed = "fallocate";
        int rc = posix_fallocate(fd, 0, 4096);
        if (rc != 0) {
          errno = rc;
        } else {
          failed = "mmap";
          p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        }
      }
    }
  }
  int err = errno;
  if (fd >= 0) close(fd);
  if (p == MAP_FAILED) {
    Napi::Error e = Napi::Error::New(env, std::string("s3mmap: cannot open the cache's usage counter ") + path + ": " + strerror(err));
    Put(e, "code", Napi::String::New(env, ErrnoName(err) ? ErrnoName(err) : "EIO"));
    Put(e, "syscall", Napi::String::New(env, failed));
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

}  // namespace

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

void InitCacheCounter(Napi::Env env, Napi::Object exports) {
  exports.Set("cacheCounterOpen", Napi::Function::New(env, CacheCounterOpenJs));
  exports.Set("cacheCounterAdd", Napi::Function::New(env, CacheCounterAddJs));
  exports.Set("cacheCounterSet", Napi::Function::New(env, CacheCounterSetJs));
  exports.Set("cacheCounterGet", Napi::Function::New(env, CacheCounterGetJs));
  exports.Set("cacheCounterLastPass", Napi::Function::New(env, CacheCounterLastPassJs));
  exports.Set("cacheCounterPassWaiting", Napi::Function::New(env, CacheCounterPassWaitingJs));
}

}  // namespace s3mmap
