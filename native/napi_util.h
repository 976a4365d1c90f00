// Helpers shared by the binding files: errno and range errors as JS Errors
// with `code`, argument readers. Run on the JS thread that called the addon.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace s3mmap {

// An Error with code (EPERM), errno and syscall, as Node's own fs errors.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& what);

// A RangeError with a code: a request no syscall was made for.
Napi::Error CodedRangeError(Napi::Env env, const char* code, const std::string& message);

uint64_t IdArg(const Napi::CallbackInfo& info, size_t i);

inline double Num(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().DoubleValue(); }

// A JS number that is a whole, non-negative byte count or offset (< 2^53).
bool ByteCountArg(const Napi::CallbackInfo& info, size_t i, size_t* out);

}  // namespace s3mmap
