// Shared regions' syscalls: the object version's file in the user's shared
// memory directory (open, check, size, hold with flock), what is in it
// (SEEK_HOLE), the chunk fetch locks (the disk cache's OFD byte-range
// locks), install stamps, hole punching, the cap's pass and the sweep of
// files nobody holds. Fault worker thread: synchronous calls on tmpfs, which
// is memory (no disk I/O), so they are kept off the I/O pool.
//
// File layout: the region's pages [0, length), then one double per chunk,
// the time (ms) it was last installed (the LRU order of the cap's pass), then
// a 64-byte header (magic, length, chunk size, chunks) that ends the file, so
// a pass finds it from the size alone. Nobody maps past `length`, so the tail
// is never read through a registered mapping.
#include "shm_pages.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "cache_entry.h"
#include "napi_util.h"

namespace s3mmap {
namespace {

constexpr char kMagic[8] = {'s', '3', 'm', 'm', 's', 'h', 'm', '1'};
constexpr size_t kHeader = 64;
constexpr const char* kSuffix = ".pages";
// One byte far past any file's end: each mapping holds a read lock on it, so
// a process can ask whether any other maps the same version.
constexpr off_t kPresence = off_t(1) << 62;

int PresenceLock(int fd, short type, int cmd) {
  struct flock l = {};
  l.l_type = type;
  l.l_whence = SEEK_SET;
  l.l_start = kPresence;
  l.l_len = 1;
  if (fcntl(fd, cmd, &l) < 0) return -errno;
  return l.l_type;
}

struct Header {
  char magic[8];
  uint64_t length;
  uint64_t chunk;
  uint64_t chunks;
};

uint64_t TotalSize(uint64_t length, uint64_t chunks) { return length + kHeader + chunks * sizeof(double); }

bool SameFile(int fd, const char* path) {
  struct stat a, b;
  return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

bool EndsWith(const char* s, const char* suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

// Opens `path` (ours, 0600, a regular file) with its shared hold. 0 and *fd,
// or -errno. The hold is taken after the open: a file the last closer or a
// sweep unlinked in between is left, and the path opened again.
int OpenHeld(const char* path, uint64_t length, uint64_t chunk, int* out) {
  const uint64_t chunks = (length + chunk - 1) / chunk;
  const uint64_t total = TotalSize(length, chunks);
  for (int attempt = 0; attempt < 100; attempt++) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
      int e = errno;
      close(fd);
      return -e;
    }
    // Another user's file, or one others may write: its pages could be planted.
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
      close(fd);
      return -EPERM;
    }
    if (flock(fd, LOCK_SH | LOCK_NB) < 0) {
      // Held exclusively: the last closer or a sweep is unlinking it.
      close(fd);
      if (errno != EWOULDBLOCK) return -errno;
      usleep(1000);
      continue;
    }
    if (!SameFile(fd, path) || PresenceLock(fd, F_RDLCK, F_OFD_SETLK) < 0) {
      close(fd);
      continue;
    }
    if (st.st_size == 0) {
      Header h = {};
      memcpy(h.magic, kMagic, sizeof(kMagic));
      h.length = length;
      h.chunk = chunk;
      h.chunks = chunks;
      // Two first openers write the same header and size: either order is the same file.
      if (ftruncate(fd, static_cast<off_t>(total)) < 0 ||
          pwrite(fd, &h, sizeof(h), static_cast<off_t>(total - kHeader)) != sizeof(h)) {
        int e = errno;
        close(fd);
        return -e;
      }
    } else if (static_cast<uint64_t>(st.st_size) != total) {
      close(fd);
      return -EBADF;
    }
    *out = fd;
    return 0;
  }
  return -EBUSY;
}

// Unlinks `path` when `fd` (open on it) can have it exclusively: nobody else holds it.
bool UnlinkIfUnheld(int fd, const char* path) {
  if (flock(fd, LOCK_EX | LOCK_NB) < 0) return false;
  return SameFile(fd, path) && unlink(path) == 0;
}

// shmOpen(path, length, chunkSize) -> fd. Throws an errno Error.
Napi::Value ShmOpenJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = Str(info[0]);
  int fd = -1;
  int r = OpenHeld(path.c_str(), static_cast<uint64_t>(Num(info, 1)), static_cast<uint64_t>(Num(info, 2)), &fd);
  if (r < 0) {
    ErrnoError(env, -r, "open", "cannot open the shared pages file " + path).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// shmClose(fd, path) -> true when this was the last holder and the file is gone.
Napi::Value ShmCloseJs(const Napi::CallbackInfo& info) {
  int fd = static_cast<int>(Num(info, 0));
  std::string path = Str(info[1]);
  bool gone = UnlinkIfUnheld(fd, path.c_str());
  close(fd);
  return Napi::Boolean::New(info.Env(), gone);
}

// shmPresent(fd, offset, length) -> 1 when every page of the range is in the file, 0 if not, or -errno.
Napi::Value ShmPresentJs(const Napi::CallbackInfo& info) {
  int fd = static_cast<int>(Num(info, 0));
  off_t off = static_cast<off_t>(Num(info, 1));
  off_t len = static_cast<off_t>(Num(info, 2));
  off_t hole = lseek(fd, off, SEEK_HOLE);
  if (hole < 0) return Napi::Number::New(info.Env(), -errno);
  return Napi::Number::New(info.Env(), hole >= off + len ? 1 : 0);
}

// shmOthers(fd) -> 1 when another descriptor (another mapping, another process) holds the file, 0 if not, -errno.
Napi::Value ShmOthersJs(const Napi::CallbackInfo& info) {
  int r = PresenceLock(static_cast<int>(Num(info, 0)), F_WRLCK, F_OFD_GETLK);
  return Napi::Number::New(info.Env(), r < 0 ? r : r != F_UNLCK ? 1 : 0);
}

// shmLock(fd, offset, length) -> 1 taken, 0 held by another descriptor,
// -errno. A chunk's lock spans the chunk: the kernel merges one
// descriptor's adjacent locks into one, so a fill holding thousands of
// chunks keeps its lock list short; one-byte locks at each chunk's start
// never merged, every lock and unlock walked them all, and queueing the
// fill of a 1 GiB object (16,384 chunks) took 2.4 s.
Napi::Value ShmLockJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), RangeLock(static_cast<int>(Num(info, 0)), static_cast<uint64_t>(Num(info, 1)),
                                                 static_cast<uint64_t>(Num(info, 2))));
}

