// The Node binding: regions (a uffd plus its mapping) in a process-wide
// registry, Buffer views over them, libuv polling of fds on the calling
// thread's loop, and the exit guard. Loaded on the main thread (views, close)
// and in the fault worker (regions, polling, fault ioctls). Policy lives in
// lib/; here every fault-path call returns a number (bytes or -errno) and only
// setup failures throw, as Errors with code, errno and syscall.
#include <napi.h>
#include <uv.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <chrono>
#include <thread>
#include <sys/eventfd.h>
#include <unistd.h>
#include <unordered_map>
#include <vector>

#include "disk_cache.h"
#include "io_pool.h"
#include "uffd.h"

namespace s3mmap {
namespace {

// A mapping shared by every thread of the process. The mapping is unmapped
// when it is closed or when its last view is collected; the uffd is closed
// later, by the fault worker, once it has stopped polling it (closing first
// would let a touch read zeros: design rule 7).
struct Region {
  uint64_t id;
  UffdHandle uffd;
  void* addr;
  size_t length;  // page multiple
  size_t size;    // object size, what views expose
  int views = 0;
  bool ever_viewed = false;
  bool unmapped = false;
  bool destroyed = false;  // the worker is done with it; last view frees it
};

std::mutex g_mu;
std::unordered_map<uint64_t, Region*> g_regions;
std::vector<uint64_t> g_released;
uint64_t g_next_id = 1;
int g_notify_fd = -1;
std::atomic<int> g_live{0};
std::atomic<bool> g_exiting{false};
std::atomic<int> g_exit_code{0};

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& what) {
  const char* name = strerrorname_np(err);
  std::string msg = what + ": " + (name ? name : "E?") + " (" + strerror(err) + "), " + syscall;
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

int NotifyFd() {
  if (g_notify_fd < 0) g_notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  return g_notify_fd;
}

// Caller holds g_mu.
void UnmapLocked(Region* r) {
  if (r->unmapped) return;
  Unmap(r->addr, r->length);
  r->unmapped = true;
  g_live--;
  g_released.push_back(r->id);
  uint64_t one = 1;
  if (NotifyFd() >= 0) (void)!write(g_notify_fd, &one, sizeof(one));
}

Region* Find(uint64_t id) {
  auto it = g_regions.find(id);
  return it == g_regions.end() ? nullptr : it->second;
}

uint64_t IdArg(const Napi::CallbackInfo& info, size_t i) {
  bool lossless;
  return info[i].As<Napi::BigInt>().Uint64Value(&lossless);
}

double Num(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().DoubleValue(); }

// probe(userModeOnly) -> { ok, mode, features } | { ok:false, code, errno }
Napi::Value ProbeJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool user_only = info.Length() > 0 && info[0].ToBoolean();
  uint64_t features = 0;
  UffdMode mode = kModeSyscall;
  int r = ProbeFeatures(user_only, &features, &mode);
  Napi::Object o = Napi::Object::New(env);
  o.Set("pageSize", Napi::Number::New(env, static_cast<double>(PageSize())));
  o.Set("ok", Napi::Boolean::New(env, r == 0));
  if (r < 0) {
    const char* name = strerrorname_np(-r);
    o.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
    o.Set("errno", Napi::Number::New(env, -r));
    return o;
  }
  o.Set("mode", Napi::Number::New(env, mode));
  o.Set("features", Napi::Number::New(env, static_cast<double>(features)));
  return o;
}

// createRegion(size, userModeOnly, wantFeatures) -> { id, fd, address, length, mode, features, ioctls }
Napi::Value CreateRegionJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double size_d = Num(info, 0);
  bool user_only = info[1].ToBoolean();
  uint64_t want = static_cast<uint64_t>(Num(info, 2));
  const size_t page = PageSize();
  if (!(size_d > 0) || size_d > 9007199254740991.0) {
    ErrnoError(env, EINVAL, "mmap", "region size must be > 0").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  size_t size = static_cast<size_t>(size_d);
  size_t length = (size + page - 1) / page * page;

  auto* r = new Region();
  const char* failed = "userfaultfd";
  int rc = OpenUffd(user_only, want, &r->uffd, &failed);
  if (rc == 0) {
    rc = MapRegion(r->uffd.fd, length, &r->addr, &failed);
    if (rc < 0) close(r->uffd.fd);
  }
  if (rc < 0) {
    delete r;
    ErrnoError(env, -rc, failed, "cannot map a userfaultfd region").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  r->length = length;
  r->size = size;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    r->id = g_next_id++;
    g_regions[r->id] = r;
    g_live++;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", Napi::BigInt::New(env, r->id));
  o.Set("fd", Napi::Number::New(env, r->uffd.fd));
  o.Set("address", Napi::Number::New(env, static_cast<double>(reinterpret_cast<uintptr_t>(r->addr))));
  o.Set("length", Napi::Number::New(env, static_cast<double>(length)));
  o.Set("mode", Napi::Number::New(env, r->uffd.mode));
  o.Set("features", Napi::Number::New(env, static_cast<double>(r->uffd.features)));
  o.Set("ioctls", Napi::Number::New(env, static_cast<double>(r->uffd.ioctls)));
  return o;
}

void FinalizeView(Napi::Env, void*, Region* r) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (--r->views > 0) return;
  UnmapLocked(r);
  if (r->destroyed) {
    g_regions.erase(r->id);
    delete r;
  }
}

// view(id) -> ArrayBuffer over the region's first `size` bytes. Each view
// holds the mapping; the last one collected unmaps it.
Napi::Value ViewJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t id = IdArg(info, 0);
  Region* r;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    r = Find(id);
    if (!r || r->unmapped) {
      ErrnoError(env, EBADF, "view", "mapping is closed").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    r->views++;
    r->ever_viewed = true;
  }
  return Napi::ArrayBuffer::New(env, r->addr, r->size, FinalizeView, r);
}

