// Futex wait/wake on a 32-bit word of a shared file mapping: how a reader in another process
// (or worker) sleeps until a writer publishes. Linux only (futex(2) on a MAP_SHARED page keys on
// the file and offset, so it works across processes).
//
// A FutexWaiter owns one native thread. JS starts it with the value it last saw; the thread
// sleeps in FUTEX_WAIT until the word differs (or a timeout passes), delivers a callback to the
// JS thread through a thread-safe function and goes straight back to sleep on the new value.
// Callbacks are coalesced: none is sent while one is pending (not yet acknowledged by JS with
// ack(), which JS calls before it reads the shared state), so a busy writer costs the reader one
// callback per JS turn, and no round trip through JS before the thread sleeps again. The event
// loop never blocks.
#include "common.h"

#include <linux/futex.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace aof {

namespace {

long Futex(uint32_t* word, int op, uint32_t value, const struct timespec* timeout) {
  return syscall(SYS_futex, word, op, value, timeout, nullptr, 0);
}

// Resolves a (bytes, byteOffset) pair to an aligned 32-bit word inside the array.
uint32_t* Word32At(const Napi::CallbackInfo& info, size_t bytesArg, size_t offsetArg) {
  uint8_t* data;
  size_t len, offset;
  if (!ArgBytes(info, bytesArg, "bytes", &data, &len) || !ArgSize(info, offsetArg, "byteOffset", &offset)) {
    return nullptr;
  }
  if (offset > len || len - offset < 4 || (reinterpret_cast<uintptr_t>(data + offset) & 3) != 0) {
    Napi::RangeError::New(info.Env(), "byteOffset must address a 4-byte aligned word inside the array")
        .ThrowAsJavaScriptException();
    return nullptr;
  }
  return reinterpret_cast<uint32_t*>(data + offset);
}

class FutexWaiter : public Napi::ObjectWrap<FutexWaiter> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FutexWaiter", {
      InstanceMethod<&FutexWaiter::Start>("start"),
      InstanceMethod<&FutexWaiter::Ack>("ack"),
      InstanceMethod<&FutexWaiter::Pause>("stop"),
      InstanceMethod<&FutexWaiter::Ref>("ref"),
      InstanceMethod<&FutexWaiter::Unref>("unref"),
      InstanceMethod<&FutexWaiter::Close>("close"),
    });
  }

  // new FutexWaiter(bytes, seqOffset, waitersOffset, callback(changed: boolean))
  explicit FutexWaiter(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FutexWaiter>(info) {
    Napi::Env env = info.Env();
    seq_ = Word32At(info, 0, 1);
    if (seq_ == nullptr) return;
    waiters_ = Word32At(info, 0, 2);
    if (waiters_ == nullptr) return;
    if (info.Length() < 4 || !info[3].IsFunction()) {
      Napi::TypeError::New(env, "expected a function for callback").ThrowAsJavaScriptException();
      return;
    }
    // The words live in the array's memory: keep it alive as long as the thread may touch it.
    memory_ = Napi::Persistent(info[0].As<Napi::Uint8Array>().ArrayBuffer());
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[3].As<Napi::Function>(), "mmap-aof.futex", 0, 1);
    tsfn_.Unref(env);
    live_ = true;
    thread_ = std::thread([this] { Loop(); });
    napi_add_env_cleanup_hook(env, &FutexWaiter::Cleanup, this);
  }

  ~FutexWaiter() override { Stop(); }

 private:
  static void Cleanup(void* self) {
    auto* waiter = static_cast<FutexWaiter*>(self);
    waiter->inCleanup_ = true;  // the hook is being run: it must not remove itself
    waiter->Stop();
  }

  // Stops and joins the thread. Idempotent; called by close(), env teardown and the destructor.
  void Stop() {
    if (!live_) return;
    live_ = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_.store(true);
    }
    cv_.notify_one();
    // Wakes every sleeper on the word, ours included; the others see no change and sleep again.
    Futex(seq_, FUTEX_WAKE, INT_MAX, nullptr);
    if (thread_.joinable()) thread_.join();
    tsfn_.Release();
    if (!inCleanup_) napi_remove_env_cleanup_hook(Env(), &FutexWaiter::Cleanup, this);
  }

  void Loop() {
    for (;;) {
      uint32_t last;
      long timeoutMs;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_.load() || running_; });
        if (stop_.load()) return;
        restart_ = false;
        last = expected_;
        timeoutMs = timeoutMs_;
      }
      for (;;) {
        bool changed = Wait(last, timeoutMs);
        if (stop_.load()) return;
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (!running_) break;
          if (restart_) {  // start() again while we slept: take its value
            restart_ = false;
            last = expected_;
            timeoutMs = timeoutMs_;
            continue;
          }
        }
        if (changed) last = __atomic_load_n(seq_, __ATOMIC_SEQ_CST);
        if (pending_.exchange(true)) continue;  // JS has not handled the last one yet: it will see this too
        tsfn_.NonBlockingCall([changed](Napi::Env env, Napi::Function callback) {
          // The raw call: during environment teardown (a pending call delivered while the loop
          // closes its handles) JS cannot run, and node-addon-api's Call would then throw, which
          // is fatal there. A callback's own exception stays pending and is reported as uncaught.
          if (env == nullptr || callback.IsEmpty()) return;
          napi_value arg, recv;
          if (napi_get_boolean(env, changed, &arg) != napi_ok || napi_get_undefined(env, &recv) != napi_ok) return;
          napi_call_function(env, recv, callback, 1, &arg, nullptr);
        });
      }
    }
  }

  // Sleeps until *seq_ != expected (true) or timeoutMs passes (false). The waiters count tells
  // the writer a wake syscall is needed; it is seq_cst on both sides (Dekker: the writer bumps
  // seq then reads waiters, we bump waiters then the kernel re-reads seq).
  bool Wait(uint32_t expected, long timeoutMs) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
    __atomic_fetch_add(waiters_, 1, __ATOMIC_SEQ_CST);
    bool changed = false;
    while (!stop_.load()) {
      if (__atomic_load_n(seq_, __ATOMIC_SEQ_CST) != expected) {
        changed = true;
        break;
      }
      auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now()).count();
      if (left <= 0) break;
      struct timespec ts = {static_cast<time_t>(left / 1000000000), static_cast<long>(left % 1000000000)};
      Futex(seq_, FUTEX_WAIT, expected, &ts);
    }
    __atomic_fetch_sub(waiters_, 1, __ATOMIC_SEQ_CST);
    return changed;
  }

  // start(expected, timeoutMs): callbacks whenever the word moves on from expected (and then from
  // each value seen), or after timeoutMs without a change; until stop().
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    size_t expected, timeoutMs;
    if (!ArgSize(info, 0, "expected", &expected) || !ArgSize(info, 1, "timeoutMs", &timeoutMs)) return env.Undefined();
    if (!live_) {
      Napi::Error::New(env, "futex waiter is closed").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      expected_ = static_cast<uint32_t>(expected);
      timeoutMs_ = static_cast<long>(timeoutMs > 86400000 ? 86400000 : timeoutMs);
      running_ = true;
      restart_ = true;
      pending_.store(false);
    }
    cv_.notify_one();
    return env.Undefined();
  }

  // ack(): the last callback is being handled; the next change gets a callback of its own.
  Napi::Value Ack(const Napi::CallbackInfo& info) {
    pending_.store(false);
    return info.Env().Undefined();
  }

  // stop(): no more callbacks after the current sleep ends (one may still be in flight).
  Napi::Value Pause(const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = false;
    return info.Env().Undefined();
  }

  // While referenced, a pending callback keeps the event loop (and so the process) alive.
  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (live_) tsfn_.Ref(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (live_) tsfn_.Unref(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Stop();
    return info.Env().Undefined();
  }

  uint32_t* seq_ = nullptr;
  uint32_t* waiters_ = nullptr;
  Napi::Reference<Napi::ArrayBuffer> memory_;
  Napi::ThreadSafeFunction tsfn_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> pending_{false};
  bool running_ = false;
  bool restart_ = false;
  uint32_t expected_ = 0;
  long timeoutMs_ = 0;
  bool live_ = false;
  bool inCleanup_ = false;
};

