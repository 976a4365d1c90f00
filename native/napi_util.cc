// Errors and argument readers for the binding files. JS thread of the caller.
#include "napi_util.h"

#include <cmath>
#include <cstring>

namespace s3mmap {

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& what) {
  const char* name = strerrorname_np(err);
  std::string msg = what + ": " + (name ? name : "E?") + " (" + strerror(err) + "), " + syscall;
  Napi::Error e = Napi::Error::New(env, msg);
  Put(e, "code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  Put(e, "errno", Napi::Number::New(env, err));
  Put(e, "syscall", Napi::String::New(env, syscall));
  return e;
}

Napi::Error CodedRangeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error e = Napi::RangeError::New(env, message);
  Put(e, "code", Napi::String::New(env, code));
  return e;
}

uint64_t IdArg(const Napi::CallbackInfo& info, size_t i) {
  bool lossless;
  return info[i].As<Napi::BigInt>().Uint64Value(&lossless);
}

bool ByteCountArg(const Napi::CallbackInfo& info, size_t i, size_t* out) {
  if (info.Length() <= i || !info[i].IsNumber()) return false;
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 9007199254740991.0 || std::floor(d) != d) return false;
  *out = static_cast<size_t>(d);
  return true;
}

}  // namespace s3mmap
