#pragma once
/// Starting the job from the shim: a child process in the attempt's cgroups, in its own process
/// group, with its stdio, working directory and default signal state, exec'ing the command.
///
/// Joining the cgroups is the expensive part of a launch when done the classic way (writing the
/// pid to cgroup.procs takes a global lock that waits for every fork on the machine and an RCU
/// grace period: ~10 ms at the p99 under load). So:
///   cgroup v2  clone3(CLONE_INTO_CGROUP): the child is born in the attempt's group, no move;
///              kernels without it (< 5.7): fork, then the child writes "0" to cgroup.procs
///   cgroup v1  fork, then the child (single-threaded) writes "0" to each hierarchy's `tasks`:
///              moving only the calling thread skips the global lock (kernel 6.1+; older
///              kernels take it either way)
///
/// Only async-signal-safe calls run in the child. Single-threaded callers only (the shim).
#include <sys/types.h>

#include <string>
#include <vector>

#include "engine/local/cgroup.h"

namespace tug::engine::local {

struct JobCommand {
  std::string exe;                // resolved path to execve
  std::vector<std::string> argv;  // argv[0] as given
  std::vector<std::string> env;   // "KEY=value"
  std::string working_dir;
  AttemptCgroups cgroups;
  int stdin_fd = -1;  // become the job's 0, 1, 2
  int stdout_fd = -1;
  int stderr_fd = -1;
};

/// Why the child could not exec, as it reported before exiting 127.
struct JobStartFailure {
  enum Step { kCgroup = 1, kChdir = 2, kExec = 3, kSetup = 4 };
  int step = 0;
  int err = 0;         // errno
  std::string detail;  // the cgroup file, working dir or executable concerned
};

struct JobStart {
  pid_t pid = 0;                    // > 0: the job runs (exec succeeded)
  JobStartFailure failure;          // when pid == 0 (the child has been reaped)
  bool cloned_into_cgroup = false;  // v2 fast path used
};

/// Forks and execs the job; returns once the exec succeeded or failed (a close-on-exec pipe
/// tells). Errors of the shim itself (pipe, fork) come back as failure kSetup with errno.
JobStart SpawnJob(const JobCommand& command);

}  // namespace tug::engine::local
