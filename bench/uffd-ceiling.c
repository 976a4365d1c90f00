// The fault-service ceiling: how fast pages can be installed through
// userfaultfd on this machine, with no network and no JavaScript.
//
//   uffd-ceiling SIZE CHUNK SEED
//
// Generates the benchmark object (bench/content.ts's generator) into memory,
// maps SIZE bytes, registers them with a uffd (missing mode), and serves the
// faults from a handler thread with one chunk-sized UFFDIO_COPY per fault,
// while the main thread folds one byte of every 4 KiB page (the sequential
// scan of bench/workloads.ts). Prints one JSON line: wall time of the scan,
// faults, per-fault service time (message read to UFFDIO_COPY done) p50/p99,
// the checksum and peak RSS. Compiled by the bench into bench/tmp/.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (64 * 1024)
#define PAGE 4096

static uint8_t *src, *region;
static size_t region_len, chunk;
static int uffd, stop_pipe[2];
static double *service_us;
static size_t faults, service_cap;

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what) {
  fprintf(stderr, "uffd-ceiling: %s: %s\n", what, strerror(errno));
  exit(1);
}

static uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

static void generate(uint32_t seed, uint8_t *out, size_t len) {
  uint32_t *w = (uint32_t *)out;
  size_t words = len / 4, per_block = BLOCK / 4;
  for (size_t b = 0; b * per_block < words; b++) {
    uint32_t s = mix32(seed ^ mix32((uint32_t)b + 0x9e3779b9u));
    if (s == 0) s = 1;
    size_t end = (b + 1) * per_block < words ? (b + 1) * per_block : words;
    for (size_t i = b * per_block; i < end; i++) {
      s ^= s << 13;
      s ^= s >> 17;
      s ^= s << 5;
      w[i] = s;
    }
  }
}

static void serve(uintptr_t addr) {
  size_t off = ((addr - (uintptr_t)region) / chunk) * chunk;
  size_t len = region_len - off < chunk ? region_len - off : chunk;
  for (;;) {
    struct uffdio_copy c = { .dst = (uintptr_t)region + off, .src = (uintptr_t)src + off, .len = len, .mode = 0 };
    if (ioctl(uffd, UFFDIO_COPY, &c) == 0) return;
    if (errno == EAGAIN) {
      // Partial copy: continue after what was installed.
      if (c.copy > 0) { off += c.copy; len -= c.copy; }
      continue;
    }
    if (errno == EEXIST) {
      struct uffdio_range r = { .start = (uintptr_t)region + off, .len = len };
      if (ioctl(uffd, UFFDIO_WAKE, &r) != 0) die("UFFDIO_WAKE");
      return;
    }
    die("UFFDIO_COPY");
  }
}

static void *handler(void *arg) {
  (void)arg;
  struct uffd_msg msgs[64];
  struct pollfd fds[2] = { { .fd = uffd, .events = POLLIN }, { .fd = stop_pipe[0], .events = POLLIN } };
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (fds[1].revents) return NULL;
    ssize_t n = read(uffd, msgs, sizeof msgs);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      die("read uffd");
    }
    double t0 = now_us();
    for (size_t i = 0; i < (size_t)n / sizeof msgs[0]; i++) {
      if (msgs[i].event != UFFD_EVENT_PAGEFAULT) continue;
      serve((uintptr_t)msgs[i].arg.pagefault.address);
      if (faults < service_cap) service_us[faults] = now_us() - t0;
      faults++;
    }
  }
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static long peak_rss(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = 0;
  while (f && fgets(line, sizeof line, f)) if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
  if (f) fclose(f);
  return kb * 1024;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: uffd-ceiling SIZE CHUNK SEED\n");
    return 2;
  }
  size_t size = strtoull(argv[1], NULL, 10);
  chunk = strtoull(argv[2], NULL, 10);
  uint32_t seed = (uint32_t)strtoul(argv[3], NULL, 10);
  if (size == 0 || chunk == 0 || chunk % PAGE) {
    fprintf(stderr, "uffd-ceiling: SIZE > 0 and CHUNK a multiple of %d\n", PAGE);
    return 2;
  }
  region_len = (size + PAGE - 1) / PAGE * PAGE;
  size_t src_len = (region_len + BLOCK - 1) / BLOCK * BLOCK;
  src = aligned_alloc(PAGE, src_len);
  if (!src) die("aligned_alloc");
  generate(seed, src, src_len);
  service_cap = region_len / PAGE + 1;
  service_us = calloc(service_cap, sizeof *service_us);

  region = mmap(NULL, region_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (region == MAP_FAILED) die("mmap");
  uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  if (uffd < 0) die("userfaultfd");
  struct uffdio_api api = { .api = UFFD_API, .features = 0 };
  if (ioctl(uffd, UFFDIO_API, &api) != 0) die("UFFDIO_API");
  struct uffdio_register reg = { .range = { .start = (uintptr_t)region, .len = region_len }, .mode = UFFDIO_REGISTER_MODE_MISSING };
  if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) die("UFFDIO_REGISTER");
  if (pipe(stop_pipe) != 0) die("pipe");
  pthread_t t;
  if (pthread_create(&t, NULL, handler, NULL) != 0) die("pthread_create");

  double t0 = now_us();
  uint32_t h = 0;
  for (size_t i = 0; i < size; i += PAGE) h = h * 31u + ((volatile uint8_t *)region)[i];
  double t1 = now_us();

  if (write(stop_pipe[1], "x", 1) != 1) die("write");
  pthread_join(t, NULL);
  size_t n = faults < service_cap ? faults : service_cap;
  qsort(service_us, n, sizeof *service_us, cmp);
  double p50 = n ? service_us[(size_t)(n * 0.5)] : 0, p99 = n ? service_us[n - 1 - (size_t)(n * 0.01)] : 0;
  printf("{\"wallMs\":%.3f,\"faults\":%zu,\"serviceP50Us\":%.1f,\"serviceP99Us\":%.1f,\"checksum\":%u,\"peakRssBytes\":%ld}\n",
         (t1 - t0) / 1e3, faults, p50, p99, h, peak_rss());
  return 0;
}
