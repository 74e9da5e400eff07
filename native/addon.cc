#include "common.h"

#include <uv.h>
#include <cerrno>
#include <cmath>
#include <cstring>

namespace aof {

static void SetString(napi_env env, napi_value object, const char* key, const char* value) {
  napi_value v;
  if (napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) == napi_ok) napi_set_named_property(env, object, key, v);
}

napi_value RawErrnoError(napi_env env, int err, const char* syscall, const std::string& path) {
  const char* code = uv_err_name(-err);
  std::string text = std::string(code) + ": " + std::strerror(err) + ", " + syscall;
  if (!path.empty()) text += " '" + path + "'";
  napi_value message, error = nullptr, errnoValue;
  if (napi_create_string_utf8(env, text.c_str(), text.size(), &message) != napi_ok ||
      napi_create_error(env, nullptr, message, &error) != napi_ok) {
    return error;
  }
  if (napi_create_int32(env, -err, &errnoValue) == napi_ok) napi_set_named_property(env, error, "errno", errnoValue);
  SetString(env, error, "code", code);
  SetString(env, error, "syscall", syscall);
  if (!path.empty()) SetString(env, error, "path", path.c_str());
  return error;
}

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& path) {
  return Napi::Error(env, RawErrnoError(env, err, syscall, path));
}

void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& path) {
  ErrnoError(env, err, syscall, path).ThrowAsJavaScriptException();
}

static bool ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* name, double* out) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    Napi::TypeError::New(info.Env(), std::string("expected a number for ") + name).ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::Number>().DoubleValue();
  return true;
}

bool ArgSize(const Napi::CallbackInfo& info, size_t i, const char* name, size_t* out) {
  double v;
  if (!ArgNumber(info, i, name, &v)) return false;
  // 2^53: every larger double is not an exact integer byte count.
  if (!(v >= 0) || v > 9007199254740991.0 || std::floor(v) != v) {
    Napi::RangeError::New(info.Env(), std::string("expected a non-negative safe integer for ") + name)
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<size_t>(v);
  return true;
}

bool ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, int* out) {
  double v;
  if (!ArgNumber(info, i, name, &v)) return false;
  if (std::floor(v) != v || v < -2147483648.0 || v > 2147483647.0) {
    Napi::RangeError::New(info.Env(), std::string("expected a 32-bit integer for ") + name)
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<int>(v);
  return true;
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i) {
  if (i < info.Length() && info[i].IsString()) return info[i].As<Napi::String>().Utf8Value();
  return std::string();
}

bool ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name, uint8_t** data, size_t* len) {
  if (i >= info.Length() || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(info.Env(), std::string("expected a Uint8Array for ") + name).ThrowAsJavaScriptException();
    return false;
  }
  Napi::Uint8Array bytes = info[i].As<Napi::Uint8Array>();
  *data = bytes.Data();
  *len = bytes.ByteLength();
  return true;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitRegion(env, exports);
  InitSyscalls(env, exports);
  InitCrc32c(env, exports);
  InitFutex(env, exports);
  InitFrames(env, exports);
  return exports;
}

}  // namespace aof

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return aof::Init(env, exports); }

NODE_API_MODULE(mmap_aof, InitModule)
