// Views: external ArrayBuffers over a region, made and released on the JS
// thread that holds them (main thread, reader workers). A view's hold on its
// region is tied to the JS object, not to the ArrayBuffer's backing store:
// Node frees the backing store as soon as the buffer is detached, and close()
// detaches at once but must keep the region mapped until the faults already
// waiting are served. So the hold ends exactly once, at release() or when the
// object is collected (a napi_wrap finalizer), whichever comes first.
#include "views.h"

#include <atomic>
#include <cerrno>
#include <string>

#include "napi_util.h"
#include "regions.h"

namespace s3mmap {
namespace {

// The longest ArrayBuffer this Node can make (buffer.constants.MAX_LENGTH),
// told by JS at load. N-API has no call for it, and asking V8 for more fails
// inside napi_create_external_arraybuffer in ways that aborted the process.
std::atomic<double> g_max_view{0};

struct View {
  Region* region;
  bool holding = true;
};

void EndHold(View* v) {
  if (!v->holding) return;
  v->holding = false;
  DropView(v->region);
}

void FinalizeView(napi_env, void* data, void*) {
  View* v = static_cast<View*>(data);
  EndHold(v);
  delete v;
}

View* Unwrap(Napi::Env env, Napi::Value value) {
  void* data = nullptr;
  if (!value.IsArrayBuffer() || napi_unwrap(env, value, &data) != napi_ok) return nullptr;
  return static_cast<View*>(data);
}

std::string Bytes(double n) { return std::to_string(static_cast<unsigned long long>(n)); }

}  // namespace

// setViewLimit(maxLength): once per thread at load; every thread agrees.
Napi::Value SetViewLimitJs(const Napi::CallbackInfo& info) {
  g_max_view = Num(info, 0);
  return info.Env().Undefined();
}

// view(id, offset, length) -> ArrayBuffer over bytes [offset, offset+length)
// of the object. Throws a RangeError (code EFBIG) for a length this Node's
// ArrayBuffers cannot have, before anything is asked of V8.
Napi::Value ViewJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t id = IdArg(info, 0);
  size_t offset = 0, length = 0;
  if (!ByteCountArg(info, 1, &offset) || !ByteCountArg(info, 2, &length)) {
    CodedRangeError(env, "ERR_OUT_OF_RANGE", "view offset and length must be whole numbers >= 0").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const double limit = g_max_view.load();
  if (static_cast<double>(length) > limit) {
    std::string msg = limit > 0 ? "a view of " + Bytes(length) + " bytes is more than one ArrayBuffer can hold in this Node.js (" + Bytes(limit) + " bytes)"
                                : "setViewLimit() was not called: the ArrayBuffer limit is unknown";
    CodedRangeError(env, "EFBIG", msg).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Region* r = AcquireView(id);
  if (!r) {
    ErrnoError(env, EBADF, "view", "mapping is closed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (offset > r->size || length > r->size - offset) {
    DropView(r);
    CodedRangeError(env, "ERR_OUT_OF_RANGE", "view " + Bytes(offset) + "+" + Bytes(length) + " is outside the object (" + Bytes(r->size) + " bytes)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // No backing-store finalizer: the wrap below owns the record.
  napi_value ab;
  if (napi_create_external_arraybuffer(env, static_cast<char*>(r->addr) + offset, length, nullptr, nullptr, &ab) != napi_ok) {
    DropView(r);
    if (!env.IsExceptionPending()) ErrnoError(env, ENOMEM, "napi_create_external_arraybuffer", "cannot make a view").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* v = new View{r};
  if (napi_wrap(env, ab, v, FinalizeView, nullptr, nullptr) != napi_ok) {
    // Unreachable by JS from here on: no hold, nothing to touch.
    napi_detach_arraybuffer(env, ab);
    delete v;
    DropView(r);
    if (!env.IsExceptionPending()) ErrnoError(env, ENOMEM, "napi_wrap", "cannot make a view").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Value(env, ab);
}

// detach(ab): the view's length becomes 0 now; its hold on the region stays
// until release(ab) or collection.
Napi::Value DetachJs(const Napi::CallbackInfo& info) {
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  if (!ab.IsDetached()) ab.Detach();
  return info.Env().Undefined();
}

// release(ab) -> views of the region left (0: it was unmapped now), or -1 if
// this view had released its hold already. Detaches the buffer first.
Napi::Value ReleaseJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  View* v = Unwrap(env, info[0]);
  if (!v) {
    Napi::TypeError::New(env, "release() takes an ArrayBuffer made by view()").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  if (!ab.IsDetached()) ab.Detach();
  if (!v->holding) return Napi::Number::New(env, -1);
  v->holding = false;
  return Napi::Number::New(env, DropView(v->region));
}

}  // namespace s3mmap
