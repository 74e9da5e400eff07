// Region: a reserved range of address space into which a file (or anonymous memory) is mapped.
//
// Addresses never move: growing maps more of the file at the end of the same range, so every
// ArrayBuffer over it stays valid and may be longer than the file: the part past the file is
// private zero pages. Closing replaces the range with private zero pages
// instead of unmapping it, so a stale view reads zeros and can never fault. The range is
// unmapped only when the Region object and every ArrayBuffer and async job over it are gone.
#include "common.h"

#include <sys/mman.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cstring>
#include <atomic>
#include <mutex>
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
  std::mutex durable{};  // one durable flush at a time (DurableSync)

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

// Durable slots (docs/format.md, "Durable slots"; src/durability.ts): an extended attribute of
// the data file holding a 4-byte header (magic "AOD2") and the two newest slots, 24 bytes each:
// u32 CRC-32C of the slot's bytes [4, 24), u32 CRC-32C of the content [previous, durable), u32
// sequence number (wrapping), u32 durable size, u32 previous durable size, u32 boot (the first
// bytes of the boot id). 52 bytes: small enough for ext4 to keep in the inode (a value in a block
// of its own made each flush's journal commit write that block too: 182 µs against 146 µs).
// TypeScript fills a new slot but for its two CRCs; they are computed here, off the event loop.
constexpr size_t kSlotSize = 24;
constexpr size_t kSlotsKept = 2;
constexpr size_t kHeaderSize = 4;
constexpr uint32_t kSlotsMagic = 0x32444f41;  // "AOD2"

void PutU32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }  // little-endian hosts only
uint32_t GetU32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
// Sequence numbers wrap: a is newer than b when it is less than 2^31 ahead (serial arithmetic).
bool Newer(const uint8_t* a, const uint8_t* b) { return static_cast<int32_t>(GetU32(a + 8) - GetU32(b + 8)) > 0; }

// The attribute's value with `slot` added: the kSlotsKept newest among the slots already there and
// the new one. Flushes of a file run one at a time (DurableSync holds the file's lock), so when a
// slot is written the one before it is complete: two are enough. A synchronous flush beside an
// asynchronous one adds its slot to the other's, never loses it.
size_t MergeSlots(const uint8_t* old, ssize_t oldLen, const uint8_t* slot, uint8_t* out) {
  const uint8_t* slots[kSlotsKept + 1];
  size_t n = 0;
  slots[n++] = slot;
  if (oldLen >= static_cast<ssize_t>(kHeaderSize) && GetU32(old) == kSlotsMagic) {
    for (size_t at = kHeaderSize; at + kSlotSize <= static_cast<size_t>(oldLen) && n <= kSlotsKept; at += kSlotSize) {
      if (GetU32(old + at + 8) != GetU32(slot + 8)) slots[n++] = old + at;
    }
  }
  // Newest first (insertion sort: at most three).
  for (size_t i = 1; i < n; i++) {
    for (size_t j = i; j > 0 && Newer(slots[j], slots[j - 1]); j--) std::swap(slots[j], slots[j - 1]);
  }
  if (n > kSlotsKept) n = kSlotsKept;
  PutU32(out, kSlotsMagic);
  for (size_t i = 0; i < n; i++) std::memcpy(out + kHeaderSize + i * kSlotSize, slots[i], kSlotSize);
  return kHeaderSize + n * kSlotSize;
}

// One durable flush of the data file `fd`: with a slot, its CRCs are filled in and it joins the
// slots attribute (`name`); then fsync(fd) writes back every dirty page of the mapping and commits
// the attribute in the same journal transaction: one device flush for both. They may still reach
// the disk in either order (a periodic journal commit can carry the attribute first), which is why
// the slot holds the CRC of the data it vouches for. Serialised per file (the attribute is read,
// merged and written back). *slotted is false when the filesystem keeps no user attributes
// (ENOTSUP): the data is durable all the same, with no slot to prove it after a power loss.
// Returns 0 or errno, with the failing call in *syscall.
int DurableSync(Reservation* r, int fd, size_t crcFrom, size_t crcTo, uint8_t* slot, const std::string& name,
                bool* slotted, const char** syscall) {
  std::lock_guard<std::mutex> lock(r->durable);
  *slotted = false;
  if (slot != nullptr) {
    PutU32(slot + 4, Crc32cOf(r->base + crcFrom, crcTo - crcFrom));
    PutU32(slot, Crc32cOf(slot + 4, kSlotSize - 4));
    uint8_t old[kHeaderSize + (kSlotsKept + 1) * kSlotSize];
    ssize_t oldLen = fgetxattr(fd, name.c_str(), old, sizeof old);
    if (oldLen < 0 && errno != ENODATA && errno != ERANGE && errno != ENOTSUP) {
      *syscall = "fgetxattr";
      return errno;
    }
    if (oldLen >= 0 || errno != ENOTSUP) {
      uint8_t value[kHeaderSize + kSlotsKept * kSlotSize];
      size_t len = MergeSlots(old, oldLen, slot, value);
      if (fsetxattr(fd, name.c_str(), value, len, 0) == 0) {
        *slotted = true;
      } else if (errno != ENOTSUP) {
        *syscall = "fsetxattr";
        return errno;
      }
    }
  }
  int rc;
  do {
    rc = fsync(fd);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    *syscall = "fsync";
    return errno;
  }
  return 0;
}

