#include "engine/local/outcome.h"

#include <string.h>
#include <sys/wait.h>

#include <fmt/format.h>

#include "core/quantity.h"

namespace tug::engine::local {

namespace {

std::string SignalName(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev != nullptr ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}

}  // namespace

Outcome DecideOutcome(const JobEnd& end) {
  Outcome out;
  std::string ended = "ended without an exit status";
  bool exited = false;
  if (end.wait_status) {
    int status = *end.wait_status;
    if (WIFEXITED(status)) {
      exited = true;
      out.exit_code = WEXITSTATUS(status);
      ended = fmt::format("exited with code {}", *out.exit_code);
    } else if (WIFSIGNALED(status)) {
      int sig = WTERMSIG(status);
      out.exit_code = 128 + sig;
      ended = fmt::format("killed by signal {} ({})", sig, SignalName(sig));
    }
  }
  std::string limit = FormatMemory(end.memory_limit_bytes);
  if (end.oom_kills > 0) {
    out.exit_code = 137;
    out.reason = std::string(reason::kOomKilled);
    out.message =
        end.memory_limit_bytes > 0
            ? fmt::format("killed by the kernel: memory limit {} reached (oom_kill {})", limit,
                          end.oom_kills)
            : fmt::format("killed by the kernel: out of memory (oom_kill {})", end.oom_kills);
  } else if (end.watchdog_killed) {
    out.exit_code = 137;
    out.reason = std::string(reason::kOomKilled);
    out.message = fmt::format(
        "killed by the watchdog: memory limit {} reached (resident {}); no writable cgroup, "
        "so memory is sampled every {} ms",
        limit, FormatMemory(end.watchdog_resident_bytes), end.watchdog_interval_ms);
  } else if (!end.stop_reason.empty()) {
    out.reason = end.stop_reason;
    out.message = end.escalated
                      ? fmt::format("{}; killed with SIGKILL after the {} ms grace period",
                                    end.stop_why, end.stop_grace_ms)
                      : fmt::format("{}; {}", end.stop_why, ended);
  } else if (exited) {
    out.reason = std::string(*out.exit_code == 0 ? reason::kCompleted : reason::kError);
    out.message = ended;
  } else {
    out.reason = std::string(reason::kSignaled);
    out.message = ended;
  }
  return out;
}

}  // namespace tug::engine::local
