// Helpers shared by the binding files: errno and range errors as JS Errors
// with `code`, argument readers. Run on the JS thread that called the addon.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace s3mmap {

// An Error with code (EPERM), errno and syscall, as Node's own fs errors.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& what);

// A RangeError with a code: a request no syscall was made for.
Napi::Error CodedRangeError(Napi::Env env, const char* code, const std::string& message);

uint64_t IdArg(const Napi::CallbackInfo& info, size_t i);

inline double Num(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().DoubleValue(); }

inline std::string Str(const Napi::Value& v) { return v.As<Napi::String>().Utf8Value(); }

inline std::vector<std::string> Strings(const Napi::Value& v) {
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::string> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out[i] = a.Get(i).As<Napi::String>().Utf8Value();
  return out;
}

// A JS number that is a whole, non-negative byte count or offset (< 2^53).
bool ByteCountArg(const Napi::CallbackInfo& info, size_t i, size_t* out);

}  // namespace s3mmap
