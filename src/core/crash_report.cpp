#include "core/crash_report.h"

#include <execinfo.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <csignal>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TUG_UNDER_SANITIZER 1
#else
#define TUG_UNDER_SANITIZER 0
#endif

namespace tug {
namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

void Put(const char* s) {
  size_t n = std::strlen(s);
  while (n > 0) {
    ssize_t w = ::write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

void PutDec(uint64_t v) {
  char buf[21];
  char* p = buf + sizeof buf - 1;
  *p = '\0';
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  Put(p);
}

// Hex without printf (not async-signal-safe).
void PutHex(uintptr_t v) {
  char buf[2 + 16 + 1];
  char* p = buf + sizeof buf - 1;
  *p = '\0';
  do {
    *--p = "0123456789abcdef"[v & 0xf];
    v >>= 4;
  } while (v != 0 && p > buf + 2);
  *--p = 'x';
  *--p = '0';
  Put(p);
}

const char* SignalName(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGABRT:
      return "SIGABRT";
    default:
      return "signal";
  }
}

void OnFatalSignal(int sig, siginfo_t* info, void*) {
  // SA_RESETHAND put the default action back: a second fault in here ends the process.
  char thread[17] = {};
  ::prctl(PR_GET_NAME, thread, 0, 0, 0);
  Put("tug: fatal ");
  Put(SignalName(sig));
  if (info != nullptr && info->si_code <= 0) {  // kill(), tgkill(), abort(): no fault
    Put(" sent by pid ");
    PutDec(static_cast<uint64_t>(info->si_pid));
  } else if (info != nullptr) {
    Put(" at address ");
    PutHex(reinterpret_cast<uintptr_t>(info->si_addr));
  }
  Put(" in thread '");
  Put(thread);
  Put("'; stack (addr2line -f -C -e <binary> <offset>):\n");
  void* frames[64];
  int n = ::backtrace(frames, 64);
  ::backtrace_symbols_fd(frames, n, STDERR_FILENO);
  ::raise(sig);  // the default action now: die of it, with a core where one is kept
}

}  // namespace

void InstallCrashReport(bool even_under_sanitizer) {
  if (TUG_UNDER_SANITIZER && !even_under_sanitizer) return;
  static std::atomic<bool> installed{false};
  if (installed.exchange(true)) return;
  // backtrace() loads libgcc's unwinder on first use (malloc, dlopen): not in a handler.
  void* warm[2];
  (void)::backtrace(warm, 2);
  // Its own stack, so a fault from a stack overflow can still be reported (the main thread's;
  // other threads fall back to their own stacks, which is fine for anything but an overflow).
  static char alt[64 * 1024];
  stack_t ss{};
  ss.ss_sp = alt;
  ss.ss_size = sizeof alt;
  (void)::sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_sigaction = OnFatalSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
  for (int sig : kSignals) (void)::sigaction(sig, &sa, nullptr);
}

}  // namespace tug
