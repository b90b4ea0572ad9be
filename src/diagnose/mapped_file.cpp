#include "diagnose/mapped_file.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <mutex>

namespace tug::diagnose {
namespace {

// The mapped window of this thread, read by the SIGBUS handler. Trivially initialised, so a
// handler running on this thread can touch it without any lazy TLS set-up.
struct Window {
  uintptr_t begin;
  uintptr_t end;
  uintptr_t page;
  volatile sig_atomic_t faulted;
};
thread_local Window t_window{0, 0, 0, 0};

struct sigaction g_previous;
std::once_flag g_install_once;

// A fault inside this thread's window is a truncation (a page past the file's new end): zero
// memory goes over the rest of the window and the access retries on it. Any other SIGBUS is
// somebody else's: the action from before this handler is put back, with its own flags (the
// crash report's resets itself to the default to die of a second fault), and the fault
// happens again when this returns (a fault re-executes its instruction; a signal sent with
// kill is sent again). The handler is then gone for good, which only matters to a process
// that survives a SIGBUS. Only async-signal-safe calls.
void OnSigbus(int sig, siginfo_t* info, void* /*context*/) {
  Window& w = t_window;
  auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  if (info->si_code > 0 && w.end != 0 && addr >= w.begin && addr < w.end) {
    uintptr_t at = addr & ~(w.page - 1);
    void* zero = mmap(reinterpret_cast<void*>(at), w.end - at, PROT_READ,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (zero != MAP_FAILED) {
      w.faulted = 1;
      return;
    }
  }
  sigaction(sig, &g_previous, nullptr);
  if (info->si_code <= 0) raise(sig);  // blocked in here: delivered on return
}

void InstallHandler() {
  std::call_once(g_install_once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = OnSigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &g_previous);
  });
}

// Clears the thread's window and unmaps it, on every way out of a window (consume may throw).
class WindowMap {
 public:
  WindowMap(void* p, size_t len, size_t page) : p_(p), len_(len) {
    t_window.faulted = 0;
    t_window.page = page;
    t_window.begin = reinterpret_cast<uintptr_t>(p);
    t_window.end = t_window.begin + len;
  }
  ~WindowMap() {
    t_window.end = 0;
    t_window.begin = 0;
    munmap(p_, len_);
  }
  WindowMap(const WindowMap&) = delete;
  WindowMap& operator=(const WindowMap&) = delete;
  const char* data() const { return static_cast<const char*>(p_); }

 private:
  void* p_;
  size_t len_;
};

}  // namespace

Result<MappedRead> MapFile(int fd, size_t slice_bytes,
                           const std::function<void(std::string_view)>& consume) {
  InstallHandler();
  slice_bytes = std::max<size_t>(slice_bytes, 1);
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  MappedRead out;
  auto size_now = [&]() -> Result<size_t> {
    struct stat st {};
    if (fstat(fd, &st) != 0) return ErrnoError("fstat of a log file failed", errno);
    return static_cast<size_t>(st.st_size);
  };
  for (;;) {
    ASSIGN_OR_RETURN(size_t size, size_now());
    if (size < out.bytes) out.truncated = true;
    if (size <= out.bytes) return out;
    // A window starts at the page boundary at or before the next byte: after a window that
    // ended at the file's end, the file may have grown from an offset inside a page.
    const size_t base = out.bytes & ~(page - 1);
    const size_t len = std::min(kMapWindow, size - base);
    void* p =
        mmap(nullptr, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, static_cast<off_t>(base));
    if (p == MAP_FAILED) {
      out.complete = false;
      return out;
    }
    WindowMap window(p, len, page);
    for (size_t pos = out.bytes - base, slice = 0; pos < len; ++slice) {
      if (slice > 0) {  // the size taken for the map is fresh for its first slice
        ASSIGN_OR_RETURN(size, size_now());
      }
      size_t n = std::min(slice_bytes, len - pos);
      if (size < out.bytes + n) {
        // Shrunk below what was mapped: what is left of the file is the last slice.
        out.truncated = true;
        if (size > out.bytes) {
          consume(std::string_view(window.data() + pos, size - out.bytes));
          out.bytes = size;
        }
        return out;
      }
      consume(std::string_view(window.data() + pos, n));
      pos += n;
      out.bytes += n;
      if (t_window.faulted != 0) {
        out.truncated = true;
        return out;
      }
    }
  }
}

}  // namespace tug::diagnose
