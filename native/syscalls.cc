// Syscalls that Node's fs module does not offer (fallocate, flock) and 64-bit atomics on
// mapped memory with acquire/release ordering.
#include "common.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/xattr.h>
#include <cerrno>
#include <cmath>
#include <string>
#include <utility>

namespace aof {

// fallocate(2) with EINTR retried; returns 0 or errno.
static int Allocate(int fd, size_t offset, size_t length) {
  if (length == 0) return 0;
  int rc;
  do {
    rc = fallocate(fd, 0, static_cast<off_t>(offset), static_cast<off_t>(length));
  } while (rc != 0 && errno == EINTR);
  return rc == 0 ? 0 : errno;
}

// fallocate(fd, offset, length, path): reserves disk blocks so a later store into the mapping
// cannot hit SIGBUS on a full disk. EOPNOTSUPP is reported as is: the caller decides the fallback.
static Napi::Value Fallocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  size_t offset, length;
  if (!ArgInt(info, 0, "fd", &fd) || !ArgSize(info, 1, "offset", &offset) || !ArgSize(info, 2, "length", &length)) {
    return env.Undefined();
  }
  int err = Allocate(fd, offset, length);
  if (err != 0) ThrowErrno(env, err, "fallocate", ArgString(info, 3));
  return env.Undefined();
}

namespace {

// fallocateAsync(fd, offset, length, path): the same on a thread-pool thread (background growth).
class FallocateWork : public Napi::AsyncWorker {
 public:
  FallocateWork(Napi::Env env, int fd, size_t offset, size_t length, std::string path)
      : Napi::AsyncWorker(env, "mmap-aof.fallocate"),
        deferred_(env),
        fd_(fd), offset_(offset), length_(length), path_(std::move(path)) {}

  Napi::Value Promise() { return deferred_.Promise(Env()); }

  void Execute() override { err_ = Allocate(fd_, offset_, length_); }

  // Raw calls only (see SafeDeferred): this may run while the environment is torn down.
  void OnOK() override {
    napi_env env = Env();
    napi_value undefined;
    if (err_ != 0) {
      deferred_.Reject(env, RawErrnoError(env, err_, "fallocate", path_));
    } else if (napi_get_undefined(env, &undefined) == napi_ok) {
      deferred_.Resolve(env, undefined);
    }
  }

 private:
  SafeDeferred deferred_;
  int fd_;
  size_t offset_, length_;
  std::string path_;
  int err_ = 0;
};

}  // namespace

static Napi::Value FallocateAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  size_t offset, length;
  if (!ArgInt(info, 0, "fd", &fd) || !ArgSize(info, 1, "offset", &offset) || !ArgSize(info, 2, "length", &length)) {
    return env.Undefined();
  }
  FallocateWork* work = new FallocateWork(env, fd, offset, length, ArgString(info, 3));
  Napi::Value promise = work->Promise();
  work->Queue();
  return promise;
}

// flock(fd, operation, path): true when done, false when LOCK_NB was given and the lock is held elsewhere.
static Napi::Value Flock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd, op;
  if (!ArgInt(info, 0, "fd", &fd) || !ArgInt(info, 1, "operation", &op)) return env.Undefined();
  int rc;
  do {
    rc = flock(fd, op);
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) return Napi::Boolean::New(env, true);
  if (errno == EWOULDBLOCK && (op & LOCK_NB)) return Napi::Boolean::New(env, false);
  ThrowErrno(env, errno, "flock", ArgString(info, 2));
  return env.Undefined();
}

