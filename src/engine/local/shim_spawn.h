#pragma once
/// Starting a shim from the server: posix_spawn of `command + [attempt dir]` in a new session
/// (so a SIGKILL of the server, or of its process group, does not reach it), stdin /dev/null,
/// stdout/stderr appended to the state directory's shim.log (shared by every shim), a handshake
/// pipe on fd 3 named by $TUG_SHIM_HANDSHAKE_FD and the attempt's locked directory on fd 4 named by
/// $TUG_SHIM_LOCK_FD. Thread-safe (no shared state): launches of different attempts run in
/// parallel.
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

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

}  // namespace tug::engine::local
