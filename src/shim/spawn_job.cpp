#include "shim/spawn_job.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "engine/local/proc.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

namespace tug::engine::local {

namespace {

// What the child writes on the close-on-exec pipe when a step before exec fails.
struct ChildReport {
  int step;
  int err;
  int index;  // into the cgroup files, for kCgroup
};

[[noreturn]] void ChildFail(int fd, int step, int index) {
  ChildReport r{step, errno, index};
  ssize_t ignored = ::write(fd, &r, sizeof r);
  (void)ignored;
  ::_exit(127);
}

// fork(), or clone3 into the cgroup `cgroup_fd` (>= 0). Returns the pid (0 in the child), or -1
// with errno. `*cloned` tells whether the child was born in the cgroup.
pid_t ForkInto(int cgroup_fd, bool* cloned) {
  *cloned = false;
  if (cgroup_fd >= 0) {
    clone_args args{};
    args.flags = CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid >= 0) {
      *cloned = true;
      return static_cast<pid_t>(pid);
    }
    // ENOSYS (no clone3), E2BIG/EINVAL (no CLONE_INTO_CGROUP): join the old way below.
    if (errno != ENOSYS && errno != E2BIG && errno != EINVAL) return -1;
  }
  return ::fork();
}

}  // namespace

JobStart SpawnJob(const JobCommand& command) {
  JobStart result;
  auto setup_failure = [&](int err) {
    result.failure = JobStartFailure{JobStartFailure::kSetup, err, "creating the job's process"};
    return result;
  };
  // Everything the child needs is built here: between fork and exec only async-signal-safe
  // calls are allowed.
  std::vector<std::string> env_strings = command.env;
  std::vector<char*> envp;
  envp.reserve(env_strings.size() + 1);
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = command.argv;
  std::vector<char*> argv;
  argv.reserve(argv_strings.size() + 1);
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  // The files the child writes "0" to, unless it is cloned into its v2 group.
  const AttemptCgroups& g = command.cgroups;
  std::vector<std::string> join_files;
  UniqueFd unified_fd;
  if (!g.unified.empty()) {
    unified_fd.Reset(::open(g.unified.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    join_files.push_back(g.unified + "/cgroup.procs");  // only if clone3 cannot
  }
  for (const std::string* d : {&g.memory, &g.cpu, &g.cpuacct}) {
    if (d->empty()) continue;
    std::string file = *d + "/tasks";
    bool seen = false;
    for (const std::string& f : join_files) seen = seen || f == file;
    if (!seen) join_files.push_back(file);
  }

  int fail[2];
  if (::pipe2(fail, O_CLOEXEC) != 0) return setup_failure(errno);
  UniqueFd fail_r(fail[0]);
  UniqueFd fail_w(fail[1]);
  bool cloned = false;
  pid_t pid = ForkInto(unified_fd.valid() ? unified_fd.get() : -1, &cloned);
  if (pid < 0) return setup_failure(errno);
  if (pid == 0) {
    const int fw = fail_w.get();
    ::setpgid(0, 0);
    // A single-threaded process moving itself ("0"): see the header for why this is fast.
    for (size_t i = cloned && !g.unified.empty() ? 1 : 0; i < join_files.size(); ++i) {
      int fd = ::open(join_files[i].c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || ::write(fd, "0", 1) != 1) {
        ChildFail(fw, JobStartFailure::kCgroup, static_cast<int>(i));
      }
      ::close(fd);
    }
    if (::dup2(command.stdin_fd, 0) < 0 || ::dup2(command.stdout_fd, 1) < 0 ||
        ::dup2(command.stderr_fd, 2) < 0) {
      ChildFail(fw, JobStartFailure::kSetup, 0);
    }
    if (::chdir(command.working_dir.c_str()) != 0) ChildFail(fw, JobStartFailure::kChdir, 0);
    // Dispositions set to "ignore" and the blocked mask survive execve: give the job defaults.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(command.exe.c_str(), argv.data(), envp.data());
    ChildFail(fw, JobStartFailure::kExec, 0);
  }
  // Also set here: whichever of parent and child runs first, the group exists before we signal.
  ::setpgid(pid, pid);
  fail_w.Reset();
  ChildReport report{};
  ssize_t n;
  do {
    n = ::read(fail_r.get(), &report, sizeof report);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    result.pid = pid;
    result.cloned_into_cgroup = cloned;
    return result;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.failure.step = report.step;
  result.failure.err = report.err;
  switch (report.step) {
    case JobStartFailure::kCgroup:
      result.failure.detail =
          report.index >= 0 && static_cast<size_t>(report.index) < join_files.size()
              ? join_files[static_cast<size_t>(report.index)]
              : "a cgroup";
      break;
    case JobStartFailure::kChdir:
      result.failure.detail = command.working_dir;
      break;
    case JobStartFailure::kExec:
      result.failure.detail = command.exe;
      break;
    default:
      result.failure.detail = "the job's stdio";
  }
  return result;
}

}  // namespace tug::engine::local
