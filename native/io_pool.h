// A small pthread pool of our own for file I/O on the fault path: pread(2)
// for file sources and the disk cache's reads, writes and scans. The libuv
// threadpool may be full of threads parked in page faults (design rule 3),
// and synchronous I/O on the fault worker's loop would stall every other
// fault, so these jobs run here and complete on the JS thread that submitted
// them (a thread-safe function bound to that thread's env), as promises.
// One pool per env that uses it (in practice the fault worker).
#pragma once

#include <napi.h>

#include <vector>

namespace s3mmap {

class IoJob {
 public:
  virtual ~IoJob() = default;
  // Pool thread: syscalls and memory only, no Node-API.
  virtual void Work() = 0;
  // JS thread, after Work(): the value the promise resolves with.
  virtual napi_value Result(napi_env env) = 0;
  // Background jobs (cache writes, scans, unlinks) never take the last free
  // thread: a read that a faulting thread waits for always finds one.
  bool background = false;

 private:
  friend class IoPool;
  friend void RunCompletion(napi_env, napi_value, void*, void*);
  friend napi_value SubmitIo(napi_env, IoJob*);
  napi_deferred deferred_ = nullptr;
  std::vector<napi_ref> keep_;
 public:
  // Keeps `value` (a Buffer whose memory Work() reads or writes) alive until completion.
  void Keep(napi_env env, napi_value value);
};

// A job whose promise resolves with one number (a count, or -errno): result_.
class NumberJob : public IoJob {
 public:
  napi_value Result(napi_env env) override {
    napi_value v;
    napi_create_double(env, static_cast<double>(result_), &v);
    return v;
  }

 protected:
  long result_ = 0;
};

// Queues `job` (owned from here on) and returns its promise. JS thread.
napi_value SubmitIo(napi_env env, IoJob* job);

// Adds ioPread to `exports`.
void InitIoPool(Napi::Env env, Napi::Object exports);

// Argument helpers shared by the I/O bindings.
uint8_t* BufferData(const Napi::Value& v, size_t* length);

}  // namespace s3mmap
