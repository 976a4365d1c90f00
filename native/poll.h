// uv_poll of an fd on the calling thread's libuv loop: how the fault worker
// waits for fault messages and released regions without blocking (rule 2).
#pragma once

#include <napi.h>

namespace s3mmap {

Napi::Value WatchJs(const Napi::CallbackInfo& info);
Napi::Value UnwatchJs(const Napi::CallbackInfo& info);

}  // namespace s3mmap
