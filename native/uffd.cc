// Syscall layer: userfaultfd(2), its ioctls, mmap/madvise. Every call returns
// -errno instead of throwing; the addon turns setup failures into JS errors and
// hands fault-path results to TypeScript as numbers. Any thread.
#include "uffd.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

// Debian 12's headers predate these (kernel 6.6+ / 6.8+); probed at run time.
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)
#endif
#ifndef _UFFDIO_POISON
#define _UFFDIO_POISON (0x08)
struct uffdio_poison {
  struct uffdio_range range;
#define UFFDIO_POISON_MODE_DONTWAKE ((__u64)1 << 0)
  __u64 mode;
  __s64 updated;
};
#define UFFDIO_POISON _IOWR(UFFDIO, _UFFDIO_POISON, struct uffdio_poison)
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC 0xAA
#define USERFAULTFD_IOC_NEW _IO(USERFAULTFD_IOC, 0x00)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

namespace s3mmap {

namespace {

int RawOpen(bool user_mode_only, UffdMode* mode, const char** failed_call) {
  const int flags = O_CLOEXEC | O_NONBLOCK;
  if (!user_mode_only) {
    int fd = static_cast<int>(syscall(SYS_userfaultfd, flags));
    if (fd >= 0) {
      *mode = kModeSyscall;
      return fd;
    }
    // EPERM here means vm.unprivileged_userfaultfd=0 and no CAP_SYS_PTRACE;
    // /dev/userfaultfd grants full mode to whoever may open it.
    int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (dev >= 0) {
      fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
      close(dev);
      if (fd >= 0) {
        *mode = kModeDevice;
        return fd;
      }
    }
  }
  int fd = static_cast<int>(syscall(SYS_userfaultfd, flags | UFFD_USER_MODE_ONLY));
  if (fd < 0) {
    *failed_call = "userfaultfd";
    return -errno;
  }
  *mode = kModeUserOnly;
  return fd;
}

int Handshake(int fd, uint64_t want, uint64_t* features) {
  struct uffdio_api api = {};
  api.api = UFFD_API;
  api.features = want;
  if (ioctl(fd, UFFDIO_API, &api) < 0) return -errno;
  *features = api.features;
  return 0;
}

}  // namespace

size_t PageSize() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

int ProbeFeatures(bool user_mode_only, uint64_t* features, UffdMode* mode) {
  const char* failed = nullptr;
  int fd = RawOpen(user_mode_only, mode, &failed);
  if (fd < 0) return fd;
  int r = Handshake(fd, 0, features);
  close(fd);
  return r;
}

int OpenUffd(bool user_mode_only, uint64_t want, UffdHandle* out, const char** failed_call) {
  uint64_t supported = 0;
  UffdMode probe_mode;
  int r = ProbeFeatures(user_mode_only, &supported, &probe_mode);
  if (r < 0) {
    *failed_call = "userfaultfd";
    return r;
  }
  int fd = RawOpen(user_mode_only, &out->mode, failed_call);
  if (fd < 0) return fd;
  r = Handshake(fd, want & supported, &out->features);
  if (r < 0) {
    close(fd);
    *failed_call = "ioctl(UFFDIO_API)";
    return r;
  }
  out->fd = fd;
  return 0;
}

int MapRegion(int uffd, size_t len, int shm_fd, void** addr, const char** failed_call) {
  // A shared region maps its object version's file: pages any process
  // installs land in the file's page cache, and every mapping reads them.
  void* p = shm_fd >= 0 ? mmap(nullptr, len, PROT_READ, MAP_SHARED | MAP_NORESERVE, shm_fd, 0)
                        : mmap(nullptr, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    *failed_call = "mmap";
    return -errno;
  }
  // A forked child has no handler: without DONTFORK it would read zeros.
  // Huge pages would make MADV_DONTNEED eviction and installs 2 MiB-grained.
  if (madvise(p, len, MADV_DONTFORK) < 0 || madvise(p, len, MADV_NOHUGEPAGE) < 0) {
    int e = errno;
    munmap(p, len);
    *failed_call = "madvise";
    return -e;
  }
  struct uffdio_register reg = {};
  reg.range.start = reinterpret_cast<uintptr_t>(p);
  reg.range.len = len;
  reg.mode = UFFDIO_REGISTER_MODE_MISSING;
  if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
    int e = errno;
    munmap(p, len);
    *failed_call = "ioctl(UFFDIO_REGISTER)";
    return -e;
  }
  *addr = p;
  return 0;
}

