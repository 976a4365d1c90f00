// The disk cache's usage counter: bytes a cache directory holds, shared by
// every process through one page of a MAP_SHARED file, with the atomics the
// writers and the cleanup pass use on it, and its JS bindings. Any thread.
#pragma once

#include <napi.h>

#include <cstdint>

namespace s3mmap {

// The words of a counter opened by cacheCounterOpen: [0] bytes held, [1] when
// a cleanup pass began waiting for the directory's lock (ms, 0: none), [2]
// when a pass last set [0] (ms, 0: never).
int64_t* CounterWords(const Napi::Value& handle);

int64_t NowMs();

// Adds n to *used unless that would pass cap.
bool Reserve(int64_t* used, int64_t n, int64_t cap);

void InitCacheCounter(Napi::Env env, Napi::Object exports);

}  // namespace s3mmap
