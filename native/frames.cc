// The record log's frames, natively: the per-record work of src/log/frame.ts done in one call per
// append, per batch or per scan, because a Node-API call costs more than the CRC of a small record
// (measured in bench/log.bench.mjs). Policy (which type, which index, where) stays in TypeScript;
// these only copy, stamp and check bytes. Raw Node-API (no node-addon-api wrappers) for the same
// reason: each wrapper call is a few more nanoseconds per record.
//
// Frame: u32 crc32c of bytes 4 … 16+length, u32 length, u32 type (1 ends a write, 2 continues it),
// u32 index in the segment, payload, zero padding to a multiple of 8.
#include "common.h"

#include <cmath>
#include <cstring>

namespace aof {

namespace {

constexpr size_t kHeader = 16;

inline size_t FrameSize(size_t length) { return (kHeader + length + 7) & ~static_cast<size_t>(7); }

inline uint32_t U32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

inline void PutU32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

// Writes the frame of payload[0, length) at p (room for FrameSize(length) bytes checked by the caller).
inline void Put(uint8_t* p, const uint8_t* payload, size_t length, uint32_t type, uint32_t index) {
  PutU32(p + 4, static_cast<uint32_t>(length));
  PutU32(p + 8, type);
  PutU32(p + 12, index);
  std::memcpy(p + kHeader, payload, length);
  size_t size = FrameSize(length);
  std::memset(p + kHeader + length, 0, size - kHeader - length);
  PutU32(p, Crc32cOf(p + 4, 12 + length));
}

// A typed array of the kind `want` (its data and element count); false for anything else.
template <typename T>
bool Typed(napi_env env, napi_value v, napi_typedarray_type want, T** data, size_t* len) {
  napi_typedarray_type type;
  void* bytes = nullptr;
  if (napi_get_typedarray_info(env, v, &type, len, &bytes, nullptr, nullptr) != napi_ok || type != want) return false;
  *data = static_cast<T*>(bytes);
  return true;
}

bool Bytes(napi_env env, napi_value v, uint8_t** data, size_t* len) { return Typed(env, v, napi_uint8_array, data, len); }

bool Words(napi_env env, napi_value v, uint32_t** data, size_t* len) { return Typed(env, v, napi_uint32_array, data, len); }

// A non-negative integer below 2^53 (offsets, counts) or a u32 (index, type); false otherwise.
bool Integer(napi_env env, napi_value v, double max, double* out) {
  return napi_get_value_double(env, v, out) == napi_ok && *out >= 0 && *out <= max && std::floor(*out) == *out;
}

napi_value Fail(napi_env env, const char* message, bool range = false) {
  if (range) {
    napi_throw_range_error(env, nullptr, message);
  } else {
    napi_throw_type_error(env, nullptr, message);
  }
  return nullptr;
}

napi_value Number(napi_env env, double v) {
  napi_value result;
  napi_create_double(env, v, &result);
  return result;
}

// putFrame(buf, at, index, data, type): writes the frame of `data` at `at`; returns its size.
napi_value PutFrame(napi_env env, napi_callback_info cbinfo) {
  static const char usage[] = "putFrame(buf: Uint8Array, at: number, index: number, data: Uint8Array, type: number)";
  napi_value argv[5];
  size_t argc = 5;
  uint8_t *buf, *data;
  size_t bufLen, dataLen;
  double at, index, type;
  if (napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, nullptr) != napi_ok || argc < 5 ||
      !Bytes(env, argv[0], &buf, &bufLen) || !Integer(env, argv[1], 9007199254740991.0, &at) ||
      !Integer(env, argv[2], 4294967295.0, &index) || !Bytes(env, argv[3], &data, &dataLen) ||
      !Integer(env, argv[4], 4294967295.0, &type)) {
    return Fail(env, usage);
  }
  size_t size = FrameSize(dataLen);
  if (at > static_cast<double>(bufLen) || size > bufLen - static_cast<size_t>(at)) {
    return Fail(env, "putFrame: the frame runs past the end of the buffer", true);
  }
  Put(buf + static_cast<size_t>(at), data, dataLen, static_cast<uint32_t>(type), static_cast<uint32_t>(index));
  return Number(env, static_cast<double>(size));
}

// sealFrames(buf, from, end): stores the CRC of every frame in [from, end), whose headers
// (length, type, index), payloads and padding JS has written: a batch's CRCs in one call. Walks
// the frames by their lengths; a frame running past `end` is a RangeError before anything is
// stored. Returns the number of frames.
napi_value SealFrames(napi_env env, napi_callback_info cbinfo) {
  static const char usage[] = "sealFrames(buf: Uint8Array, from: number, end: number)";
  napi_value argv[3];
  size_t argc = 3;
  uint8_t* buf;
  size_t bufLen;
  double from, end;
  if (napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, nullptr) != napi_ok || argc < 3 ||
      !Bytes(env, argv[0], &buf, &bufLen) || !Integer(env, argv[1], 9007199254740991.0, &from) ||
      !Integer(env, argv[2], 9007199254740991.0, &end)) {
    return Fail(env, usage);
  }
  if (from > end || end > static_cast<double>(bufLen)) return Fail(env, "sealFrames: range is outside the array", true);
  size_t stop = static_cast<size_t>(end);
  size_t count = 0;
  for (size_t at = static_cast<size_t>(from); at < stop; count++) {
    if (stop - at < kHeader) return Fail(env, "sealFrames: a frame runs past the end", true);
    size_t size = FrameSize(U32(buf + at + 4));
    if (size > stop - at) return Fail(env, "sealFrames: a frame runs past the end", true);
    at += size;
  }
  for (size_t at = static_cast<size_t>(from); at < stop;) {
    size_t length = U32(buf + at + 4);
    PutU32(buf + at, Crc32cOf(buf + at + 4, 12 + length));
    at += FrameSize(length);
  }
  return Number(env, static_cast<double>(count));
}