// A reader counted in a shared word as asleep (the control block's doorbell count: the writer
// rings the doorbell only while it is not zero). new SleeperMark(bytes, byteOffset) adds one;
// release() takes it back, once. So do the finalizer and the environment's teardown: a reader
// collected, or in a worker that is terminated, is never left counted (JS cannot run then).
class SleeperMark : public Napi::ObjectWrap<SleeperMark> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SleeperMark", {InstanceMethod<&SleeperMark::Release>("release")});
  }

  explicit SleeperMark(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SleeperMark>(info) {
    word_ = Word32At(info, 0, 1);
    if (word_ == nullptr) return;
    memory_ = Napi::Persistent(info[0].As<Napi::Uint8Array>().ArrayBuffer());
    __atomic_fetch_add(word_, 1, __ATOMIC_SEQ_CST);
    napi_add_env_cleanup_hook(info.Env(), &SleeperMark::Cleanup, this);
  }

  ~SleeperMark() override { Drop(true); }

 private:
  static void Cleanup(void* self) { static_cast<SleeperMark*>(self)->Drop(false); }

  void Drop(bool removeHook) {
    if (word_ == nullptr) return;
    __atomic_fetch_sub(word_, 1, __ATOMIC_SEQ_CST);
    word_ = nullptr;
    if (removeHook) napi_remove_env_cleanup_hook(Env(), &SleeperMark::Cleanup, this);
  }

  Napi::Value Release(const Napi::CallbackInfo& info) {
    Drop(true);
    return info.Env().Undefined();
  }

  uint32_t* word_ = nullptr;
  Napi::Reference<Napi::ArrayBuffer> memory_;
};

}  // namespace