Napi::Value DetachJs(const Napi::CallbackInfo& info) {
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  if (!ab.IsDetached()) ab.Detach();
  return info.Env().Undefined();
}

// unmap(id): close() from any thread. Views already handed out to other
// threads become invalid, which is why close() is documented as final.
Napi::Value UnmapJs(const Napi::CallbackInfo& info) {
  uint64_t id = IdArg(info, 0);
  std::lock_guard<std::mutex> lock(g_mu);
  Region* r = Find(id);
  if (r) UnmapLocked(r);
  return info.Env().Undefined();
}

// takeReleased() -> [id...] regions unmapped since the last call.
Napi::Value TakeReleasedJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<uint64_t> ids;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    ids.swap(g_released);
    uint64_t v;
    if (g_notify_fd >= 0) (void)!read(g_notify_fd, &v, sizeof(v));
  }
  Napi::Array a = Napi::Array::New(env, ids.size());
  for (size_t i = 0; i < ids.size(); i++) a.Set(i, Napi::BigInt::New(env, ids[i]));
  return a;
}

// destroyRegion(id): the fault worker has stopped polling; close the uffd
// (the mapping is gone already) and forget the region.
Napi::Value DestroyRegionJs(const Napi::CallbackInfo& info) {
  uint64_t id = IdArg(info, 0);
  Region* r = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    r = Find(id);
    if (!r) return info.Env().Undefined();
    UnmapLocked(r);
    if (r->views > 0) {
      // Views still exist (never collected): keep the struct for their
      // finalizers, but the uffd is no longer needed.
      close(r->uffd.fd);
      r->uffd.fd = -1;
      r->destroyed = true;
      return info.Env().Undefined();
    }
    g_regions.erase(id);
  }
  if (r->uffd.fd >= 0) close(r->uffd.fd);
  delete r;
  return info.Env().Undefined();
}

Napi::Value CopyJs(const Napi::CallbackInfo& info) {
  int fd = static_cast<int>(Num(info, 0));
  uintptr_t dst = static_cast<uintptr_t>(Num(info, 1));
  Napi::Uint8Array src = info[2].As<Napi::Uint8Array>();
  size_t off = static_cast<size_t>(Num(info, 3));
  size_t len = static_cast<size_t>(Num(info, 4));
  bool dontwake = info[5].ToBoolean();
  if (off + len > src.ByteLength()) return Napi::Number::New(info.Env(), -EINVAL);
  return Napi::Number::New(info.Env(), static_cast<double>(Copy(fd, dst, src.Data() + off, len, dontwake)));
}

