// ArrayBuffer views over regions, for any JS thread: each view holds its
// region mapped until it is released or its ArrayBuffer is collected.
#pragma once

#include <napi.h>

namespace s3mmap {

Napi::Value SetViewLimitJs(const Napi::CallbackInfo& info);
Napi::Value ViewJs(const Napi::CallbackInfo& info);
Napi::Value DetachJs(const Napi::CallbackInfo& info);
Napi::Value ReleaseJs(const Napi::CallbackInfo& info);

}  // namespace s3mmap
