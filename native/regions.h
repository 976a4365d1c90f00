// The process-wide region registry: a uffd plus its mapping, shared by every
// thread. A fault worker creates regions and is their owner: only it retires
// and destroys them. Views (views.cc) on any thread hold them mapped.
// Unmapped regions are queued for their owner and signalled on that owner's
// eventfd, so it can stop serving them before it closes the uffd (rule 7:
// close last).
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

#include "uffd.h"

namespace s3mmap {

struct Region {
  uint64_t id;
  UffdHandle uffd;
  void* addr;
  size_t length;  // page multiple
  size_t size;    // object size, what views may cover
  int views = 0;
  bool unmapped = false;
  bool destroyed = false;  // the worker is done with it; the last view frees it
  bool fenced = false;     // abandoned: a PROT_NONE reservation until the last view goes
  bool orphaned = false;   // its fault worker is gone: any thread may destroy it
  napi_env owner = nullptr;  // the fault worker that serves it
};

// Counts a new view of region `id` and returns it, or nullptr when the region
// is gone or unmapped. The region stays valid until the matching DropView.
Region* AcquireView(uint64_t id);

// Ends one view's hold; at zero the region is unmapped (and freed if the
// worker destroyed it already). Returns the views left.
int DropView(Region* r);

// Regions mapped now: the exit guard's question.
int LiveRegions();

// Regions fault worker `owner` created that are mapped now.
int LiveRegionsOf(napi_env owner);

// Fault worker `owner` is gone without the process exiting: each region it
// served is unmapped and everyone asleep in one of its faults is woken, to
// fault again on nothing (SIGSEGV).
void AbandonRegions(napi_env owner);

// Fault worker `owner`'s "region released" eventfd, made on first use; -errno
// if it cannot be. Closed by CloseReleasedFd once nothing polls it.
int ReleasedFdOf(napi_env owner);
void CloseReleasedFd(napi_env owner);

// Fault worker `owner` is gone: its unmapped regions may be destroyed by any
// thread (the one that started the worker closes their uffds).
void OrphanRegions(napi_env owner);

Napi::Value CreateRegionJs(const Napi::CallbackInfo& info);
Napi::Value UnmapJs(const Napi::CallbackInfo& info);
Napi::Value TakeReleasedJs(const Napi::CallbackInfo& info);
Napi::Value DestroyRegionJs(const Napi::CallbackInfo& info);
Napi::Value LiveRegionsJs(const Napi::CallbackInfo& info);

}  // namespace s3mmap
