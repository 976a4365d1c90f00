// Shared regions' syscalls on the user's shared memory directory
// (shm_pages.cc). Fault worker thread.
#pragma once

#include <napi.h>

namespace s3mmap {

void InitShmPages(Napi::Env env, Napi::Object exports);

}  // namespace s3mmap
