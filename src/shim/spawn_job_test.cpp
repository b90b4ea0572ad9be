// SpawnJob against real processes and, where this host lets us make groups, real cgroups: the
// job is born in its v2 group (clone3 CLONE_INTO_CGROUP) or moves itself into its v1 groups.
#include "shim/spawn_job.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "engine/local/proc.h"

namespace tug::engine::local {
namespace {

std::string ReadOrEmpty(const std::string& path) {
  auto text = ReadFile(path);
  return text.ok() ? *text : std::string();
}

class SpawnJobTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    for (const std::string& dir : groups_) ::rmdir(dir.c_str());
  }

  JobCommand Command(std::vector<std::string> argv) {
    devnull_.Reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
    JobCommand c;
    c.exe = argv[0];
    c.argv = std::move(argv);
    c.env = {"PATH=/usr/bin:/bin"};
    c.working_dir = "/";
    c.stdin_fd = c.stdout_fd = c.stderr_fd = devnull_.get();
    return c;
  }

  // A fresh group under our own group in the hierarchy of `controller` ("" for unified), or ""
  // when this host does not let us make one.
  std::string MakeGroup(const std::string& controller) {
    auto mounts = ParseMountInfo(ReadOrEmpty("/proc/self/mountinfo"));
    auto self = ParseProcCgroup(ReadOrEmpty("/proc/self/cgroup"));
    if (!self.ok()) return "";
    std::optional<CgroupMount> mount;
    std::string path;
    if (controller.empty()) {
      if (!mounts.unified || !self->unified) return "";
      mount = mounts.unified;
      path = *self->unified;
    } else {
      auto m = mounts.v1.find(controller);
      auto p = self->v1.find(controller);
      if (m == mounts.v1.end() || p == self->v1.end()) return "";
      mount = m->second;
      path = p->second;
    }
    std::string base = CgroupDir(*mount, path);
    if (base.empty()) return "";
    std::string dir = base + "/tug-spawn-test-" + std::to_string(::getpid());
    if (::mkdir(dir.c_str(), 0755) != 0) return "";
    groups_.push_back(dir);
    return dir;
  }

  // The cgroup path of `pid` in the hierarchy whose /proc/<pid>/cgroup line starts `prefix`.
  static std::string CgroupLine(pid_t pid, const std::string& prefix) {
    std::string text = ReadOrEmpty("/proc/" + std::to_string(pid) + "/cgroup");
    size_t at = text.find(prefix);
    if (at == std::string::npos) return "";
    size_t nl = text.find('\n', at);
    return text.substr(at + prefix.size(), nl - at - prefix.size());
  }

  pid_t pid_ = 0;
  UniqueFd devnull_;
  std::vector<std::string> groups_;
};

TEST_F(SpawnJobTest, RunsTheCommandInItsOwnProcessGroup) {
  JobStart s = SpawnJob(Command({"/bin/sleep", "30"}));
  ASSERT_GT(s.pid, 0) << s.failure.detail;
  pid_ = s.pid;
  EXPECT_EQ(::getpgid(s.pid), s.pid);
}

TEST_F(SpawnJobTest, ReportsWhatFailedBeforeExec) {
  JobStart missing = SpawnJob(Command({"/nonexistent/tool"}));
  EXPECT_EQ(missing.pid, 0);
  EXPECT_EQ(missing.failure.step, JobStartFailure::kExec);
  EXPECT_EQ(missing.failure.err, ENOENT);
  EXPECT_EQ(missing.failure.detail, "/nonexistent/tool");

  JobCommand c = Command({"/bin/true"});
  c.working_dir = "/nonexistent/dir";
  JobStart chdir_failed = SpawnJob(c);
  EXPECT_EQ(chdir_failed.pid, 0);
  EXPECT_EQ(chdir_failed.failure.step, JobStartFailure::kChdir);
  EXPECT_EQ(chdir_failed.failure.detail, "/nonexistent/dir");

  JobCommand g = Command({"/bin/true"});
  g.cgroups.version = CgroupVersion::kV1;
  g.cgroups.memory = "/nonexistent/cgroup";
  JobStart cgroup_failed = SpawnJob(g);
  EXPECT_EQ(cgroup_failed.pid, 0);
  EXPECT_EQ(cgroup_failed.failure.step, JobStartFailure::kCgroup);
  EXPECT_EQ(cgroup_failed.failure.detail, "/nonexistent/cgroup/tasks");
}

TEST_F(SpawnJobTest, IsBornInItsUnifiedGroup) {
  std::string dir = MakeGroup("");
  if (dir.empty()) GTEST_SKIP() << "no writable unified cgroup hierarchy here";
  JobCommand c = Command({"/bin/sleep", "30"});
  c.cgroups.version = CgroupVersion::kV2;
  c.cgroups.unified = dir;
  JobStart s = SpawnJob(c);
  ASSERT_GT(s.pid, 0) << s.failure.detail << ": " << s.failure.err;
  pid_ = s.pid;
  EXPECT_TRUE(s.cloned_into_cgroup) << "clone3(CLONE_INTO_CGROUP) was not used";
  std::string name = dir.substr(dir.rfind('/'));
  std::string line = CgroupLine(s.pid, "0::");
  EXPECT_EQ(line.substr(line.size() - std::min(line.size(), name.size())), name) << line;
}

TEST_F(SpawnJobTest, MovesItselfIntoItsV1Groups) {
  std::string dir = MakeGroup("memory");
  if (dir.empty()) GTEST_SKIP() << "no writable v1 memory hierarchy here";
  JobCommand c = Command({"/bin/sleep", "30"});
  c.cgroups.version = CgroupVersion::kV1;
  c.cgroups.memory = dir;
  JobStart s = SpawnJob(c);
  ASSERT_GT(s.pid, 0) << s.failure.detail << ": " << s.failure.err;
  pid_ = s.pid;
  EXPECT_FALSE(s.cloned_into_cgroup);
  std::string name = dir.substr(dir.rfind('/'));
  std::string line = CgroupLine(s.pid, ":memory:");
  EXPECT_EQ(line.substr(line.size() - std::min(line.size(), name.size())), name) << line;
}

}  // namespace
}  // namespace tug::engine::local
