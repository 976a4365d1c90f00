// The exit guard: a process exiting with threads parked in faults ends
// promptly with its exit code, and a fault worker that dies abandons its
// regions, so that parked threads neither hang nor read zeros.
#pragma once

#include <napi.h>

namespace s3mmap {

Napi::Value SetExitingJs(const Napi::CallbackInfo& info);
Napi::Value ArmExitGuardJs(const Napi::CallbackInfo& info);

}  // namespace s3mmap