// futexWake(bytes, byteOffset): wakes every process and thread sleeping on the word; returns how many.
static Napi::Value FutexWake(const Napi::CallbackInfo& info) {
  uint32_t* word = Word32At(info, 0, 1);
  if (word == nullptr) return info.Env().Undefined();
  long n = Futex(word, FUTEX_WAKE, INT_MAX, nullptr);
  if (n < 0) {
    ThrowErrno(info.Env(), errno, "futex", std::string());
    return info.Env().Undefined();
  }
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// futexNap(bytes, seqOffset, waitersOffset, expected, timeoutNs): counts this thread as a waiter,
// sleeps on the sequence word while it holds `expected`, at most timeoutNs, and takes the count
// back, all in one call (no JS runs in between, so a terminated worker cannot leave it counted).
// It blocks the event loop: JS bounds timeoutNs. True when the word moved or a wake came, false on
// timeout. 'adaptive' naps with it until just before the next event is due; an early event wakes it.
static Napi::Value FutexNap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t* seq = Word32At(info, 0, 1);
  if (seq == nullptr) return env.Undefined();
  uint32_t* waiters = Word32At(info, 0, 2);
  if (waiters == nullptr) return env.Undefined();
  if (info.Length() < 5 || !info[3].IsNumber() || !info[4].IsNumber()) {
    Napi::TypeError::New(env, "expected numbers for expected and timeoutNs").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint32_t expected = info[3].As<Napi::Number>().Uint32Value();
  int64_t ns = info[4].As<Napi::Number>().Int64Value();
  if (ns < 0) ns = 0;
  struct timespec ts = {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  __atomic_fetch_add(waiters, 1, __ATOMIC_SEQ_CST);
  long r = Futex(seq, FUTEX_WAIT, expected, &ts);
  int err = errno;
  __atomic_fetch_sub(waiters, 1, __ATOMIC_SEQ_CST);
  if (r == 0 || err == EAGAIN || err == EINTR) return Napi::Boolean::New(env, true);
  if (err == ETIMEDOUT) return Napi::Boolean::New(env, false);
  ThrowErrno(env, err, "futex", std::string());
  return env.Undefined();
}

// setTimerSlack(ns): this thread's timer slack (prctl PR_SET_TIMERSLACK; Linux rounds every
// timed sleep of a normal thread up by it, 50 µs by default). Returns the previous value.
static Napi::Value SetTimerSlack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "expected a number of nanoseconds").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int before = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
  int64_t ns = info[0].As<Napi::Number>().Int64Value();
  if (prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(ns < 1 ? 1 : ns), 0, 0, 0) != 0) {
    ThrowErrno(env, errno, "prctl", std::string());
    return env.Undefined();
  }
  return Napi::Number::New(env, before);
}

void InitFutex(Napi::Env env, Napi::Object exports) {
  exports.Set("futexNap", Napi::Function::New(env, FutexNap, "futexNap"));
  exports.Set("setTimerSlack", Napi::Function::New(env, SetTimerSlack, "setTimerSlack"));
  exports.Set("FutexWaiter", FutexWaiter::Define(env));
  exports.Set("futexWake", Napi::Function::New(env, FutexWake, "futexWake"));
  exports.Set("SleeperMark", SleeperMark::Define(env));
}

}  // namespace aof
