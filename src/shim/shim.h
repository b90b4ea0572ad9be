#pragma once
/// The shim: a small supervisor process per attempt (like containerd-shim or a Mesos executor),
/// started by LocalEngine::Launch as `<shim_command...> <attempt dir>` in its own session, so it
/// and the job outlive the server (even a SIGKILL of it) and a later server can adopt them.
/// Production runs it as its own small static executable, `tug-shim` (main.cpp), so a launch
/// does not pay for loading the server's libraries.
///
/// It holds the attempt's launch lock (an flock on the attempt directory, inherited on the fd
/// named by $TUG_SHIM_LOCK_FD) for as long as it lives, reads <dir>/spec.json, writes
/// <dir>/shim.pid durably, forks the job (joining the attempt's cgroups, in its own process
/// group, stdin /dev/null), reports "ok <job pid>\n" or "error <code> <message>\n" (code:
/// invalid_argument or internal) on the handshake fd named by $TUG_SHIM_HANDSHAKE_FD, copies
/// stdout/stderr into the log as timestamped lines, enforces the deadline, the memory watchdog
/// (without cgroups) and stop requests (SIGTERM to the shim), and finally writes
/// <dir>/status.json atomically and exits. See engine/local/state_files.h for the files.
///
/// Single-threaded; signals are taken through a signalfd.

namespace tug::engine::local {

/// Runs the shim; argv[argc - 1] is the attempt directory (so both `tug __shim DIR` and a test
/// binary's `test __shim DIR` can pass their argv through). Returns the process exit code:
/// 0 once status.json is written, 1 if even that failed, 2 on a usage error.
/// With argv[argc - 1] == "--launcher" it runs the launcher instead (launcher.h).
int RunShim(int argc, char** argv);

/// The fd number in environment variable `name`, which is removed (so the job never sees it);
/// -1 if unset or not above stderr.
int TakeFdFromEnv(const char* name);

}  // namespace tug::engine::local
