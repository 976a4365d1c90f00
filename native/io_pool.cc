// The I/O pool (see io_pool.h) and the one plain job it serves by itself,
// ioPread for file sources. Threads start on the first job of an env and are
// joined when that env is torn down; completions reach the submitting thread
// through a thread-safe function that keeps its loop alive only while jobs
// are pending, so an idle pool never holds a process or a worker open.
#include "io_pool.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace s3mmap {

namespace {
// Page-cache reads are memcpy-bound on two cores; a cold disk wants a few in
// flight. Half of them at most run background jobs.
constexpr int kThreads = 4;
constexpr int kMaxBackground = kThreads / 2;
}  // namespace

void RunCompletion(napi_env env, napi_value, void* context, void* data);

class IoPool {
 public:
  static IoPool* For(napi_env env) {
    std::lock_guard<std::mutex> lock(registry_mu_);
    auto it = registry_.find(env);
    if (it != registry_.end()) return it->second;
    auto* pool = new IoPool(env);
    if (!pool->tsfn_) {
      delete pool;
      return nullptr;
    }
    registry_[env] = pool;
    return pool;
  }

  void Submit(IoJob* job) {
    if (pending_++ == 0) napi_ref_threadsafe_function(env_, tsfn_);
    std::lock_guard<std::mutex> lock(mu_);
    if (threads_.empty()) {
      for (int i = 0; i < kThreads; i++) threads_.emplace_back([this] { Loop(); });
    }
    (job->background ? background_ : urgent_).push_back(job);
    cv_.notify_one();
  }

  // JS thread, from RunCompletion.
  void Completed() {
    if (--pending_ == 0) napi_unref_threadsafe_function(env_, tsfn_);
  }

 private:
  explicit IoPool(napi_env env) : env_(env) {
    napi_value name;
    napi_create_string_utf8(env, "s3mmap-io", NAPI_AUTO_LENGTH, &name);
    if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, this, Finalize, this, RunCompletion, &tsfn_) != napi_ok) {
      tsfn_ = nullptr;
      return;
    }
    napi_unref_threadsafe_function(env, tsfn_);
    napi_add_env_cleanup_hook(env, Cleanup, this);
  }

  void Loop() {
    // Signals belong to Node's threads, never to these.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stopping_ || !urgent_.empty() || (!background_.empty() && bg_running_ < kMaxBackground); });
      if (stopping_) return;
      IoJob* job;
      bool bg = urgent_.empty();
      if (bg) {
        job = background_.front();
        background_.pop_front();
        bg_running_++;
      } else {
        job = urgent_.front();
        urgent_.pop_front();
      }
      lock.unlock();
      job->Work();
      if (napi_call_threadsafe_function(tsfn_, job, napi_tsfn_nonblocking) != napi_ok) {
        delete job;  // the env is going away; it frees the job's references itself
      }
      lock.lock();
      if (bg) {
        bg_running_--;
        if (!background_.empty()) cv_.notify_one();
      }
    }
  }

  // The env is torn down (worker exit, process exit): jobs are short file
  // syscalls that never wait on a lock, so joining takes milliseconds.
  static void Cleanup(void* arg) {
    auto* self = static_cast<IoPool*>(arg);
    {
      std::lock_guard<std::mutex> lock(registry_mu_);
      registry_.erase(self->env_);
    }
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->stopping_ = true;
      threads.swap(self->threads_);
    }
    self->cv_.notify_all();
    for (auto& t : threads) t.join();
    for (IoJob* j : self->urgent_) delete j;
    for (IoJob* j : self->background_) delete j;
    self->urgent_.clear();
    self->background_.clear();
    napi_release_threadsafe_function(self->tsfn_, napi_tsfn_abort);
  }

  static void Finalize(napi_env, void* data, void*) { delete static_cast<IoPool*>(data); }

  napi_env env_;
  napi_threadsafe_function tsfn_ = nullptr;
  int pending_ = 0;  // JS thread only
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<IoJob*> urgent_;
  std::deque<IoJob*> background_;
  int bg_running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;

  static std::mutex registry_mu_;
  static std::unordered_map<napi_env, IoPool*> registry_;
};

std::mutex IoPool::registry_mu_;
std::unordered_map<napi_env, IoPool*> IoPool::registry_;

void IoJob::Keep(napi_env env, napi_value value) {
  napi_ref ref;
  if (napi_create_reference(env, value, 1, &ref) == napi_ok) keep_.push_back(ref);
}

// A null env means the thread-safe function is being torn down with the
// env: nothing can be resolved, and the env frees the references.
void RunCompletion(napi_env env, napi_value, void* context, void* data) {
  auto* job = static_cast<IoJob*>(data);
  if (env == nullptr) {
    delete job;
    return;
  }
  static_cast<IoPool*>(context)->Completed();
  napi_value result = job->Result(env);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_reject_deferred(env, job->deferred_, exc);
  } else {
    if (result == nullptr) napi_get_undefined(env, &result);
    napi_resolve_deferred(env, job->deferred_, result);
  }
  for (napi_ref r : job->keep_) napi_delete_reference(env, r);
  delete job;
}

napi_value SubmitIo(napi_env env, IoJob* job) {
  IoPool* pool = IoPool::For(env);
  napi_value promise;
  if (!pool || napi_create_promise(env, &job->deferred_, &promise) != napi_ok) {
    for (napi_ref r : job->keep_) napi_delete_reference(env, r);
    delete job;
    napi_throw_error(env, "EIO", "s3mmap: cannot start the I/O pool");
    return nullptr;
  }
  pool->Submit(job);
  return promise;
}

uint8_t* BufferData(const Napi::Value& v, size_t* length) {
  Napi::Uint8Array a = v.As<Napi::Uint8Array>();
  *length = a.ByteLength();
  return a.Data();
}

namespace {

// pread until `length` bytes or end of file: the count read, or -errno.
class PreadJob : public NumberJob {
 public:
  PreadJob(int fd, uint8_t* dst, size_t length, off_t offset) : fd_(fd), dst_(dst), length_(length), offset_(offset) {}
  void Work() override {
    size_t done = 0;
    while (done < length_) {
      ssize_t n = pread(fd_, dst_ + done, length_ - done, offset_ + static_cast<off_t>(done));
      if (n < 0) {
        if (errno == EINTR) continue;
        result_ = -errno;
        return;
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    result_ = static_cast<long>(done);
  }

 private:
  int fd_;
  uint8_t* dst_;
  size_t length_;
  off_t offset_;
};

// ioPread(fd, buf, bufOffset, length, fileOffset) -> Promise<bytes read | -errno>
Napi::Value IoPreadJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  size_t cap;
  uint8_t* data = BufferData(info[1], &cap);
  size_t off = static_cast<size_t>(info[2].As<Napi::Number>().DoubleValue());
  size_t len = static_cast<size_t>(info[3].As<Napi::Number>().DoubleValue());
  off_t file_off = static_cast<off_t>(info[4].As<Napi::Number>().DoubleValue());
  if (off > cap || len > cap - off) {
    Napi::RangeError::New(env, "s3mmap: ioPread past the end of the buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* job = new PreadJob(fd, data + off, len, file_off);
  job->Keep(env, info[1]);
  napi_value p = SubmitIo(env, job);
  return p ? Napi::Value(env, p) : env.Undefined();
}

}  // namespace

void InitIoPool(Napi::Env env, Napi::Object exports) {
  exports.Set("ioPread", Napi::Function::New(env, IoPreadJs));
}

}  // namespace s3mmap