// The arguments of durableSync: fd, crcFrom, crcTo, then the new slot (a 24-byte Uint8Array) and
// the attribute's name, or null for a flush without a slot.
struct DurableArgs {
  int fd = -1;
  size_t crcFrom = 0, crcTo = 0;
  uint8_t* slot = nullptr;
  std::string name;
};

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

class DurableWork : public Napi::AsyncWorker {
 public:
  DurableWork(Napi::Env env, Reservation* r, const DurableArgs& args, Napi::Value slot)
      : Napi::AsyncWorker(env, "mmap-aof.durableSync"), deferred_(env), r_(r), args_(args) {
    r_->Ref();  // the range must stay mapped while the job runs
    if (args_.slot != nullptr) slot_ = Napi::Persistent(slot.As<Napi::Object>());  // and the slot's memory live
  }

  Napi::Value Promise() { return deferred_.Promise(Env()); }

  void Execute() override {
    err_ = DurableSync(r_, args_.fd, args_.crcFrom, args_.crcTo, args_.slot, args_.name, &slotted_, &syscall_);
  }

  // Raw calls only (see SafeDeferred): this may run while the environment is torn down.
  void OnOK() override {
    napi_env env = Env();
    napi_value value;
    if (err_ != 0) {
      deferred_.Reject(env, RawErrnoError(env, err_, syscall_, r_->path));
    } else if (napi_get_boolean(env, slotted_, &value) == napi_ok) {
      deferred_.Resolve(env, value);
    }
    r_->Unref();
  }

 private:
  SafeDeferred deferred_;
  Reservation* r_;
  DurableArgs args_;
  Napi::ObjectReference slot_;
  const char* syscall_ = "fsync";
  bool slotted_ = false;
  int err_ = 0;
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
      InstanceMethod<&Region::DurableSyncSync>("durableSync"),
      InstanceMethod<&Region::DurableSyncAsync>("durableSyncAsync"),
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

  bool ArgDurable(const Napi::CallbackInfo& info, DurableArgs* a) {
    Napi::Env env = info.Env();
    if (!ArgInt(info, 0, "fd", &a->fd) || !ArgSize(info, 1, "crcFrom", &a->crcFrom) || !ArgSize(info, 2, "crcTo", &a->crcTo)) {
      return false;
    }
    if (a->crcTo < a->crcFrom) {
      Napi::RangeError::New(env, "durableSync: the range ends before it starts").ThrowAsJavaScriptException();
      return false;
    }
    if (!CheckRange(env, a->crcFrom, a->crcTo - a->crcFrom, false) || !CheckLive(env)) return false;
    if (info.Length() > 3 && !info[3].IsNull() && !info[3].IsUndefined()) {
      size_t len;
      if (!ArgBytes(info, 3, "slot", &a->slot, &len)) return false;
      if (len != kSlotSize || info.Length() < 5 || !info[4].IsString()) {
        Napi::RangeError::New(env, "durableSync: a slot is 24 bytes, with the attribute's name").ThrowAsJavaScriptException();
        return false;
      }
      a->name = info[4].As<Napi::String>().Utf8Value();
    }
    return true;
  }

  // durableSync(fd, crcFrom, crcTo, slot?, name?): see DurableSync; true when the slot was stored.
  Napi::Value DurableSyncSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    DurableArgs a;
    if (!ArgDurable(info, &a)) return env.Undefined();
    const char* syscall = "fsync";
    bool slotted = false;
    int err = DurableSync(r_, a.fd, a.crcFrom, a.crcTo, a.slot, a.name, &slotted, &syscall);
    if (err != 0) {
      ThrowErrno(env, err, syscall, r_->path);
      return env.Undefined();
    }
    return Napi::Boolean::New(env, slotted);
  }

  Napi::Value DurableSyncAsync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    DurableArgs a;
    if (!ArgDurable(info, &a)) return env.Undefined();
    DurableWork* work = new DurableWork(env, r_, a, a.slot != nullptr ? info[3] : env.Undefined());
    Napi::Value promise = work->Promise();
    work->Queue();
    return promise;
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