Napi::Value WakeJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Wake(static_cast<int>(Num(info, 0)), static_cast<uintptr_t>(Num(info, 1)),
                                            static_cast<size_t>(Num(info, 2))));
}

Napi::Value ZeroPageJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(),
                           static_cast<double>(ZeroPage(static_cast<int>(Num(info, 0)), static_cast<uintptr_t>(Num(info, 1)),
                                                        static_cast<size_t>(Num(info, 2)), info[3].ToBoolean())));
}

Napi::Value PoisonJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(),
                           static_cast<double>(Poison(static_cast<int>(Num(info, 0)), static_cast<uintptr_t>(Num(info, 1)),
                                                      static_cast<size_t>(Num(info, 2)), info[3].ToBoolean())));
}

Napi::Value DropJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Drop(static_cast<uintptr_t>(Num(info, 0)), static_cast<size_t>(Num(info, 1))));
}

Napi::Value UnregisterJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Unregister(static_cast<int>(Num(info, 0)), static_cast<uintptr_t>(Num(info, 1)),
                                                  static_cast<size_t>(Num(info, 2))));
}

// readFaults(fd, Float64Array out) -> count | -errno. Addresses fit a double
// exactly (user space is below 2^47).
Napi::Value ReadFaultsJs(const Napi::CallbackInfo& info) {
  int fd = static_cast<int>(Num(info, 0));
  Napi::Float64Array out = info[1].As<Napi::Float64Array>();
  int max = static_cast<int>(out.ElementLength());
  std::vector<uint64_t> addrs(max);
  int n = ReadFaults(fd, addrs.data(), max);
  for (int i = 0; i < n; i++) out[i] = static_cast<double>(addrs[i]);
  return Napi::Number::New(info.Env(), n);
}

// A uv_poll on the calling thread's loop: the fault worker never blocks in
// read(2) (design rule 2), and its loop stays free to run fetches. An async
// cleanup hook closes the handle when the thread's environment is torn down,
// which Node requires before it closes the loop.
struct Watch {
  uv_poll_t poll;
  napi_env env;
  Napi::FunctionReference callback;
  napi_async_cleanup_hook_handle hook = nullptr;
  bool closing = false;
};

// Plain Node-API calls whose failures are ignored: while the thread is torn
// down (worker terminate, process exit) a poll may still fire and JS cannot
// run. node-addon-api's MakeCallback then builds an Napi::Error from the
// failure, which itself fails and aborts the process (FATAL ERROR:
// Error::Error napi_define_properties) after a clean run.
void OnPoll(uv_poll_t* handle, int status, int events) {
  Watch* w = static_cast<Watch*>(handle->data);
  if (w->closing) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, arg, result;
  napi_status s = napi_get_reference_value(env, static_cast<napi_ref>(w->callback), &fn);
  if (s == napi_ok && fn != nullptr) s = napi_get_global(env, &recv);
  if (s == napi_ok && fn != nullptr) s = napi_create_int32(env, status, &arg);
  if (s == napi_ok && fn != nullptr) s = napi_make_callback(env, nullptr, recv, fn, 1, &arg, &result);
  if (s == napi_pending_exception) {
    // A throw from the callback is this thread's uncaught exception. When JS
    // could not run at all there is none (undefined): nothing to report.
    napi_value exc = nullptr;
    napi_valuetype type = napi_undefined;
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok && exc != nullptr &&
        napi_typeof(env, exc, &type) == napi_ok && type != napi_undefined) {
      napi_fatal_exception(env, exc);
    }
  }
  napi_close_handle_scope(env, scope);
}

void OnPollClosed(uv_handle_t* handle) {
  Watch* w = static_cast<Watch*>(handle->data);
  napi_remove_async_cleanup_hook(w->hook);
  delete w;
}

void CloseWatch(Watch* w) {
  if (w->closing) return;
  w->closing = true;
  uv_poll_stop(&w->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnPollClosed);
}

void WatchCleanup(napi_async_cleanup_hook_handle, void* arg) {
  Watch* w = static_cast<Watch*>(arg);
  // The environment frees its references itself on teardown.
  w->callback.SuppressDestruct();
  CloseWatch(w);
}

