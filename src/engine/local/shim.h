#pragma once
/// The shim: a small supervisor process per attempt (like containerd-shim or a Mesos executor),
/// started by LocalEngine::Launch as `<shim_command...> <attempt dir>` in its own session, so it
/// and the job outlive the server (even a SIGKILL of it) and a later server can adopt them.
///
/// It reads <dir>/spec.json, writes <dir>/shim.pid, forks the job (joining the attempt's
/// cgroups, in its own process group, stdin /dev/null), reports "ok <job pid>\n" or
/// "error <code> <message>\n" (code: invalid_argument or internal) on the handshake fd named by
/// $TUG_SHIM_HANDSHAKE_FD, copies stdout/stderr into the log as timestamped lines, enforces the
/// deadline, the memory watchdog (without cgroups) and stop requests (SIGTERM to the shim), and
/// finally writes <dir>/status.json atomically and exits. See state_files.h for the files.
///
/// Single-threaded; signals are taken through a signalfd.

namespace tug::engine::local {

inline constexpr const char* kHandshakeFdEnv = "TUG_SHIM_HANDSHAKE_FD";

/// Runs the shim; argv[argc - 1] is the attempt directory (so both `tug __shim DIR` and a test
/// binary's `test __shim DIR` can pass their argv through). Returns the process exit code:
/// 0 once status.json is written, 1 if even that failed, 2 on a usage error.
int RunShim(int argc, char** argv);

}  // namespace tug::engine::local
