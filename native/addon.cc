// The addon's exports, and nothing else: each lives in the file of its job
// (uffd.cc syscalls, regions.cc registry, views.cc views, fault_ops.cc fault
// ioctls, poll.cc fd polling, exit_guard.cc, io_pool.cc our own I/O threads,
// disk_cache.cc the disk cache's syscalls, shm_pages.cc shared regions' files). Loaded on every thread that
// imports lib/shared/native.ts: the caller's thread (views), the fault
// worker (regions, polling, ioctls), reader workers (views).
#include <napi.h>

#include "disk_cache.h"
#include "exit_guard.h"
#include "fault_ops.h"
#include "io_pool.h"
#include "poll.h"
#include "regions.h"
#include "shm_pages.h"
#include "uffd.h"
#include "views.h"

namespace s3mmap {
namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("pageSize", Napi::Number::New(env, static_cast<double>(PageSize())));
  exports.Set("probe", Napi::Function::New(env, ProbeJs));
  exports.Set("createRegion", Napi::Function::New(env, CreateRegionJs));
  exports.Set("unmap", Napi::Function::New(env, UnmapJs));
  exports.Set("takeReleased", Napi::Function::New(env, TakeReleasedJs));
  exports.Set("destroyRegion", Napi::Function::New(env, DestroyRegionJs));
  exports.Set("liveRegions", Napi::Function::New(env, LiveRegionsJs));
  exports.Set("setViewLimit", Napi::Function::New(env, SetViewLimitJs));
  exports.Set("view", Napi::Function::New(env, ViewJs));
  exports.Set("detach", Napi::Function::New(env, DetachJs));
  exports.Set("release", Napi::Function::New(env, ReleaseJs));
  exports.Set("copy", Napi::Function::New(env, CopyJs));
  exports.Set("copyAsync", Napi::Function::New(env, CopyAsyncJs));
  exports.Set("wake", Napi::Function::New(env, WakeJs));
  exports.Set("patchPrivate", Napi::Function::New(env, PatchPrivateJs));
  exports.Set("poison", Napi::Function::New(env, PoisonJs));
  exports.Set("drop", Napi::Function::New(env, DropJs));
  exports.Set("readFaults", Napi::Function::New(env, ReadFaultsJs));
  exports.Set("watch", Napi::Function::New(env, WatchJs));
  exports.Set("unwatch", Napi::Function::New(env, UnwatchJs));
  exports.Set("setExiting", Napi::Function::New(env, SetExitingJs));
  exports.Set("armExitGuard", Napi::Function::New(env, ArmExitGuardJs));
  InitIoPool(env, exports);
  InitDiskCache(env, exports);
  InitShmPages(env, exports);
  return exports;
}

}  // namespace
}  // namespace s3mmap

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return s3mmap::Init(env, exports); }

NODE_API_MODULE(s3mmap_native, InitAddon)