Napi::Value ShmUnlockJs(const Napi::CallbackInfo& info) {
  RangeUnlock(static_cast<int>(Num(info, 0)), static_cast<uint64_t>(Num(info, 1)), static_cast<uint64_t>(Num(info, 2)));
  return info.Env().Undefined();
}

// shmStamp(fd, length, chunk, ms): chunk was installed (ms > 0) or punched (0).
Napi::Value ShmStampJs(const Napi::CallbackInfo& info) {
  int fd = static_cast<int>(Num(info, 0));
  uint64_t length = static_cast<uint64_t>(Num(info, 1));
  uint64_t chunk = static_cast<uint64_t>(Num(info, 2));
  double ms = Num(info, 3);
  ssize_t w = pwrite(fd, &ms, sizeof(ms), static_cast<off_t>(length + chunk * sizeof(double)));
  return Napi::Number::New(info.Env(), w < 0 ? -errno : 0);
}

// shmPunch(fd, offset, length) -> 0 | -errno: the pages are freed for every process.
Napi::Value ShmPunchJs(const Napi::CallbackInfo& info) {
  int r = fallocate(static_cast<int>(Num(info, 0)), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                    static_cast<off_t>(Num(info, 1)), static_cast<off_t>(Num(info, 2)));
  return Napi::Number::New(info.Env(), r < 0 ? -errno : 0);
}

struct Victim {
  double stamp;
  size_t file;
  uint64_t chunk;
};

struct Held {
  int fd;
  Header h;
};