int Unmap(void* addr, size_t len) { return munmap(addr, len) < 0 ? -errno : 0; }

int Fence(void* addr, size_t len) {
  void* p = mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? -errno : 0;
}

long Copy(int uffd, uintptr_t dst, const void* src, size_t len, bool dontwake) {
  struct uffdio_copy c = {};
  c.dst = dst;
  c.src = reinterpret_cast<uintptr_t>(src);
  c.len = len;
  c.mode = dontwake ? UFFDIO_COPY_MODE_DONTWAKE : 0;
  if (ioctl(uffd, UFFDIO_COPY, &c) == 0) return static_cast<long>(c.copy);
  int e = errno;
  // A partial copy fails with the error of the page it stopped at but reports
  // what it installed; the caller continues from there.
  if (c.copy > 0) return static_cast<long>(c.copy);
  return -e;
}

int PatchPrivate(int uffd, uintptr_t dst, const void* src, size_t len) {
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -errno;
  memcpy(p, src, len);
  int e = 0;
  if (mprotect(p, len, PROT_READ) < 0 || madvise(p, len, MADV_DONTFORK) < 0 || madvise(p, len, MADV_NOHUGEPAGE) < 0) e = errno;
  // One step: a thread touching the range sees the shared pages (missing:
  // it faults and waits) or these, never an empty mapping.
  if (e == 0 && mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, reinterpret_cast<void*>(dst)) == MAP_FAILED) e = errno;
  if (e != 0) {
    munmap(p, len);
    return -e;
  }
  // The move dropped the registration; with it, an eviction (MADV_DONTNEED)
  // of these pages faults again instead of reading zeros.
  struct uffdio_register reg = {};
  reg.range.start = dst;
  reg.range.len = len;
  reg.mode = UFFDIO_REGISTER_MODE_MISSING;
  if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) return -errno;
  return 0;
}

int Wake(int uffd, uintptr_t start, size_t len) {
  struct uffdio_range r = {start, len};
  return ioctl(uffd, UFFDIO_WAKE, &r) < 0 ? -errno : 0;
}

long Poison(int uffd, uintptr_t start, size_t len, bool dontwake) {
  struct uffdio_poison p = {};
  p.range.start = start;
  p.range.len = len;
  p.mode = dontwake ? UFFDIO_POISON_MODE_DONTWAKE : 0;
  if (ioctl(uffd, UFFDIO_POISON, &p) == 0) return static_cast<long>(p.updated);
  int e = errno;
  if (p.updated > 0) return static_cast<long>(p.updated);
  return -e;
}

int Drop(uintptr_t start, size_t len) {
  return madvise(reinterpret_cast<void*>(start), len, MADV_DONTNEED) < 0 ? -errno : 0;
}

int ReadFaults(int uffd, uint64_t* addrs, uint32_t* tids, int max) {
  struct uffd_msg msgs[64];
  int n = 0;
  while (n < max) {
    int want = max - n < 64 ? max - n : 64;
    ssize_t got = read(uffd, msgs, sizeof(msgs[0]) * want);
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return n > 0 ? n : -errno;
    }
    int count = static_cast<int>(got / sizeof(msgs[0]));
    for (int i = 0; i < count; i++) {
      if (msgs[i].event != UFFD_EVENT_PAGEFAULT) continue;
      // 0 unless UFFD_FEATURE_THREAD_ID was granted.
      tids[n] = msgs[i].arg.pagefault.feat.ptid;
      addrs[n++] = msgs[i].arg.pagefault.address;
    }
    if (count < want) break;
  }
  return n;
}

}  // namespace s3mmap
