#pragma once
// The fixture and helpers of the LocalEngine tests (local_engine_test.cpp, local_launch_test.cpp):
// real processes, real cgroups, the real tug-shim.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/ids.h"
#include "engine/local/local_engine.h"
#include "engine/update_recorder.h"
#include "logs/fs_log_store.h"

namespace tug::engine::local::local_test {

using std::chrono::milliseconds;
using testing_util::Recorder;
inline constexpr milliseconds kWait = std::chrono::seconds(30);
inline constexpr int64_t kMi = int64_t{1024} * 1024;

inline int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The shim tests launch with: the real `tug-shim` (its path in $TUG_SHIM_BINARY, set by ctest),
// else this test binary's own sanitized `__shim` mode.
inline std::vector<std::string> TestShimCommand() {
  const char* shim = std::getenv("TUG_SHIM_BINARY");
  if (shim != nullptr && *shim != '\0') return {shim};
  return {"/proc/self/exe", "__shim"};
}

// Waits until <dir>/<name> exists, woken by inotify rather than by polling on a timer.
inline bool WaitForPath(const std::string& dir, const std::string& name, milliseconds timeout) {
  std::string path = dir + "/" + name;
  UniqueFd fd(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!fd.valid() || ::inotify_add_watch(fd.get(), dir.c_str(), IN_CREATE | IN_MOVED_TO) < 0) {
    return false;
  }
  int64_t until = NowMs() + timeout.count();
  while (!FileExists(path)) {
    int64_t left = until - NowMs();
    if (left <= 0) return false;
    pollfd p{fd.get(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left));
    char buf[4096];
    while (::read(fd.get(), buf, sizeof buf) > 0) {
    }
  }
  return true;
}

// Shell text that waits (bounded, about a minute) for `path` to exist.
inline std::string WaitLoop(const std::string& path) {
  return "i=0; while [ ! -e '" + path + "' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done";
}

inline void Touch(const std::string& path) { std::ofstream(path, std::ios::app).flush(); }

inline constexpr const char* kAllocate256Mi = "$x = \"x\" x (256*1024*1024); print length($x)";

// ---- LocalEngine-specific ----------------------------------------------------------------

class LocalEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tug-local-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    logs_ = std::make_unique<logs::FsLogStore>(root_ + "/logs");
  }

  void TearDown() override {
    for (const std::string& go : go_files_) Touch(go);
    for (size_t i = 0; i < engines_.size(); ++i) {
      for (const std::string& id : engines_[i]->Active()) {
        (void)engines_[i]->Stop(id);
        recorders_[i]->WaitFor(id, Update::Kind::kEnded);
      }
    }
    // Every test leaves the cgroups it made behind it removed, not just its state directory.
    if (!engines_.empty()) {
      for (const std::string& id : attempts_) {
        Status st = engines_.back()->Cleanup(id);
        EXPECT_TRUE(st.ok()) << st.error().ToString();
      }
    }
    engines_.clear();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  // The options of an engine over root_/state with the test shim.
  LocalEngineOptions Options(const std::string& mode = "auto", int64_t grace_ms = 2000) const {
    LocalEngineOptions o;
    o.state_dir = root_ + "/state";
    o.shim_command = TestShimCommand();
    o.cgroup_mode = mode;
    o.stop_grace_ms = grace_ms;
    return o;
  }

  // A new engine over root_/state; index into engines_ and recorders_.
  size_t Make(const std::string& mode = "auto", int64_t grace_ms = 2000) {
    LocalEngineOptions o = Options(mode, grace_ms);
    auto made = LocalEngine::Create(o, *logs_, SystemClock::Instance());
    EXPECT_TRUE(made.ok()) << made.error().ToString();
    recorders_.push_back(std::make_unique<Recorder>());
    (*made)->SetSink(recorders_.back()->Sink());
    engines_.push_back(std::move(*made));
    return engines_.size() - 1;
  }
  LocalEngine& engine(size_t i) { return *engines_[i]; }
  Recorder& rec(size_t i) { return *recorders_[i]; }

  LaunchSpec Spec(std::vector<std::string> argv) {
    LaunchSpec spec;
    spec.run_id = NewId(SystemClock::Instance());
    spec.attempt_id = AttemptId(spec.run_id, 1);
    attempts_.push_back(spec.attempt_id);
    spec.definition = "test";
    spec.argv = std::move(argv);
    return spec;
  }
  LaunchSpec Shell(const std::string& cmd) { return Spec({"/bin/sh", "-c", cmd}); }
  std::string Go(const std::string& name) {
    go_files_.push_back(root_ + "/" + name);
    return go_files_.back();
  }

  std::optional<Update> RunToEnd(size_t e, const LaunchSpec& spec) {
    auto ref = engine(e).Launch(spec);
    EXPECT_TRUE(ref.ok()) << ref.error().ToString();
    if (!ref.ok()) return std::nullopt;
    auto ended = rec(e).WaitFor(spec.attempt_id, Update::Kind::kEnded, kWait);
    EXPECT_TRUE(ended.has_value()) << "no end within 30 s for " << spec.attempt_id;
    return ended;
  }
  std::string Log(const LaunchSpec& spec) {
    auto chunk = logs_->Read(spec.run_id, spec.attempt_id, "main", 0, 4 << 20);
    return chunk.ok() ? chunk->data : "";
  }
  AttemptCgroups GroupsOf(size_t e, const std::string& attempt_id) {
    auto text = ReadFile(engine(e).AttemptDir(attempt_id) + "/" + kSpecFile);
    if (!text.ok()) return {};
    auto spec = ParseSpec(*text);
    return spec.ok() ? spec->cgroups : AttemptCgroups{};
  }

  std::string root_;
  std::unique_ptr<logs::FsLogStore> logs_;
  std::vector<std::unique_ptr<LocalEngine>> engines_;
  std::vector<std::unique_ptr<Recorder>> recorders_;
  std::vector<std::string> go_files_;
  std::vector<std::string> attempts_;
};

#define SKIP_WITHOUT_CGROUP(e)                                                     \
  if (engine(e).cgroup_layout().version == CgroupVersion::kNone) {                 \
    GTEST_SKIP() << "no writable cgroup here: " << engine(e).cgroup_layout().note; \
  }

}  // namespace tug::engine::local::local_test
