// Bindings of the disk cache's syscalls (disk_cache.cc and the cache_*.cc
// files): entry reads and writes on the I/O pool, lock files, scans, the
// shared usage counter.
// Registered by addon.cc; used by the fault worker and the CLI.
#pragma once

#include <napi.h>

namespace s3mmap {

void InitDiskCache(Napi::Env env, Napi::Object exports);
// The cleanup pass's scans and unlinks (cache_scan.cc), registered by InitDiskCache.
void InitCacheScan(Napi::Env env, Napi::Object exports);

}  // namespace s3mmap