// getxattr(fd, name, path): the value of an extended attribute of the open file, or null when it
// has none of that name or the filesystem keeps none (ENODATA, ENOTSUP).
static Napi::Value Getxattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgInt(info, 0, "fd", &fd)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsString()) {
    Napi::TypeError::New(env, "name must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string name = info[1].As<Napi::String>().Utf8Value();
  uint8_t value[4096];
  ssize_t len = fgetxattr(fd, name.c_str(), value, sizeof value);
  if (len < 0) {
    if (errno == ENODATA || errno == ENOTSUP) return env.Null();
    ThrowErrno(env, errno, "fgetxattr", ArgString(info, 2));
    return env.Undefined();
  }
  return Napi::Buffer<uint8_t>::Copy(env, value, static_cast<size_t>(len));
}

// setxattr(fd, name, value, path): sets an extended attribute of the open file (tools and tests
// that write a file's durable slots themselves; the library's own go through durableSync).
static Napi::Value Setxattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t* value;
  size_t len;
  if (!ArgInt(info, 0, "fd", &fd)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsString()) {
    Napi::TypeError::New(env, "name must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (!ArgBytes(info, 2, "value", &value, &len)) return env.Undefined();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  if (fsetxattr(fd, name.c_str(), value, len, 0) != 0) ThrowErrno(env, errno, "fsetxattr", ArgString(info, 3));
  return env.Undefined();
}

static uint64_t* WordAt(const Napi::CallbackInfo& info) {
  uint8_t* data;
  size_t len, offset;
  if (!ArgBytes(info, 0, "bytes", &data, &len) || !ArgSize(info, 1, "byteOffset", &offset)) return nullptr;
  if (offset > len || len - offset < 8 || (reinterpret_cast<uintptr_t>(data + offset) & 7) != 0) {
    Napi::RangeError::New(info.Env(), "byteOffset must address an 8-byte aligned word inside the array")
        .ThrowAsJavaScriptException();
    return nullptr;
  }
  return reinterpret_cast<uint64_t*>(data + offset);
}

// atomicLoad64(bytes, byteOffset): acquire load of a little-endian word, as a number (< 2^53).
static Napi::Value AtomicLoad64(const Napi::CallbackInfo& info) {
  uint64_t* word = WordAt(info);
  if (word == nullptr) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), static_cast<double>(__atomic_load_n(word, __ATOMIC_ACQUIRE)));
}

// atomicStore64(bytes, byteOffset, value): release store; readers that acquire-load it see every earlier store.
static Napi::Value AtomicStore64(const Napi::CallbackInfo& info) {
  uint64_t* word = WordAt(info);
  size_t value;
  if (word == nullptr || !ArgSize(info, 2, "value", &value)) return info.Env().Undefined();
  __atomic_store_n(word, static_cast<uint64_t>(value), __ATOMIC_RELEASE);
  return info.Env().Undefined();
}

// writeEndClosed(fd): true when fd is the write end of a pipe or socket whose reader went away
// (poll reports POLLERR or POLLHUP without waiting). How `aof tail -f | head -1` notices that
// head has exited while no new byte comes to write (a write would get EPIPE; there is none).
static Napi::Value WriteEndClosed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "expected a file descriptor").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct pollfd p = {info[0].As<Napi::Number>().Int32Value(), 0, 0};
  int n = poll(&p, 1, 0);
  if (n < 0) {
    ThrowErrno(env, errno, "poll", std::string());
    return env.Undefined();
  }
  return Napi::Boolean::New(env, n > 0 && (p.revents & (POLLERR | POLLHUP)) != 0);
}

void InitSyscalls(Napi::Env env, Napi::Object exports) {
  exports.Set("writeEndClosed", Napi::Function::New(env, WriteEndClosed, "writeEndClosed"));
  exports.Set("fallocate", Napi::Function::New(env, Fallocate, "fallocate"));
  exports.Set("fallocateAsync", Napi::Function::New(env, FallocateAsync, "fallocateAsync"));
  exports.Set("flock", Napi::Function::New(env, Flock, "flock"));
  exports.Set("getxattr", Napi::Function::New(env, Getxattr, "getxattr"));
  exports.Set("setxattr", Napi::Function::New(env, Setxattr, "setxattr"));
  exports.Set("atomicLoad64", Napi::Function::New(env, AtomicLoad64, "atomicLoad64"));
  exports.Set("atomicStore64", Napi::Function::New(env, AtomicStore64, "atomicStore64"));
  Napi::Object c = Napi::Object::New(env);
  c.Set("LOCK_SH", LOCK_SH);
  c.Set("LOCK_EX", LOCK_EX);
  c.Set("LOCK_NB", LOCK_NB);
  c.Set("LOCK_UN", LOCK_UN);
  c.Set("MADV_NORMAL", MADV_NORMAL);
  c.Set("MADV_SEQUENTIAL", MADV_SEQUENTIAL);
  c.Set("MADV_WILLNEED", MADV_WILLNEED);
  c.Set("MADV_DONTNEED", MADV_DONTNEED);
  exports.Set("constants", c);
}

}  // namespace aof