// shmTrim(dir, cap, target) -> { usage, punched, busy }. Bytes held by every
// file of the directory; past `cap`, the least recently installed chunks of
// all of them (those no process is fetching) are punched out until `target`
// (negative: that many bytes below what is held; the tmpfs was full).
// One pass at a time (the directory's lock); `busy` when another has it.
Napi::Value ShmTrimJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir = Str(info[0]);
  double cap = Num(info, 1);
  double target = Num(info, 2);
  Napi::Object o = Napi::Object::New(env);
  int lock = TryLock((dir + "/lock").c_str());
  if (lock <= 0) {
    Put(o, "usage", Napi::Number::New(env, -1));
    Put(o, "punched", Napi::Number::New(env, 0));
    Put(o, "busy", Napi::Boolean::New(env, lock == 0));
    return o;
  }
  std::vector<Held> files;
  double usage = 0;
  if (DIR* d = opendir(dir.c_str())) {
    while (struct dirent* e = readdir(d)) {
      if (!EndsWith(e->d_name, kSuffix)) continue;
      int fd = openat(dirfd(d), e->d_name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0) continue;
      struct stat st;
      Held f = {fd, {}};
      if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_size < static_cast<off_t>(kHeader) ||
          pread(fd, &f.h, sizeof(f.h), st.st_size - static_cast<off_t>(kHeader)) != sizeof(f.h) ||
          memcmp(f.h.magic, kMagic, sizeof(kMagic)) != 0 ||
          TotalSize(f.h.length, f.h.chunks) != static_cast<uint64_t>(st.st_size)) {
        close(fd);
        continue;
      }
      usage += static_cast<double>(st.st_blocks) * 512;
      files.push_back(f);
    }
    closedir(d);
  }
  double punched = 0;
  if (target < 0) target += usage;
  if (usage > cap) {
    std::vector<Victim> victims;
    for (size_t i = 0; i < files.size(); i++) {
      std::vector<double> stamps(files[i].h.chunks);
      ssize_t want = static_cast<ssize_t>(stamps.size() * sizeof(double));
      if (pread(files[i].fd, stamps.data(), want, static_cast<off_t>(files[i].h.length)) != want) continue;
      for (uint64_t c = 0; c < stamps.size(); c++)
        if (stamps[c] > 0) victims.push_back({stamps[c], i, c});
    }
    std::sort(victims.begin(), victims.end(), [](const Victim& a, const Victim& b) { return a.stamp < b.stamp; });
    for (const Victim& v : victims) {
      if (usage - punched <= target) break;
      Held& f = files[v.file];
      uint64_t off = v.chunk * f.h.chunk;
      uint64_t len = std::min<uint64_t>(f.h.chunk, f.h.length - off);
      // A chunk some process is fetching is about to be installed: left alone.
      if (RangeLock(f.fd, off, len) != 1) continue;
      struct stat before, after;
      fstat(f.fd, &before);
      if (fallocate(f.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(off), static_cast<off_t>(len)) == 0) {
        double zero = 0;
        (void)!pwrite(f.fd, &zero, sizeof(zero), static_cast<off_t>(f.h.length + v.chunk * sizeof(double)));
        fstat(f.fd, &after);
        punched += static_cast<double>(before.st_blocks - after.st_blocks) * 512;
      }
      RangeUnlock(f.fd, off, len);
    }
  }
  for (auto& f : files) close(f.fd);
  close(lock);
  Put(o, "usage", Napi::Number::New(env, usage - punched));
  Put(o, "punched", Napi::Number::New(env, punched));
  Put(o, "busy", Napi::Boolean::New(env, false));
  return o;
}

// shmSweep(dir) -> files removed: those no process holds (every holder was
// killed, or closed without getting the exclusive hold).
Napi::Value ShmSweepJs(const Napi::CallbackInfo& info) {
  std::string dir = Str(info[0]);
  int removed = 0;
  if (DIR* d = opendir(dir.c_str())) {
    while (struct dirent* e = readdir(d)) {
      if (!EndsWith(e->d_name, kSuffix)) continue;
      std::string path = dir + "/" + e->d_name;
      int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0) continue;
      removed += UnlinkIfUnheld(fd, path.c_str()) ? 1 : 0;
      close(fd);
    }
    closedir(d);
  }
  return Napi::Number::New(info.Env(), removed);
}

}  // namespace

void InitShmPages(Napi::Env env, Napi::Object exports) {
  exports.Set("shmOpen", Napi::Function::New(env, ShmOpenJs));
  exports.Set("shmClose", Napi::Function::New(env, ShmCloseJs));
  exports.Set("shmPresent", Napi::Function::New(env, ShmPresentJs));
  exports.Set("shmOthers", Napi::Function::New(env, ShmOthersJs));
  exports.Set("shmLock", Napi::Function::New(env, ShmLockJs));
  exports.Set("shmUnlock", Napi::Function::New(env, ShmUnlockJs));
  exports.Set("shmStamp", Napi::Function::New(env, ShmStampJs));
  exports.Set("shmPunch", Napi::Function::New(env, ShmPunchJs));
  exports.Set("shmTrim", Napi::Function::New(env, ShmTrimJs));
  exports.Set("shmSweep", Napi::Function::New(env, ShmSweepJs));
}

}  // namespace s3mmap
