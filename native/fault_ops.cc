// Fault-path ioctls for the fault worker, and the uffd probe for the caller's
// thread. Nothing here throws: results go back as numbers so that what to do
// with EEXIST, EAGAIN or ENOENT is decided in TypeScript.
#include "fault_ops.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "io_pool.h"
#include "napi_util.h"
#include "uffd.h"

namespace s3mmap {

// probe(userModeOnly) -> { ok, mode, features } | { ok:false, code, errno }
Napi::Value ProbeJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool user_only = Bool(info, 0);
  uint64_t features = 0;
  UffdMode mode = kModeSyscall;
  int r = ProbeFeatures(user_only, &features, &mode);
  Napi::Object o = Napi::Object::New(env);
  Put(o, "ok", Napi::Boolean::New(env, r == 0));
  if (r < 0) {
    const char* name = ErrnoName(-r);
    Put(o, "code", Napi::String::New(env, name ? name : "EUNKNOWN"));
    Put(o, "errno", Napi::Number::New(env, -r));
    return o;
  }
  Put(o, "mode", Napi::Number::New(env, mode));
  Put(o, "features", Napi::Number::New(env, static_cast<double>(features)));
  return o;
}

namespace {

// Arguments (fd, dst, src, srcOffset, length) of a call that puts bytes of
// one of the worker's buffers at an address of a region. False when the
// range is not inside src.
struct PutRange {
  int fd;
  uintptr_t dst;
  const uint8_t* src;
  size_t len;
};

bool PutArgs(const Napi::CallbackInfo& info, PutRange* out) {
  Napi::Uint8Array src = info[2].As<Napi::Uint8Array>();
  size_t off = static_cast<size_t>(Num(info, 3));
  size_t len = static_cast<size_t>(Num(info, 4));
  if (off > src.ByteLength() || len > src.ByteLength() - off) return false;
  *out = {static_cast<int>(Num(info, 0)), static_cast<uintptr_t>(Num(info, 1)), src.Data() + off, len};
  return true;
}

}  // namespace

// copy(fd, dst, src, srcOffset, length, dontWake) -> bytes copied | -errno
Napi::Value CopyJs(const Napi::CallbackInfo& info) {
  PutRange a;
  if (!PutArgs(info, &a)) return Napi::Number::New(info.Env(), -EINVAL);
  return Napi::Number::New(info.Env(), static_cast<double>(Copy(a.fd, a.dst, a.src, a.len, Bool(info, 5))));
}

namespace {

// One UFFDIO_COPY on an I/O pool thread, through its own dup of the uffd: a
// region retired meanwhile closes its fd, and that number may name a new
// uffd by the time the ioctl runs; the dup still names the old one, whose
// copy into a range it no longer covers fails with ENOENT.
class CopyJob : public NumberJob {
 public:
  CopyJob(int fd, uintptr_t dst, const uint8_t* src, size_t len, bool dontwake)
      : fd_(fd), dst_(dst), src_(src), len_(len), dontwake_(dontwake) {}
  ~CopyJob() override {
    if (fd_ >= 0) close(fd_);
  }
  void Work() override { result_ = Copy(fd_, dst_, src_, len_, dontwake_); }

 private:
  int fd_;
  uintptr_t dst_;
  const uint8_t* src_;
  size_t len_;
  bool dontwake_;
};

}  // namespace

// copyAsync(fd, dst, src, srcOffset, length, dontWake) -> Promise<bytes copied | -errno>:
// copy() on the I/O pool, as a background job, so that the fault worker's
// loop reads sockets meanwhile; src is kept alive until it ends.
Napi::Value CopyAsyncJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PutRange a;
  long early = 0;
  int fd = -1;
  if (!PutArgs(info, &a)) early = -EINVAL;
  else if ((fd = fcntl(a.fd, F_DUPFD_CLOEXEC, 0)) < 0) early = -errno;
  if (early < 0) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(Napi::Number::New(env, static_cast<double>(early)));
    return d.Promise();
  }
  auto* job = new CopyJob(fd, a.dst, a.src, a.len, Bool(info, 5));
  job->background = true;
  job->Keep(env, info[2]);
  napi_value p = SubmitIo(env, job);
  return p ? Napi::Value(env, p) : env.Undefined();
}

// patchPrivate(fd, dst, src, srcOffset, length) -> 0 | -errno
Napi::Value PatchPrivateJs(const Napi::CallbackInfo& info) {
  PutRange a;
  if (!PutArgs(info, &a)) return Napi::Number::New(info.Env(), -EINVAL);
  return Napi::Number::New(info.Env(), PatchPrivate(a.fd, a.dst, a.src, a.len));
}

Napi::Value WakeJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Wake(static_cast<int>(Num(info, 0)), static_cast<uintptr_t>(Num(info, 1)),
                                            static_cast<size_t>(Num(info, 2))));
}

Napi::Value PoisonJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(),
                           static_cast<double>(Poison(static_cast<int>(Num(info, 0)), static_cast<uintptr_t>(Num(info, 1)),
                                                      static_cast<size_t>(Num(info, 2)), Bool(info, 3))));
}

Napi::Value DropJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Drop(static_cast<uintptr_t>(Num(info, 0)), static_cast<size_t>(Num(info, 1))));
}

// readFaults(fd, Float64Array out, Uint32Array tids) -> count | -errno.
// Addresses fit a double exactly (user space is below 2^47); tids[i] is the
// faulting thread's id (0 without UFFD_FEATURE_THREAD_ID). At most as many as
// the shorter array holds.
Napi::Value ReadFaultsJs(const Napi::CallbackInfo& info) {
  int fd = static_cast<int>(Num(info, 0));
  Napi::Float64Array out = info[1].As<Napi::Float64Array>();
  Napi::Uint32Array tid_out = info[2].As<Napi::Uint32Array>();
  int max = static_cast<int>(std::min(out.ElementLength(), tid_out.ElementLength()));
  std::vector<uint64_t> addrs(max);
  std::vector<uint32_t> tids(max);
  int n = ReadFaults(fd, addrs.data(), tids.data(), max);
  for (int i = 0; i < n; i++) {
    out[i] = static_cast<double>(addrs[i]);
    tid_out[i] = tids[i];
  }
  return Napi::Number::New(info.Env(), n);
}

}  // namespace s3mmap
