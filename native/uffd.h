// The userfaultfd and mmap syscalls, thinly wrapped. No policy, no Node:
// every function returns a result or -errno and leaves decisions to the
// TypeScript side. Runs on whichever thread calls the addon.
#pragma once

#include <cstddef>
#include <cstdint>

namespace s3mmap {

enum UffdMode { kModeSyscall = 0, kModeDevice = 1, kModeUserOnly = 2 };

struct UffdHandle {
  int fd = -1;
  UffdMode mode = kModeSyscall;
  uint64_t features = 0;  // features enabled on this fd
};

// Features the kernel offers (UFFDIO_API with features=0 on a throwaway fd),
// and the mode that fd was obtained in. -errno of the last attempt on failure.
int ProbeFeatures(bool user_mode_only, uint64_t* features, UffdMode* mode);

// Opens a non-blocking, close-on-exec uffd: userfaultfd(2), else
// /dev/userfaultfd, else UFFD_USER_MODE_ONLY (or that alone when forced), and
// completes the API handshake requesting `want & supported`.
// On failure returns -errno and names the failing call in *failed_call.
int OpenUffd(bool user_mode_only, uint64_t want, UffdHandle* out, const char** failed_call);

// Maps `len` bytes (a page multiple) PROT_READ, no fork inheritance,
// registered for MISSING faults on `uffd`: private anonymous memory, or with
// `shm_fd` >= 0 that file MAP_SHARED (it must be open read-write: a
// read-only open is refused at UFFDIO_REGISTER).
int MapRegion(int uffd, size_t len, int shm_fd, void** addr, const char** failed_call);

int Unmap(void* addr, size_t len);
// Replaces the mapping with an inaccessible reservation of the same range
// (MAP_FIXED, PROT_NONE): a touch is SIGSEGV, and nothing else can be mapped
// there while a stale pointer may still be used.
int Fence(void* addr, size_t len);

// UFFDIO_COPY. Returns bytes copied (> 0), or -errno with nothing copied.
long Copy(int uffd, uintptr_t dst, const void* src, size_t len, bool dontwake);
int Wake(int uffd, uintptr_t start, size_t len);
// A shared region whose tmpfs is full: [dst, dst+len) becomes private memory
// holding `src` (built aside, then moved over the range in one mremap), and
// is registered on `uffd` again. 0 or -errno; nobody is woken.
int PatchPrivate(int uffd, uintptr_t dst, const void* src, size_t len);
long Poison(int uffd, uintptr_t start, size_t len, bool dontwake);
// MADV_DONTNEED: the next touch faults again.
int Drop(uintptr_t start, size_t len);

// Reads pending page-fault messages without blocking. Stores fault addresses
// in `addrs` and the faulting threads' ids in `tids` (0 without
// UFFD_FEATURE_THREAD_ID), returns how many (0 when none), or -errno.
int ReadFaults(int uffd, uint64_t* addrs, uint32_t* tids, int max);

size_t PageSize();

}  // namespace s3mmap
