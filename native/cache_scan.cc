// The cleanup pass's syscalls, on the I/O pool (io_pool.h): a scan of the
// cache directory (paths, sizes, times) and unlinks. lib/worker/disk-cache-store.ts
// decides what goes. Registered by disk_cache.cc.
#include <napi.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "disk_cache.h"
#include "io_pool.h"
#include "napi_util.h"

namespace s3mmap {
namespace {

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
      Put(o, "errno", Napi::Number::New(e, error));
      return o;
    }
    size_t n = found.size();
    Napi::Array paths = Napi::Array::New(e, n);
    Napi::Float64Array sizes = Napi::Float64Array::New(e, n);
    Napi::Float64Array atimes = Napi::Float64Array::New(e, n);
    Napi::Float64Array mtimes = Napi::Float64Array::New(e, n);
    Napi::Uint8Array dirs = Napi::Uint8Array::New(e, n);
    for (size_t i = 0; i < n; i++) {
      Put(paths, i, Napi::String::New(e, found[i].path));
      sizes[i] = found[i].size;
      atimes[i] = found[i].atime_ms;
      mtimes[i] = found[i].mtime_ms;
      dirs[i] = found[i].dir ? 1 : 0;
    }
    Put(o, "paths", paths);
    Put(o, "sizes", sizes);
    Put(o, "atimes", atimes);
    Put(o, "mtimes", mtimes);
    Put(o, "dirs", dirs);
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

}  // namespace

void InitCacheScan(Napi::Env env, Napi::Object exports) {
  exports.Set("cacheScan", Napi::Function::New(env, CacheScanJs));
  exports.Set("cacheUnlink", Napi::Function::New(env, CacheUnlinkJs));
}

}  // namespace s3mmap
