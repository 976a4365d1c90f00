// fd polling on the calling thread's loop (the fault worker's): the worker
// never blocks in read(2) (rule 2), and its loop stays free to run
// fetches. An async cleanup hook closes the handle when the thread's
// environment is torn down, which Node requires before it closes the loop.
#include "poll.h"

#include <uv.h>

#include "napi_util.h"
#include "regions.h"

namespace s3mmap {
namespace {

struct Watch {
  uv_poll_t poll;
  napi_env env;
  Napi::FunctionReference callback;
  napi_async_cleanup_hook_handle hook = nullptr;
  bool closing = false;
  bool released = false;  // watches this env's "region released" eventfd
};

// Plain Node-API calls whose failures are ignored: while the thread is torn
// down (worker terminate, process exit) a poll may still fire and JS cannot
// run. node-addon-api's MakeCallback then builds an Napi::Error from the
// failure, which itself fails and aborts the process (FATAL ERROR:
// Error::Error napi_define_properties) after a clean run.
void OnPoll(uv_poll_t* handle, int status, int events) {
  Watch* w = static_cast<Watch*>(handle->data);
  if (w->closing) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, arg, result;
  napi_status s = napi_get_reference_value(env, static_cast<napi_ref>(w->callback), &fn);
  if (s == napi_ok && fn != nullptr) s = napi_get_global(env, &recv);
  if (s == napi_ok && fn != nullptr) s = napi_create_int32(env, status, &arg);
  if (s == napi_ok && fn != nullptr) s = napi_make_callback(env, nullptr, recv, fn, 1, &arg, &result);
  if (s == napi_pending_exception) {
    // A throw from the callback is this thread's uncaught exception. When JS
    // could not run at all there is none (undefined): nothing to report.
    napi_value exc = nullptr;
    napi_valuetype type = napi_undefined;
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok && exc != nullptr &&
        napi_typeof(env, exc, &type) == napi_ok && type != napi_undefined) {
      napi_fatal_exception(env, exc);
    }
  }
  napi_close_handle_scope(env, scope);
}

void OnPollClosed(uv_handle_t* handle) {
  Watch* w = static_cast<Watch*>(handle->data);
  napi_remove_async_cleanup_hook(w->hook);
  // Closed only now that the loop no longer polls it: the number could be reused.
  if (w->released) CloseReleasedFd(w->env);
  delete w;
}

void CloseWatch(Watch* w) {
  if (w->closing) return;
  w->closing = true;
  uv_poll_stop(&w->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnPollClosed);
}

void WatchCleanup(napi_async_cleanup_hook_handle, void* arg) {
  Watch* w = static_cast<Watch*>(arg);
  // The environment frees its references itself on teardown.
  w->callback.SuppressDestruct();
  CloseWatch(w);
}

}  // namespace

// watch(fd, callback) -> External handle; callback(status) when readable.
// fd -1 is this thread's "region released" eventfd (the fault worker's own).
Napi::Value WatchJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(Num(info, 0));
  bool released = fd < 0;
  if (released) {
    fd = ReleasedFdOf(env);
    if (fd < 0) {
      ErrnoError(env, -fd, "eventfd", "cannot make the region-released eventfd").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  auto* w = new Watch();
  w->env = env;
  w->callback = Napi::Persistent(info[1].As<Napi::Function>());
  w->poll.data = w;
  w->released = released;
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc != 0) {
    if (released) CloseReleasedFd(env);
    delete w;
    ErrnoError(env, -rc, "uv_poll_init", "cannot watch fd").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  napi_add_async_cleanup_hook(env, WatchCleanup, w, &w->hook);
  rc = uv_poll_start(&w->poll, UV_READABLE, OnPoll);
  if (rc != 0) {
    CloseWatch(w);
    ErrnoError(env, -rc, "uv_poll_start", "cannot watch fd").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::External<Watch>::New(env, w);
}

Napi::Value UnwatchJs(const Napi::CallbackInfo& info) {
  CloseWatch(info[0].As<Napi::External<Watch>>().Data());
  return info.Env().Undefined();
}

}  // namespace s3mmap
