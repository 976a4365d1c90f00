// Exit guard. setExiting runs on the main thread's 'exit' event; the cleanup
// hook runs on the fault worker's thread as Node tears it down, at process
// exit or because the worker died.
#include "exit_guard.h"

#include <unistd.h>

#include <cstdio>

#include <atomic>
#include <chrono>
#include <thread>

#include "napi_util.h"
#include "regions.h"

namespace s3mmap {
namespace {

constexpr int kExitGraceMs = 750;
std::atomic<bool> g_exiting{false};
std::atomic<int> g_exit_code{0};

// Fault worker `owner` ended while the process goes on: it died (an uncaught
// error, process.exit() in a source module) or the worker thread that started
// it ended. The caller's JS learns of it from the Worker's 'exit' event, but a
// thread parked in a fault (the main thread itself, perhaps) never would. Its
// live regions are abandoned here, on the worker's own thread, so such a
// thread ends in SIGSEGV, after one line.
void AbandonLive(napi_env owner) {
  int n = LiveRegionsOf(owner);
  if (n == 0) return;
  // Said first: a woken thread's SIGSEGV may end the process at once.
  char line[200];
  int len = snprintf(line, sizeof(line),
                     "s3mmap: a fault worker ended (it failed, or the thread that started it exited) with %d mapping(s) live: they are unmapped, and touching them raises SIGSEGV\n", n);
  if (len > 0) (void)!write(2, line, static_cast<size_t>(len));
  AbandonRegions(owner);
}

// If the process is exiting with live regions, a thread parked in a fault
// could never be served and Node would wait forever to join it; closing the
// uffd instead would hand it zeros. Ending the process here, with the code it
// was exiting with, is the only outcome that neither hangs nor lies. Every
// thread's regions count for that, not only this worker's: any of them may
// hold a thread Node is about to join. Otherwise only this worker's regions
// are abandoned, and all of them are orphaned at the end: while a worker
// lives nobody else may destroy its regions; now the thread that started it
// must (lib/api/worker-client.ts).
void ExitGuard(void* worker_env) {
  if (g_exiting && LiveRegions() > 0) _exit(g_exit_code);
  napi_env owner = static_cast<napi_env>(worker_env);
  if (!g_exiting) AbandonLive(owner);
  OrphanRegions(owner);
}

}  // namespace

// setExiting(code): Node now joins every worker thread, and one parked in a
// fault waits for its fetch; if the fetch is slow or never comes (the fault
// worker is torn down too), the join never returns. A watchdog ends the
// process with its code if exiting takes longer than the grace period while
// regions are live. Normal exits finish first.
Napi::Value SetExitingJs(const Napi::CallbackInfo& info) {
  g_exit_code = static_cast<int>(Num(info, 0));
  if (!g_exiting.exchange(true)) {
    std::thread([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(kExitGraceMs));
      if (LiveRegions() > 0) _exit(g_exit_code);
    }).detach();
  }
  return info.Env().Undefined();
}

Napi::Value ArmExitGuardJs(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  napi_add_env_cleanup_hook(env, ExitGuard, env);
  return info.Env().Undefined();
}

}  // namespace s3mmap
