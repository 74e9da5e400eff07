// CRC-32C (Castagnoli): SSE4.2 instruction when the CPU has it, a slicing-by-8 table otherwise.
#include "common.h"

#include <cmath>

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

// Arguments (bytes: Uint8Array, then `count` numbers) of the raw functions below, read with as
// few Node-API calls as possible; a TypeError with `usage` (and false) when they are not that.
bool RawArgs(napi_env env, napi_callback_info cbinfo, const uint8_t** data, size_t* len, double* numbers,
             size_t count, const char* usage) {
  napi_value argv[4];
  size_t argc = 4;
  napi_typedarray_type type;
  void* bytes = nullptr;
  bool ok = count <= 3 && napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, nullptr) == napi_ok &&
            argc >= count + 1 &&
            napi_get_typedarray_info(env, argv[0], &type, len, &bytes, nullptr, nullptr) == napi_ok &&
            type == napi_uint8_array;
  for (size_t i = 0; ok && i < count; i++) ok = napi_get_value_double(env, argv[i + 1], &numbers[i]) == napi_ok;
  if (!ok) {
    napi_throw_type_error(env, nullptr, usage);
    return false;
  }
  *data = static_cast<const uint8_t*>(bytes);
  return true;
}

// crc32cRange(bytes, offset, length): the CRC of bytes[offset, offset+length), no view needed
// (the record log checks one per frame; a subarray per frame cost more than the CRC).
// Called once per record by the record log, so it makes as few Node-API calls as it can (each
// costs more than the CRC of a small record): the raw C API, no node-addon-api wrappers.
napi_value Crc32cRange(napi_env env, napi_callback_info cbinfo) {
  const uint8_t* data;
  size_t len;
  double n[2];
  if (!RawArgs(env, cbinfo, &data, &len, n, 2, "crc32cRange(bytes: Uint8Array, offset: number, length: number)")) {
    return nullptr;
  }
  double offset = n[0], length = n[1];
  if (!(offset >= 0) || !(length >= 0) || std::floor(offset) != offset || std::floor(length) != length ||
      offset + length > static_cast<double>(len)) {
    napi_throw_range_error(env, nullptr, "range is outside the array");
    return nullptr;
  }
  uint32_t crc = ~Compute(~0u, data + static_cast<size_t>(offset), static_cast<size_t>(length));
  napi_value result;
  napi_create_uint32(env, crc, &result);
  return result;
}

// checkFrames(bytes, from, end, firstIndex): the native half of src/log/frame.ts, for scans and
// iteration (a Node-API call per frame cost more than the CRC of a small record). Walks the
// frames from `from` (header: u32 crc32c of the rest, u32 length, u32 type 1 or 2, u32 index;
// payload padded to 8) while each one fits before `end`, has a known type, the next index from
// firstIndex, and its CRC. Returns the offset after the last frame of type 1 (the end of a whole
// write) in that run: `end` when every frame checks out and the last ends a write.
napi_value CheckFrames(napi_env env, napi_callback_info cbinfo) {
  const uint8_t* data;
  size_t len;
  double n[3];
  if (!RawArgs(env, cbinfo, &data, &len, n, 3,
               "checkFrames(bytes: Uint8Array, from: number, end: number, firstIndex: number)")) {
    return nullptr;
  }
  double from = n[0], end = n[1], first = n[2];
  if (!(from >= 0) || !(end >= from) || end > static_cast<double>(len) || !(first >= 0) || first > 4294967295.0) {
    napi_throw_range_error(env, nullptr, "checkFrames: range is outside the array");
    return nullptr;
  }
  const uint8_t* p = data;
  size_t at = static_cast<size_t>(from), stop = static_cast<size_t>(end);
  uint32_t index = static_cast<uint32_t>(first);
  auto u32 = [p](size_t o) { uint32_t v; std::memcpy(&v, p + o, 4); return v; };
  size_t whole = at;  // after the last frame that ends a write (type 1)
  while (stop - at >= 16) {
    uint32_t length = u32(at + 4), type = u32(at + 8);
    size_t size = (16 + static_cast<size_t>(length) + 7) & ~static_cast<size_t>(7);
    if (size > stop - at || (type != 1 && type != 2) || u32(at + 12) != index) break;
    if (~Compute(~0u, p + at + 4, 12 + static_cast<size_t>(length)) != u32(at)) break;
    at += size;
    index++;
    if (type == 1) whole = at;
  }
  napi_value result;
  napi_create_double(env, static_cast<double>(whole), &result);
  return result;
}

}  // namespace

uint32_t Crc32cOf(const uint8_t* p, size_t n) { return ~Compute(~0u, p, n); }

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
  napi_value range;
  if (napi_create_function(env, "crc32cRange", NAPI_AUTO_LENGTH, Crc32cRange, nullptr, &range) == napi_ok) {
    exports.Set("crc32cRange", Napi::Value(env, range));
  }
  napi_value check;
  if (napi_create_function(env, "checkFrames", NAPI_AUTO_LENGTH, CheckFrames, nullptr, &check) == napi_ok) {
    exports.Set("checkFrames", Napi::Value(env, check));
  }
}

}  // namespace aof