// watch(fd, callback) -> External handle; callback(status) when readable.
Napi::Value WatchJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(Num(info, 0));
  if (fd < 0) fd = g_notify_fd;
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  auto* w = new Watch();
  w->env = env;
  w->callback = Napi::Persistent(info[1].As<Napi::Function>());
  w->poll.data = w;
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc != 0) {
    delete w;
    ErrnoError(env, -rc, "uv_poll_init", "cannot watch fd").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  napi_add_async_cleanup_hook(env, WatchCleanup, w, &w->hook);
  rc = uv_poll_start(&w->poll, UV_READABLE, OnPoll);
  if (rc != 0) {
    CloseWatch(w);
    ErrnoError(env, -rc, "uv_poll_start", "cannot watch fd").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::External<Watch>::New(env, w);
}

Napi::Value UnwatchJs(const Napi::CallbackInfo& info) {
  CloseWatch(info[0].As<Napi::External<Watch>>().Data());
  return info.Env().Undefined();
}

constexpr int kExitGraceMs = 750;

// setExiting(code): the main thread's 'exit' event. Node now joins every
// worker thread, and one parked in a fault waits for its fetch; if the fetch
// is slow or never comes (the fault worker is torn down too), the join never
// returns. A watchdog ends the process with its code if exiting takes longer
// than the grace period while regions are live. Normal exits finish first.
Napi::Value SetExitingJs(const Napi::CallbackInfo& info) {
  g_exit_code = static_cast<int>(Num(info, 0));
  if (!g_exiting.exchange(true)) {
    std::thread([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(kExitGraceMs));
      if (g_live > 0) _exit(g_exit_code);
    }).detach();
  }
  return info.Env().Undefined();
}

// Runs on the fault worker's thread as Node tears it down. If the process is
// exiting with live regions, a thread parked in a fault could never be served
// and Node would wait forever to join it; closing the uffd instead would hand
// it zeros. Ending the process here, with the code it was exiting with, is the
// only outcome that neither hangs nor lies.
void ExitGuard(void*) {
  if (g_exiting && g_live > 0) _exit(g_exit_code);
}

Napi::Value ArmExitGuardJs(const Napi::CallbackInfo& info) {
  napi_add_env_cleanup_hook(info.Env(), ExitGuard, nullptr);
  return info.Env().Undefined();
}

Napi::Value LiveRegionsJs(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), g_live.load()); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    NotifyFd();
  }
  exports.Set("probe", Napi::Function::New(env, ProbeJs));
  exports.Set("createRegion", Napi::Function::New(env, CreateRegionJs));
  exports.Set("view", Napi::Function::New(env, ViewJs));
  exports.Set("detach", Napi::Function::New(env, DetachJs));
  exports.Set("unmap", Napi::Function::New(env, UnmapJs));
  exports.Set("takeReleased", Napi::Function::New(env, TakeReleasedJs));
  exports.Set("destroyRegion", Napi::Function::New(env, DestroyRegionJs));
  exports.Set("copy", Napi::Function::New(env, CopyJs));
  exports.Set("wake", Napi::Function::New(env, WakeJs));
  exports.Set("zeropage", Napi::Function::New(env, ZeroPageJs));
  exports.Set("poison", Napi::Function::New(env, PoisonJs));
  exports.Set("drop", Napi::Function::New(env, DropJs));
  exports.Set("unregister", Napi::Function::New(env, UnregisterJs));
  exports.Set("readFaults", Napi::Function::New(env, ReadFaultsJs));
  exports.Set("watch", Napi::Function::New(env, WatchJs));
  exports.Set("unwatch", Napi::Function::New(env, UnwatchJs));
  exports.Set("setExiting", Napi::Function::New(env, SetExitingJs));
  exports.Set("armExitGuard", Napi::Function::New(env, ArmExitGuardJs));
  exports.Set("liveRegions", Napi::Function::New(env, LiveRegionsJs));
  InitIoPool(env, exports);
  InitDiskCache(env, exports);
  return exports;
}

}  // namespace
}  // namespace s3mmap

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return s3mmap::Init(env, exports); }

NODE_API_MODULE(s3mmap_native, InitAddon)
