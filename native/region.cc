// Region: a reserved range of address space into which a file (or anonymous memory) is mapped.
//
// Addresses never move: growing maps more of the file at the end of the same range, so every
// ArrayBuffer over it stays valid and may be longer than the file: the part past the file is
// private zero pages. Closing replaces the range with private zero pages
// instead of unmapping it, so a stale view reads zeros and can never fault. The range is
// unmapped only when the Region object and every ArrayBuffer and async job over it are gone.
#include "common.h"

#include <sys/mman.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <string>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace aof {

static const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));
static const size_t kMaxBuffer = size_t{1} << 32;

namespace {

struct Reservation {
  uint8_t* base;
  size_t capacity;
  std::string path;
  int guard;  // slot in the SIGBUS guard (guard.cc), -1 if unguarded
  std::atomic<int> refs{1};
  bool released = false;

  void Ref() { refs.fetch_add(1, std::memory_order_relaxed); }
  void Unref() {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      GuardUnregister(guard);
      munmap(base, capacity);
      delete this;
    }
  }
};

// Faults pages in ahead of the writer. MADV_POPULATE_* (Linux 5.14+) does it in one call;
// older kernels get a touch per page. The write touch is an atomic OR with 0 so that a
// concurrent store by the writer to the same byte is never undone.
int Populate(uint8_t* addr, size_t len, bool write, bool* touched) {
  *touched = false;
  if (len == 0) return 0;
  if (madvise(addr, len, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) == 0) return 0;
  if (errno != EINVAL) return errno;
  *touched = true;
  for (size_t off = 0; off < len; off += kPage) {
    if (write) {
      __atomic_fetch_or(addr + off, static_cast<uint8_t>(0), __ATOMIC_RELAXED);
    } else {
      (void)*static_cast<volatile uint8_t*>(addr + off);
    }
  }
  return 0;
}

int Msync(uint8_t* base, size_t offset, size_t length, int flags) {
  size_t start = offset & ~(kPage - 1);
  if (msync(base + start, length + (offset - start), flags) != 0) return errno;
  return 0;
}

class RegionWork : public Napi::AsyncWorker {
 public:
  enum Op { kMsync, kPopulateRead, kPopulateWrite };

  RegionWork(Napi::Env env, Reservation* r, Op op, size_t offset, size_t length)
      : Napi::AsyncWorker(env, "mmap-aof.region"),
        deferred_(env),
        r_(r), op_(op), offset_(offset), length_(length) {
    r_->Ref();  // the range must stay mapped while the job runs
  }

  Napi::Value Promise() { return deferred_.Promise(Env()); }

  void Execute() override {
    if (op_ == kMsync) {
      err_ = Msync(r_->base, offset_, length_, MS_SYNC);
    } else {
      err_ = Populate(r_->base + offset_, length_, op_ == kPopulateWrite, &touched_);
    }
  }

  // Raw calls only (see SafeDeferred): this may run while the environment is torn down.
  void OnOK() override {
    napi_env env = Env();
    napi_value value = nullptr;
    if (err_ != 0) {
      deferred_.Reject(env, RawErrnoError(env, err_, op_ == kMsync ? "msync" : "madvise", r_->path));
    } else if (op_ == kMsync) {
      if (napi_get_undefined(env, &value) == napi_ok) deferred_.Resolve(env, value);
    } else {
      const char* how = touched_ ? "touch" : "madvise";
      if (napi_create_string_utf8(env, how, NAPI_AUTO_LENGTH, &value) == napi_ok) deferred_.Resolve(env, value);
    }
    r_->Unref();
  }

 private:
  SafeDeferred deferred_;
  Reservation* r_;
  Op op_;
  size_t offset_, length_;
  int err_ = 0;
  bool touched_ = false;
};

}  // namespace

