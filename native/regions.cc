// Region registry: create (uffd + mmap + register), unmap, destroy, and each
// fault worker's queue of released regions. Any thread: views come and go on
// the threads that hold them; a fault worker creates, retires and destroys
// only the regions it serves (every thread that maps has a fault worker of
// its own, so several may share this registry).
#include "regions.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "napi_util.h"

namespace s3mmap {
namespace {

// A fault worker's released regions and the eventfd that wakes it. One per
// worker: with one queue for the process, whichever worker woke first took
// every id and closed uffds that another worker was still serving.
struct Owner {
  int fd = -1;
  std::vector<uint64_t> released;
};

std::mutex g_mu;
std::unordered_map<uint64_t, Region*> g_regions;
std::unordered_map<napi_env, Owner> g_owners;
uint64_t g_next_id = 1;
std::atomic<int> g_live{0};

Region* FindLocked(uint64_t id) {
  auto it = g_regions.find(id);
  return it == g_regions.end() ? nullptr : it->second;
}

// The region no longer serves: counted out of the live ones and queued for
// the fault worker that serves it to retire. A region whose worker is gone is
// queued for nobody: the thread that started that worker destroys it.
void MarkUnmappedLocked(Region* r) {
  r->unmapped = true;
  g_live--;
  if (r->orphaned) return;
  auto it = g_owners.find(r->owner);
  if (it == g_owners.end()) return;
  it->second.released.push_back(r->id);
  uint64_t one = 1;
  if (it->second.fd >= 0) (void)!write(it->second.fd, &one, sizeof(one));
}

void UnmapLocked(Region* r) {
  if (r->unmapped) return;
  Unmap(r->addr, r->length);
  MarkUnmappedLocked(r);
}

// Nobody can touch the range any more: the fence goes too.
void LiftFenceLocked(Region* r) {
  if (!r->fenced) return;
  Unmap(r->addr, r->length);
  r->fenced = false;
}

}  // namespace

int ReleasedFdOf(napi_env owner) {
  std::lock_guard<std::mutex> lock(g_mu);
  Owner& o = g_owners[owner];
  if (o.fd < 0) o.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  return o.fd < 0 ? -errno : o.fd;
}

void CloseReleasedFd(napi_env owner) {
  int fd = -1;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = g_owners.find(owner);
    if (it == g_owners.end()) return;
    fd = it->second.fd;
    g_owners.erase(it);
  }
  if (fd >= 0) close(fd);
}

void OrphanRegions(napi_env owner) {
  std::lock_guard<std::mutex> lock(g_mu);
  for (auto& [id, r] : g_regions) {
    // A live one is the exit guard's to fence first (AbandonRegions).
    if (r->owner == owner && r->unmapped) r->orphaned = true;
  }
  auto it = g_owners.find(owner);
  if (it != g_owners.end()) it->second.released.clear();
}

int LiveRegions() { return g_live.load(); }

int LiveRegionsOf(napi_env owner) {
  std::lock_guard<std::mutex> lock(g_mu);
  int n = 0;
  for (auto& [id, r] : g_regions) n += r->owner == owner && !r->unmapped;
  return n;
}

void AbandonRegions(napi_env owner) {
  std::lock_guard<std::mutex> lock(g_mu);
  for (auto& [id, r] : g_regions) {
    // A destroyed region is unmapped already.
    if (r->owner != owner || r->unmapped) continue;
    // Not a plain munmap: views of the region may still be read, and the
    // range could be mapped again for something else. Replacing the mapping
    // wakes nobody; woken after it, a parked thread faults again on the
    // fence, never on zeros (the uffd stays open, rule 7).
    Fence(r->addr, r->length);
    r->fenced = true;
    r->orphaned = true;
    MarkUnmappedLocked(r);
    Wake(r->uffd.fd, reinterpret_cast<uintptr_t>(r->addr), r->length);
  }
}

Region* AcquireView(uint64_t id) {
  std::lock_guard<std::mutex> lock(g_mu);
  Region* r = FindLocked(id);
  if (!r || r->unmapped) return nullptr;
  r->views++;
  return r;
}

int DropView(Region* r) {
  std::lock_guard<std::mutex> lock(g_mu);
  int left = --r->views;
  if (left > 0) return left;
  UnmapLocked(r);
  LiftFenceLocked(r);
  if (r->destroyed) {
    g_regions.erase(r->id);
    delete r;
  }
  return 0;
}

