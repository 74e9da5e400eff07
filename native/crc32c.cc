// CRC-32C (Castagnoli): SSE4.2 instruction when the CPU has it, a slicing-by-8 table otherwise.
#include "common.h"

#include <cstring>

namespace aof {

namespace {

uint32_t table[8][256];

void BuildTable() {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    table[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++) {
    for (int t = 1; t < 8; t++) table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
  }
}

uint32_t Software(uint32_t crc, const uint8_t* p, size_t n) {
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    w ^= crc;
    crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
          table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
          table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t Hardware(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c = __builtin_ia32_crc32di(c, w);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return c32;
}
bool hardware = false;
#endif

uint32_t Compute(uint32_t crc, const uint8_t* p, size_t n) {
#if defined(__x86_64__)
  if (hardware) return Hardware(crc, p, n);
#endif
  return Software(crc, p, n);
}

// crc32c(bytes, previous = 0, software = false): previous continues a CRC over split data.
Napi::Value Crc32c(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* data;
  size_t len;
  if (!ArgBytes(info, 0, "bytes", &data, &len)) return env.Undefined();
  uint32_t previous = 0;
  if (info.Length() > 1 && info[1].IsNumber()) previous = info[1].As<Napi::Number>().Uint32Value();
  bool software = info.Length() > 2 && info[2].ToBoolean().Value();
  uint32_t crc = ~previous;
  crc = software ? Software(crc, data, len) : Compute(crc, data, len);
  return Napi::Number::New(env, ~crc);
}

}  // namespace

void InitCrc32c(Napi::Env env, Napi::Object exports) {
  BuildTable();
#if defined(__x86_64__)
  __builtin_cpu_init();
  hardware = __builtin_cpu_supports("sse4.2");
  exports.Set("crc32cHardware", Napi::Boolean::New(env, hardware));
#else
  exports.Set("crc32cHardware", Napi::Boolean::New(env, false));
#endif
  exports.Set("crc32c", Napi::Function::New(env, Crc32c, "crc32c"));
}

}  // namespace aof