class Region : public Napi::ObjectWrap<Region> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Region", {
      InstanceMethod<&Region::MapFile>("mapFile"),
      InstanceMethod<&Region::MapAnonymous>("mapAnonymous"),
      InstanceMethod<&Region::Zero>("zero"),
      InstanceMethod<&Region::Buffer>("buffer"),
      InstanceMethod<&Region::Release>("release"),
      InstanceMethod<&Region::MsyncSync>("msync"),
      InstanceMethod<&Region::MsyncAsync>("msyncAsync"),
      InstanceMethod<&Region::Advise>("advise"),
      InstanceMethod<&Region::PopulateSync>("populate"),
      InstanceMethod<&Region::PopulateAsync>("populateAsync"),
      InstanceAccessor<&Region::Capacity>("capacity"),
      InstanceAccessor<&Region::Released>("released"),
      InstanceAccessor<&Region::Faults>("faults"),
    });
  }

  // new Region(capacity, path): reserves capacity bytes (page multiple) of address space (zero pages).
  explicit Region(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Region>(info) {
    Napi::Env env = info.Env();
    size_t capacity;
    if (!ArgSize(info, 0, "capacity", &capacity)) return;
    std::string path = ArgString(info, 1);
    if (capacity == 0 || capacity % kPage != 0) {
      Napi::RangeError::New(env, "capacity must be a positive multiple of the page size").ThrowAsJavaScriptException();
      return;
    }
    // Readable, writable zero pages that cost nothing until touched: an ArrayBuffer may span more
    // than the file, and a stray access past EOF reads zeros.
    void* base = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
      ThrowErrno(env, errno, "mmap", path);
      return;
    }
    r_ = new Reservation{static_cast<uint8_t*>(base), capacity, path, GuardRegister(base, capacity)};
  }

  ~Region() override {
    if (r_ != nullptr) r_->Unref();
  }

 private:
  Reservation* r_ = nullptr;

  // Checks [offset, offset+length) lies in the range; aligned=true also requires page alignment.
  bool CheckRange(Napi::Env env, size_t offset, size_t length, bool aligned) {
    if (r_ == nullptr) {
      Napi::Error::New(env, "region was not created").ThrowAsJavaScriptException();
      return false;
    }
    if (offset > r_->capacity || length > r_->capacity - offset) {
      Napi::RangeError::New(env, "range is outside the region").ThrowAsJavaScriptException();
      return false;
    }
    if (aligned && (offset % kPage != 0 || length % kPage != 0)) {
      Napi::RangeError::New(env, "offset and length must be page multiples").ThrowAsJavaScriptException();
      return false;
    }
    return true;
  }

  bool CheckLive(Napi::Env env) {
    if (r_->released) {
      Napi::Error error = Napi::Error::New(env, "region was released");
      error.Set("code", Napi::String::New(env, "ERR_AOF_CLOSED"));
      error.ThrowAsJavaScriptException();
      return false;
    }
    return true;
  }

  bool ArgRange(const Napi::CallbackInfo& info, size_t* offset, size_t* length, bool aligned) {
    return ArgSize(info, 0, "offset", offset) && ArgSize(info, 1, "length", length) &&
           CheckRange(info.Env(), *offset, *length, aligned);
  }

  // mapFile(fd, offset, length, writable): maps file bytes [offset, offset+length) at the same offset.
  Napi::Value MapFile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd;
    size_t offset, length;
    if (!ArgInt(info, 0, "fd", &fd) || !ArgSize(info, 1, "offset", &offset) || !ArgSize(info, 2, "length", &length) ||
        !CheckRange(env, offset, length, true) || !CheckLive(env)) {
      return env.Undefined();
    }
    bool writable = info.Length() > 3 && info[3].ToBoolean().Value();
    if (length == 0) return env.Undefined();
    // Read-only is MAP_PRIVATE and still writable: a stray store through a view (JS cannot make a
    // Buffer read-only) lands in a private copy of the page instead of faulting (SIGSEGV). Pages
    // nobody wrote to are the page cache's, so they show the writer's later bytes.
    int flags = (writable ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED;
    void* p = mmap(r_->base + offset, length, PROT_READ | PROT_WRITE, flags, fd, static_cast<off_t>(offset));
    if (p == MAP_FAILED) ThrowErrno(env, errno, "mmap", r_->path);
    return env.Undefined();
  }

  // mapAnonymous(offset, length): shared anonymous memory (an AOF with no file behind it).
  Napi::Value MapAnonymous(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    size_t offset, length;
    if (!ArgRange(info, &offset, &length, true) || !CheckLive(env) || length == 0) return env.Undefined();
    void* p = mmap(r_->base + offset, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED) ThrowErrno(env, errno, "mmap", r_->path);
    return env.Undefined();
  }

  int ZeroPages(size_t offset, size_t length) {
    if (length == 0) return 0;
    void* p = mmap(r_->base + offset, length, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? errno : 0;
  }

  // zero(offset, length): detaches pages from the file; they read as zeros from now on.
  Napi::Value Zero(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    size_t offset, length;
    if (!ArgRange(info, &offset, &length, true)) return env.Undefined();
    int err = ZeroPages(offset, length);
    if (err != 0) ThrowErrno(env, err, "mmap", r_->path);
    return env.Undefined();
  }

  // buffer(length): an ArrayBuffer over [0, length) of the range, without a copy.
  Napi::Value Buffer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    size_t length;
    if (!ArgSize(info, 0, "length", &length) || !CheckRange(env, 0, length, false) || !CheckLive(env)) {
      return env.Undefined();
    }
    // V8 refuses larger external buffers on Node 20 (buffer.constants.MAX_LENGTH); fail before it can.
    if (length > kMaxBuffer) {
      Napi::RangeError::New(env, "length exceeds the largest ArrayBuffer this Node creates").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    r_->Ref();
    return Napi::ArrayBuffer::New(
        env, r_->base, length, [](Napi::Env, void*, Reservation* r) { r->Unref(); }, r_);
  }

  // release(): every page becomes a private zero page; mapping calls fail from now on. Idempotent.
  Napi::Value Release(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (r_ == nullptr || r_->released) return env.Undefined();
    int err = ZeroPages(0, r_->capacity);
    if (err != 0) {
      ThrowErrno(env, err, "mmap", r_->path);
      return env.Undefined();
    }
    r_->released = true;
    return env.Undefined();
  }

  // msync(offset, length, sync): MS_SYNC when sync is true, MS_ASYNC otherwise.
  Napi::Value MsyncSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    size_t offset, length;
    if (!ArgRange(info, &offset, &length, false)) return env.Undefined();
    bool sync = info.Length() < 3 || info[2].ToBoolean().Value();
    int err = Msync(r_->base, offset, length, sync ? MS_SYNC : MS_ASYNC);
    if (err != 0) ThrowErrno(env, err, "msync", r_->path);
    return env.Undefined();
  }

  Napi::Value MsyncAsync(const Napi::CallbackInfo& info) {
    return Queue(info, RegionWork::kMsync);
  }

  Napi::Value Advise(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    size_t offset, length;
    int advice;
    if (!ArgRange(info, &offset, &length, true) || !ArgInt(info, 2, "advice", &advice)) return env.Undefined();
    if (length > 0 && madvise(r_->base + offset, length, advice) != 0) ThrowErrno(env, errno, "madvise", r_->path);
    return env.Undefined();
  }

  // populate(offset, length, write): 'madvise' or 'touch', the way the pages were faulted in.
  Napi::Value PopulateSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    size_t offset, length;
    if (!ArgRange(info, &offset, &length, true) || !CheckLive(env)) return env.Undefined();
    bool touched;
    int err = Populate(r_->base + offset, length, info.Length() > 2 && info[2].ToBoolean().Value(), &touched);
    if (err != 0) {
      ThrowErrno(env, err, "madvise", r_->path);
      return env.Undefined();
    }
    return Napi::String::New(env, touched ? "touch" : "madvise");
  }

  Napi::Value PopulateAsync(const Napi::CallbackInfo& info) {
    bool write = info.Length() > 2 && info[2].ToBoolean().Value();
    return Queue(info, write ? RegionWork::kPopulateWrite : RegionWork::kPopulateRead);
  }

  Napi::Value Queue(const Napi::CallbackInfo& info, RegionWork::Op op) {
    Napi::Env env = info.Env();
    size_t offset, length;
    bool aligned = op != RegionWork::kMsync;
    if (!ArgRange(info, &offset, &length, aligned)) return env.Undefined();
    if (op != RegionWork::kMsync && !CheckLive(env)) return env.Undefined();
    RegionWork* work = new RegionWork(env, r_, op, offset, length);
    Napi::Value promise = work->Promise();
    work->Queue();
    return promise;
  }

  Napi::Value Capacity(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), r_ == nullptr ? 0 : static_cast<double>(r_->capacity));
  }

  // Pages the SIGBUS guard replaced with zeros: accesses past the end of a file truncated under us.
  Napi::Value Faults(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), r_ == nullptr ? 0 : static_cast<double>(GuardFaults(r_->guard)));
  }

  Napi::Value Released(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), r_ == nullptr || r_->released);
  }
};

void InitRegion(Napi::Env env, Napi::Object exports) {
  exports.Set("Region", Region::Define(env));
  exports.Set("pageSize", Napi::Number::New(env, static_cast<double>(kPage)));
  exports.Set("maxBuffer", Napi::Number::New(env, static_cast<double>(kMaxBuffer)));
  // A Uint32Array over the guard's process-wide fault count: a hot path checks it with a load, and
  // asks a region for its own count only when it is not zero. Static memory: nothing to free.
  Napi::ArrayBuffer total = Napi::ArrayBuffer::New(env, GuardTotal(), sizeof(uint32_t));
  exports.Set("guardFaults", Napi::Uint32Array::New(env, 1, total, 0));
}

}  // namespace aof
