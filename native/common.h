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

// Throws ErrnoError as a pending JS exception; callers return right after.
void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& path);

// Reads argument i as a non-negative integer that fits in size_t and a double exactly.
// On failure throws a TypeError/RangeError and returns false.
bool ArgSize(const Napi::CallbackInfo& info, size_t i, const char* name, size_t* out);
bool ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, int* out);
std::string ArgString(const Napi::CallbackInfo& info, size_t i);

// Data pointer and length of a Uint8Array (or Buffer) argument; false (with a TypeError) otherwise.
bool ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name, uint8_t** data, size_t* len);

void InitRegion(Napi::Env env, Napi::Object exports);
void InitSyscalls(Napi::Env env, Napi::Object exports);
void InitCrc32c(Napi::Env env, Napi::Object exports);
void InitFutex(Napi::Env env, Napi::Object exports);

}  // namespace aof