// chainFrames(buf, from, end, firstIndex, offsets, offsetsAt): the offsets of consecutive frames
// from `from` by their headers alone (type, index, a length that fits before `end`; no CRC), into
// offsets[offsetsAt …] until it is full; returns how many. The caller goes on from after the last
// one when the array filled up.
napi_value ChainFrames(napi_env env, napi_callback_info cbinfo) {
  static const char usage[] =
      "chainFrames(buf: Uint8Array, from: number, end: number, firstIndex: number, offsets: Uint32Array, offsetsAt: number)";
  napi_value argv[6];
  size_t argc = 6;
  uint8_t* buf;
  uint32_t* offsets;
  size_t bufLen, offsetsLen;
  double from, end, first, offsetsAt;
  if (napi_get_cb_info(env, cbinfo, &argc, argv, nullptr, nullptr) != napi_ok || argc < 6 ||
      !Bytes(env, argv[0], &buf, &bufLen) || !Integer(env, argv[1], 9007199254740991.0, &from) ||
      !Integer(env, argv[2], 9007199254740991.0, &end) || !Integer(env, argv[3], 4294967295.0, &first) ||
      !Words(env, argv[4], &offsets, &offsetsLen) || !Integer(env, argv[5], 4294967295.0, &offsetsAt)) {
    return Fail(env, usage);
  }
  if (from > end || end > static_cast<double>(bufLen) || offsetsAt > static_cast<double>(offsetsLen)) {
    return Fail(env, "chainFrames: range is outside the array", true);
  }
  size_t at = static_cast<size_t>(from), stop = static_cast<size_t>(end);
  size_t out = static_cast<size_t>(offsetsAt), count = 0;
  uint32_t index = static_cast<uint32_t>(first);
  while (stop - at >= kHeader && out < offsetsLen) {
    const uint8_t* p = buf + at;
    uint32_t type = U32(p + 8);
    if ((type != 1 && type != 2) || U32(p + 12) != index) break;
    size_t size = FrameSize(U32(p + 4));
    if (size > stop - at) break;
    offsets[out++] = static_cast<uint32_t>(at);
    count++;
    index++;
    at += size;
  }
  return Number(env, static_cast<double>(count));
}

void Define(napi_env env, napi_value exports, const char* name, napi_callback cb) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, nullptr, &fn) == napi_ok) {
    napi_set_named_property(env, exports, name, fn);
  }
}

}  // namespace

void InitFrames(Napi::Env env, Napi::Object exports) {
  Define(env, exports, "putFrame", PutFrame);
  Define(env, exports, "sealFrames", SealFrames);
  Define(env, exports, "chainFrames", ChainFrames);
}

}  // namespace aof