// createRegion(size, userModeOnly, wantFeatures, shmFd) -> { id, fd, address, length, mode, features }
// shmFd -1: private memory; else the shared pages file to map (shm_pages.cc).
Napi::Value CreateRegionJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t size = 0;
  if (!ByteCountArg(info, 0, &size) || size == 0) {
    ErrnoError(env, EINVAL, "mmap", "region size must be a whole number > 0").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  bool user_only = Bool(info, 1);
  uint64_t want = static_cast<uint64_t>(Num(info, 2));
  int shm_fd = info.Length() > 3 ? static_cast<int>(Num(info, 3)) : -1;
  const size_t page = PageSize();
  size_t length = (size + page - 1) / page * page;

  auto* r = new Region();
  const char* failed = "userfaultfd";
  int rc = OpenUffd(user_only, want, &r->uffd, &failed);
  if (rc == 0) {
    rc = MapRegion(r->uffd.fd, length, shm_fd, &r->addr, &failed);
    if (rc < 0) close(r->uffd.fd);
  }
  if (rc < 0) {
    delete r;
    ErrnoError(env, -rc, failed, "cannot map a userfaultfd region").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  r->length = length;
  r->size = size;
  r->owner = env;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    r->id = g_next_id++;
    g_regions[r->id] = r;
    g_live++;
  }
  Napi::Object o = Napi::Object::New(env);
  Put(o, "id", Napi::BigInt::New(env, r->id));
  Put(o, "fd", Napi::Number::New(env, r->uffd.fd));
  Put(o, "address", Napi::Number::New(env, static_cast<double>(reinterpret_cast<uintptr_t>(r->addr))));
  Put(o, "length", Napi::Number::New(env, static_cast<double>(length)));
  Put(o, "mode", Napi::Number::New(env, r->uffd.mode));
  Put(o, "features", Napi::Number::New(env, static_cast<double>(r->uffd.features)));
  return o;
}

// unmap(id): a region nobody may hold (its first view failed); the fault
// worker retires it from the released queue.
Napi::Value UnmapJs(const Napi::CallbackInfo& info) {
  uint64_t id = IdArg(info, 0);
  std::lock_guard<std::mutex> lock(g_mu);
  Region* r = FindLocked(id);
  if (r) UnmapLocked(r);
  return info.Env().Undefined();
}

// takeReleased() -> [id...] regions this fault worker serves that were
// unmapped since its last call.
Napi::Value TakeReleasedJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<uint64_t> ids;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = g_owners.find(env);
    if (it != g_owners.end()) {
      ids.swap(it->second.released);
      uint64_t v;
      if (it->second.fd >= 0) (void)!read(it->second.fd, &v, sizeof(v));
    }
  }
  Napi::Array a = Napi::Array::New(env, ids.size());
  for (size_t i = 0; i < ids.size(); i++) Put(a, i, Napi::BigInt::New(env, ids[i]));
  return a;
}

// destroyRegion(id): the fault worker that serves the region has stopped
// polling it; close the uffd (the mapping is gone already) and forget the
// region. Refused (EPERM) on any other thread while that worker lives: its
// poll watcher, copies and chunk cache would go on with a closed fd number.
// Once the worker is gone (orphaned) the thread that started it may.
Napi::Value DestroyRegionJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t id = IdArg(info, 0);
  Region* r = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    r = FindLocked(id);
    if (!r || r->destroyed) return env.Undefined();
    if (r->owner != static_cast<napi_env>(env) && !r->orphaned) {
      ErrnoError(env, EPERM, "destroyRegion", "region " + std::to_string(id) + " is served by another fault worker; only that worker may retire it")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    UnmapLocked(r);
    if (r->views > 0) {
      // Views still exist (never collected): keep the struct for their
      // finalizers, but the uffd is no longer needed.
      close(r->uffd.fd);
      r->uffd.fd = -1;
      r->destroyed = true;
      return info.Env().Undefined();
    }
    LiftFenceLocked(r);
    g_regions.erase(id);
  }
  if (r->uffd.fd >= 0) close(r->uffd.fd);
  delete r;
  return info.Env().Undefined();
}

Napi::Value LiveRegionsJs(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), LiveRegions()); }

}  // namespace s3mmap
