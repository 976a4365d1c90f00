// Exit guard. setExiting runs on the main thread's 'exit' event; the cleanup
// hook runs on the fault worker's thread as Node tears it down.
#include "exit_guard.h"

#include <unistd.h>

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

// If the process is exiting with live regions, a thread parked in a fault
// could never be served and Node would wait forever to join it; closing the
// uffd instead would hand it zeros. Ending the process here, with the code it
// was exiting with, is the only outcome that neither hangs nor lies.
void ExitGuard(void*) {
  if (g_exiting && LiveRegions() > 0) _exit(g_exit_code);
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
  napi_add_env_cleanup_hook(info.Env(), ExitGuard, nullptr);
  return info.Env().Undefined();
}

}  // namespace s3mmap
