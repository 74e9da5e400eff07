// The machine's limit for the record log's write and check paths, for bench/log.bench.mjs: a C
// loop doing what a Log.append does to memory (copy the payload, store the header, CRC-32C of
// header + payload with the SSE4.2 instruction), with no JavaScript and no Node-API, and a memset
// of the same bytes. Built by the benchmark with `cc -O2 -msse4.2` when a compiler is there.
//
//   frame-loop <records> <payload bytes> <fresh|warm>
//   frame-loop walk <segment file> <gets>
// walk: maps a segment (MAP_POPULATE), walks its frame headers into an index (the first time a
// process reads those pages, then again), then reads <gets> random frames through the index (the
// payload's last byte, as get(id) does): the limit for opening a sealed segment and for get(id).
// fresh: into anonymous memory never touched (every page a first-touch fault, as a new segment's);
// warm: into memory written once before timing. Prints one line of JSON: ns per record of
// copy+crc, of memset of the same frame bytes, and of the CRC check of every frame afterwards.
#define _GNU_SOURCE
#include <nmmintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static uint32_t crc32c(const uint8_t* p, size_t n) {
  uint64_t c = 0xffffffffu;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
  }
  uint32_t c32 = (uint32_t)c;
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}

static uint8_t* region(size_t bytes, int warm) {
  uint8_t* m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) exit(1);
  if (warm) memset(m, 0, bytes);
  return m;
}

static int walk(const char* file, size_t gets) {
  int fd = open(file, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) return 1;
  size_t size = (size_t)st.st_size;
  double t0 = now();
  uint8_t* m = mmap(NULL, size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (m == MAP_FAILED) return 1;
  double t1 = now();
  double map = t1 - t0;
  uint32_t* index = malloc(sizeof(uint32_t) * (size / 16 + 1));
  size_t n = 0;
  for (int pass = 0; pass < 2; pass++) {
    n = 0;
    for (size_t at = 0; at + 16 <= size; n++) {
      uint32_t len, type, idx;
      memcpy(&len, m + at + 4, 4);
      memcpy(&type, m + at + 8, 4);
      memcpy(&idx, m + at + 12, 4);
      if ((type != 1 && type != 2) || idx != n) break;
      index[n] = (uint32_t)at;
      at += (16 + (size_t)len + 7) & ~(size_t)7;
    }
    if (pass == 0) t1 = now() - t1, t0 = now();
  }
  double again = now() - t0;
  uint64_t x = 0x5eed, sum = 0;
  double t2 = now();
  for (size_t i = 0; i < gets && n > 0; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    uint32_t at = index[x % n], len;
    memcpy(&len, m + at + 4, 4);
    sum += m[at + 16 + len - 1];
  }
  double get = (now() - t2) / (gets ? gets : 1);
  printf("{\"frames\":%zu,\"mapNs\":%.0f,\"walkNs\":%.0f,\"againNs\":%.0f,\"getNs\":%.2f,\"sum\":%llu}\n", n, map, t1, again, get,
         (unsigned long long)sum);
  return 0;
}

int main(int argc, char** argv) {
  if (argc >= 4 && strcmp(argv[1], "walk") == 0) return walk(argv[2], strtoull(argv[3], NULL, 10));
  if (argc < 4) return 2;
  size_t n = strtoull(argv[1], NULL, 10), len = strtoull(argv[2], NULL, 10);
  int warm = strcmp(argv[3], "warm") == 0;
  size_t frame = (16 + len + 7) & ~(size_t)7, bytes = n * frame + 4096;
  uint8_t payload[65536];
  if (len > sizeof payload) return 2;
  memset(payload, 'x', len);

  uint8_t* m = region(bytes, warm);
  double t0 = now();
  size_t at = 0;
  for (uint32_t i = 0; i < n; i++, at += frame) {
    uint8_t* p = m + at;
    uint32_t h[3] = {(uint32_t)len, 1, i};
    memcpy(p + 4, h, 12);
    memcpy(p + 16, payload, len);
    uint32_t c = crc32c(p + 4, 12 + len);
    memcpy(p, &c, 4);
  }
  double put = (now() - t0) / n;

  double t1 = now();
  uint32_t bad = 0;
  at = 0;
  for (uint32_t i = 0; i < n; i++, at += frame) {
    uint32_t c, l;
    memcpy(&c, m + at, 4);
    memcpy(&l, m + at + 4, 4);
    bad += crc32c(m + at + 4, 12 + l) != c;
  }
  double check = (now() - t1) / n;
  munmap(m, bytes);

  uint8_t* z = region(bytes, warm);
  double t2 = now();
  memset(z, 1, n * frame);
  double fill = (now() - t2) / n;
  munmap(z, bytes);
  printf("{\"putNs\":%.2f,\"checkNs\":%.2f,\"memsetNs\":%.2f,\"bad\":%u}\n", put, check, fill, bad);
  return bad != 0;
}
