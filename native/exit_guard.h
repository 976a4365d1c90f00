// The exit guard: a process exiting with threads parked in faults ends
// promptly with its exit code instead of hanging or reading zeros.
#pragma once

#include <napi.h>

namespace s3mmap {

Napi::Value SetExitingJs(const Napi::CallbackInfo& info);
Napi::Value ArmExitGuardJs(const Napi::CallbackInfo& info);

}  // namespace s3mmap
