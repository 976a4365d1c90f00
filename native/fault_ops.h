// JS bindings of the fault-path syscalls (fault worker thread) and the probe
// (caller's thread, before mapping). Numbers in, numbers out: bytes or -errno.
#pragma once

#include <napi.h>

namespace s3mmap {

Napi::Value ProbeJs(const Napi::CallbackInfo& info);
Napi::Value CopyJs(const Napi::CallbackInfo& info);
Napi::Value CopyAsyncJs(const Napi::CallbackInfo& info);
Napi::Value PatchPrivateJs(const Napi::CallbackInfo& info);
Napi::Value WakeJs(const Napi::CallbackInfo& info);
Napi::Value PoisonJs(const Napi::CallbackInfo& info);
Napi::Value DropJs(const Napi::CallbackInfo& info);
Napi::Value ReadFaultsJs(const Napi::CallbackInfo& info);

}  // namespace s3mmap
