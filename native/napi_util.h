// Helpers shared by the binding files: errno and range errors as JS Errors
// with `code`, argument readers. Run on the JS thread that called the addon.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace s3mmap {

// An Error with code (EPERM), errno and syscall, as Node's own fs errors.
// The errno's symbolic name ("ENOENT"), or nullptr for a number Linux does not
// define. Not strerrorname_np: glibc has it only from 2.32 and musl not at all,
// and the prebuilt addons load on glibc 2.28 and on musl.
const char* ErrnoName(int err);
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& what);

// A RangeError with a code: a request no syscall was made for.
Napi::Error CodedRangeError(Napi::Env env, const char* code, const std::string& message);

// A property or element stored with a plain Node-API call whose failure is
// ignored. While a thread is torn down (worker terminate, process exit) JS
// cannot run and the store fails; node-addon-api's Set would then build an
// Error, which fails as well and aborts the process (FATAL ERROR: Error::New).
// The caller's value is thrown away with the thread anyway.
inline void Put(const Napi::Object& o, const char* key, napi_value v) { napi_set_named_property(o.Env(), o, key, v); }
inline void Put(const Napi::Object& o, uint32_t i, napi_value v) { napi_set_element(o.Env(), o, i, v); }
inline void Put(const Napi::Error& e, const char* key, napi_value v) { Put(e.Value(), key, v); }

uint64_t IdArg(const Napi::CallbackInfo& info, size_t i);

inline double Num(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().DoubleValue(); }

// A boolean argument (the JS side passes booleans), read without coercion:
// coercing may run JS, which a thread being torn down refuses (see Put).
inline bool Bool(const Napi::CallbackInfo& info, size_t i) {
  bool b = false;
  if (i < info.Length()) napi_get_value_bool(info.Env(), info[i], &b);
  return b;
}

inline std::string Str(const Napi::Value& v) { return v.As<Napi::String>().Utf8Value(); }

// An array of strings, read with plain Node-API calls (see Put): what could
// not be read is left out.
inline std::vector<std::string> Strings(const Napi::Value& v) {
  napi_env env = v.Env();
  uint32_t n = 0;
  napi_get_array_length(env, v, &n);
  std::vector<std::string> out;
  out.reserve(n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    if (napi_get_element(env, v, i, &el) != napi_ok) break;
    out.push_back(Napi::Value(env, el).As<Napi::String>().Utf8Value());
  }
  return out;
}

// A JS number that is a whole, non-negative byte count or offset (< 2^53).
bool ByteCountArg(const Napi::CallbackInfo& info, size_t i, size_t* out);

}  // namespace s3mmap
