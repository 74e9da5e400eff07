// The SIGBUS guard. A page of a file mapping that lies past the file's end raises SIGBUS on access,
// and the default action kills the process. The library never maps past the end itself, but
// another process can truncate a file under us (`truncate -s 0`, a careless log rotator), and a
// JavaScript view over the lost pages would then crash the process on the next read.
//
// The guard catches SIGBUS for addresses inside a registered range (a Region), maps a private zero
// page over the faulting page and resumes: the access runs again and reads zeros (a store lands in
// that private page). The range counts its faults so that the library can tell a writer its stores
// went nowhere. Any other SIGBUS goes to whatever handler was there before, or kills as usual.
//
// mmap is not on POSIX's async-signal-safe list, but on Linux it is a plain system call that
// takes no user-space lock; errno is saved and restored around it.
#include "common.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <mutex>

namespace aof {

namespace {

struct Slot {
  // 0: free; 1: being filled in; otherwise the range's first address.
  std::atomic<uintptr_t> base{0};
  std::atomic<size_t> length{0};
  std::atomic<uint64_t> faults{0};
};

constexpr size_t kSlots = 16384;
Slot g_slots[kSlots];
std::atomic<size_t> g_used{0};  // slots at or past this index were never taken
// Faults rescued in the whole process, readable from JavaScript without a call (GuardTotal).
alignas(8) uint32_t g_total[2] = {0, 0};
struct sigaction g_previous;
std::once_flag g_installed;
const uintptr_t kPageMask = ~static_cast<uintptr_t>(sysconf(_SC_PAGESIZE) - 1);

bool Rescue(uintptr_t addr) {
  size_t used = g_used.load(std::memory_order_acquire);
  for (size_t i = 0; i < used; i++) {
    Slot& s = g_slots[i];
    uintptr_t base = s.base.load(std::memory_order_acquire);
    if (base <= 1 || addr - base >= s.length.load(std::memory_order_relaxed)) continue;
    int saved = errno;
    void* page = reinterpret_cast<void*>(addr & kPageMask);
    void* p = mmap(page, static_cast<size_t>(~kPageMask) + 1, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
    errno = saved;
    if (p == MAP_FAILED) return false;
    s.faults.fetch_add(1, std::memory_order_relaxed);
    __atomic_fetch_add(&g_total[0], 1, __ATOMIC_RELAXED);
    return true;
  }
  return false;
}

void OnSigbus(int sig, siginfo_t* info, void* context) {
  // BUS_ADRERR is "nonexistent physical address": a page past the end of a mapped file. Hardware
  // memory errors (BUS_MCEERR_*) and alignment faults are not ours to hide.
  if (info->si_code == BUS_ADRERR && Rescue(reinterpret_cast<uintptr_t>(info->si_addr))) return;
  if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
    g_previous.sa_sigaction(sig, info, context);
    return;
  }
  if ((g_previous.sa_flags & SA_SIGINFO) == 0 && g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
    return;
  }
  // Not ours, nobody else's: the default action (the signal stays blocked until we return, then
  // it is delivered again and kills, as it would have without the guard).
  signal(SIGBUS, SIG_DFL);
  raise(SIGBUS);
}

void Install() {
  struct sigaction action = {};
  action.sa_sigaction = OnSigbus;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  sigaction(SIGBUS, &action, &g_previous);
}

}  // namespace

int GuardRegister(void* base, size_t length) {
  std::call_once(g_installed, Install);
  for (size_t i = 0; i < kSlots; i++) {
    uintptr_t expected = 0;
    if (!g_slots[i].base.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) continue;
    g_slots[i].length.store(length, std::memory_order_relaxed);
    g_slots[i].faults.store(0, std::memory_order_relaxed);
    g_slots[i].base.store(reinterpret_cast<uintptr_t>(base), std::memory_order_release);
    size_t used = g_used.load(std::memory_order_relaxed);
    while (used < i + 1 && !g_used.compare_exchange_weak(used, i + 1, std::memory_order_acq_rel)) {
    }
    return static_cast<int>(i);
  }
  return -1;  // every slot taken: this range goes unguarded
}

void GuardUnregister(int slot) {
  if (slot >= 0) g_slots[slot].base.store(0, std::memory_order_release);
}

uint32_t* GuardTotal() { return g_total; }

uint64_t GuardFaults(int slot) {
  return slot >= 0 ? g_slots[slot].faults.load(std::memory_order_relaxed) : 0;
}

}  // namespace aof
