#pragma once
/// Starting a shim from the server: posix_spawn of `command + [attempt dir]` in a new session
/// (so a SIGKILL of the server, or of its process group, does not reach it), stdin /dev/null,
/// stdout/stderr appended to the state directory's shim.log (shared by every shim), a handshake
/// pipe on fd 3 named by $TUG_SHIM_HANDSHAKE_FD and the attempt's locked directory on fd 4 named by
/// $TUG_SHIM_LOCK_FD. Thread-safe (no shared state): launches of different attempts run in
/// parallel.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "engine/local/proc.h"

namespace tug::engine::local {

struct SpawnedShim {
  int pid = 0;
  int job_pid = 0;
};

/// Waits up to `timeout_ms` for "ok <job pid>". Errors: the shim's own "error <code> <message>"
/// as kInvalidArgument or kInternal; kUnavailable if it did not answer in time (it is killed);
/// kInternal if it died without answering. On every error the shim has been reaped.
/// `lock_fd`: the attempt directory's fd whose flock the caller holds; the shim inherits it (and
/// so the lock, for its whole life); -1: none.
[[nodiscard]] Result<SpawnedShim> SpawnShim(const std::vector<std::string>& command,
                                            const std::string& dir, int lock_fd,
                                            int64_t timeout_ms);

/// The engine's end of a shim launcher (shim/launcher.h): a long-lived `<command> --launcher`
/// process, started in its own session like a shim, that forks a shim per Spawn instead of the
/// server exec'ing one. Thread-safe: launches run in parallel (each request is one datagram on
/// a SOCK_SEQPACKET socket, each answer comes on the request's own handshake pipe).
class ShimLauncher {
 public:
  [[nodiscard]] static Result<std::unique_ptr<ShimLauncher>> Start(
      const std::vector<std::string>& command, const std::string& state_dir);
  /// Closes the socket (the launcher exits; running shims go on) and reaps the launcher.
  ~ShimLauncher();
  ShimLauncher(const ShimLauncher&) = delete;
  ShimLauncher& operator=(const ShimLauncher&) = delete;

  /// As SpawnShim, through the launcher. kAborted: the launcher is gone and no shim was
  /// started (the caller may spawn one itself); alive() is false from then on.
  [[nodiscard]] Result<SpawnedShim> Spawn(const std::string& dir, int lock_fd, int64_t timeout_ms);
  bool alive() const { return alive_.load(); }

 private:
  ShimLauncher(int pid, UniqueFd socket) : pid_(pid), socket_(std::move(socket)) {}
  const int pid_;
  UniqueFd socket_;
  std::atomic<bool> alive_{true};
};

}  // namespace tug::engine::local
