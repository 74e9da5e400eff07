// Shared helpers for the addon: errno-carrying errors and argument checks.
// The addon is syscalls only; every policy decision lives in TypeScript.
#pragma once

#include <napi.h>
#include <cstdint>
#include <string>

namespace aof {

// Builds an Error shaped like Node's own fs errors: message "CODE: text, syscall 'path'",
// with code ('ENOSPC'), errno (negative, as libuv and Node report it), syscall and path.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& path);

// The same error built with raw Node-API calls whose failures are ignored (nullptr if it could
// not be made): for async completions, which may run during environment teardown.
napi_value RawErrnoError(napi_env env, int err, const char* syscall, const std::string& path);

// The promise of an async job, settled from its completion with raw Node-API calls whose failures
// are ignored. A completion can run during environment teardown (a worker terminated with a job in
// flight): JS cannot run then, every call fails, and node-addon-api would throw, which is fatal
// there. The promise is then simply never settled; nobody is left to await it.
class SafeDeferred {
 public:
  explicit SafeDeferred(napi_env env) { napi_create_promise(env, &deferred_, &promise_); }
  // Valid in the handle scope of the constructor (the JS call that queued the job).
  Napi::Value Promise(Napi::Env env) const { return Napi::Value(env, promise_); }
  void Resolve(napi_env env, napi_value value) { Settle(env, value, true); }
  void Reject(napi_env env, napi_value error) { Settle(env, error, false); }

 private:
  void Settle(napi_env env, napi_value value, bool resolve) {
    if (deferred_ == nullptr || value == nullptr) return;
    if (resolve) napi_resolve_deferred(env, deferred_, value);
    else napi_reject_deferred(env, deferred_, value);
    deferred_ = nullptr;
  }
  napi_deferred deferred_ = nullptr;
  napi_value promise_ = nullptr;
};

// Throws ErrnoError as a pending JS exception; callers return right after.
void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& path);

// Reads argument i as a non-negative integer that fits in size_t and a double exactly.
// On failure throws a TypeError/RangeError and returns false.
bool ArgSize(const Napi::CallbackInfo& info, size_t i, const char* name, size_t* out);
bool ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, int* out);
std::string ArgString(const Napi::CallbackInfo& info, size_t i);

// Data pointer and length of a Uint8Array (or Buffer) argument; false (with a TypeError) otherwise.
bool ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name, uint8_t** data, size_t* len);

// The SIGBUS guard (guard.cc): accesses past the end of a truncated file in a registered range
// read zeros instead of killing the process. Register returns a slot (-1: not guarded).
int GuardRegister(void* base, size_t length);
void GuardUnregister(int slot);
uint64_t GuardFaults(int slot);
uint32_t* GuardTotal();  // one word: the faults rescued in the whole process

// CRC-32C of p[0, n) (crc32c.cc): the hardware instruction where the CPU has it.
uint32_t Crc32cOf(const uint8_t* p, size_t n);

void InitRegion(Napi::Env env, Napi::Object exports);
void InitSyscalls(Napi::Env env, Napi::Object exports);
void InitCrc32c(Napi::Env env, Napi::Object exports);
void InitFutex(Napi::Env env, Napi::Object exports);
void InitFrames(Napi::Env env, Napi::Object exports);

}  // namespace aof
