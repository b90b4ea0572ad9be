#pragma once
/// Behaviour every Engine must show, as a parameterised GoogleTest suite (header-only; include
/// it in exactly one test source of a binary and instantiate it):
///
///   INSTANTIATE_TEST_SUITE_P(Local, EngineConformanceTest, ::testing::Values(param...),
///                            tug::engine::conformance::ParamName);
///
/// Each parameter names an engine factory. A test may call the factory more than once with the
/// same Env (a "new server process" adopting the first one's attempts). Jobs are /bin/sh
/// commands that coordinate with the test through files in Env::root, so the engine must run
/// them where that directory is visible. Logs are read through an FsLogStore under Env::root, so
/// the test binary links tug_logs. Tests wait for the engine's updates (30 s at most) and
/// never sleep for a fixed time.
///
/// Engines that run something else than a command (emr-on-eks runs Spark applications) turn
/// the suite's spec into theirs with `adapt_spec` and name the log component the job's output
/// lands in. A backend that accepts attempts but never runs them (moto's emr-containers keeps a
/// job run RUNNING until it is cancelled) sets `never_runs_jobs` to say so: the tests that need
/// the job's own behaviour (its output, exit code, its end) are skipped with that reason, the
/// rest (idempotent launch, stop, timeout, adoption, unknown attempts) still run.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "engine/engine.h"
#include "engine/update_recorder.h"
#include "logs/fs_log_store.h"

namespace tug::engine::conformance {

/// Given to the factory: stable for one test, fresh for the next.
struct Env {
  std::string root;  // a temporary directory owned by the test
  logs::LogStore* logs = nullptr;
  const Clock* clock = nullptr;
};

struct Param {
  std::string name;
  /// A new engine instance over the same state as earlier instances made with this Env.
  std::function<Result<std::unique_ptr<Engine>>(const Env&)> make;
  /// Blocks until the attempt has ended while no engine watches it; false on timeout.
  std::function<bool(const Env&, const std::string& attempt_id, std::chrono::milliseconds)>
      wait_ended_unwatched;
  /// Turns the suite's spec (argv /bin/sh -c SHELL, kind container) into what the engine runs.
  std::function<void(LaunchSpec&)> adapt_spec;
  /// The log component the job's stdout/stderr land in.
  std::string log_component = "main";
  /// Non-empty: the backend never runs the job (why, for the skip message).
  std::string never_runs_jobs;
};

inline std::string ParamName(const ::testing::TestParamInfo<Param>& info) {
  return info.param.name;
}

using testing_util::Recorder;

class EngineConformanceTest : public ::testing::TestWithParam<Param> {
 protected:
  static constexpr std::chrono::seconds kWait{30};

  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tug-conformance-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    env_.root = tmpl;
    logs_ = std::make_unique<logs::FsLogStore>(env_.root + "/logs");
    env_.logs = logs_.get();
    env_.clock = &SystemClock::Instance();
  }

  void TearDown() override {
    // Release every job still waiting for its go file, then stop what any engine still runs.
    for (const std::string& go : go_files_) Touch(go);
    Engine* live = nullptr;
    for (size_t i = 0; i < engines_.size(); ++i) {
      if (!engines_[i]) continue;
      live = engines_[i].get();
      for (const std::string& id : engines_[i]->Active()) {
        (void)engines_[i]->Stop(id);
        recorders_[i]->WaitFor(id, Update::Kind::kEnded);
      }
    }
    // Free what the attempts left (cgroups, state) through any instance; logs go with root.
    if (live == nullptr && !attempts_.empty()) {
      size_t i = NewEngine();
      if (i != SIZE_MAX) live = engines_[i].get();
    }
    for (const std::string& id : attempts_) {
      if (live != nullptr) (void)live->Cleanup(id);
    }
    engines_.clear();
    std::error_code ec;
    std::filesystem::remove_all(env_.root, ec);
  }

  /// A new engine instance with its own recorder; index into engines_/recorders_.
  size_t NewEngine() {
    auto made = GetParam().make(env_);
    EXPECT_TRUE(made.ok()) << (made.ok() ? "" : made.error().ToString());
    if (!made.ok()) return SIZE_MAX;
    recorders_.push_back(std::make_unique<Recorder>());
    (*made)->SetSink(recorders_.back()->Sink());
    engines_.push_back(std::move(*made));
    return engines_.size() - 1;
  }
  Engine& engine(size_t i) { return *engines_[i]; }
  Recorder& recorder(size_t i) { return *recorders_[i]; }
  void DropEngine(size_t i) { engines_[i].reset(); }

  LaunchSpec Spec(const std::string& shell) {
    LaunchSpec spec;
    spec.run_id = NewId(SystemClock::Instance());
    spec.attempt_id = AttemptId(spec.run_id, 1);
    attempts_.push_back(spec.attempt_id);
    spec.definition = "conformance";
    spec.argv = {"/bin/sh", "-c", shell};
    if (GetParam().adapt_spec) GetParam().adapt_spec(spec);
    return spec;
  }
  /// True when the backend never runs jobs (the caller skips what needs them).
  bool SkipWithoutJobs() const { return !GetParam().never_runs_jobs.empty(); }
  std::string Path(const std::string& name) const { return env_.root + "/" + name; }
  /// Shell text that waits (bounded, about a minute) until the test creates `name`.
  std::string WaitForFile(const std::string& name) {
    go_files_.push_back(Path(name));
    return "i=0; while [ ! -e '" + Path(name) +
           "' ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done";
  }
  static void Touch(const std::string& path) { std::ofstream(path, std::ios::app).flush(); }
  std::string Log(const LaunchSpec& spec) {
    auto chunk =
        env_.logs->Read(spec.run_id, spec.attempt_id, GetParam().log_component, 0, 1 << 20);
    return chunk.ok() ? chunk->data : "";
  }

  Env env_;
  std::unique_ptr<logs::FsLogStore> logs_;
  std::vector<std::unique_ptr<Engine>> engines_;
  std::vector<std::unique_ptr<Recorder>> recorders_;
  std::vector<std::string> go_files_;
  std::vector<std::string> attempts_;
};

TEST_P(EngineConformanceTest, HelloSucceedsAndLogsItsOutput) {
  if (SkipWithoutJobs()) GTEST_SKIP() << GetParam().never_runs_jobs;
  size_t e = NewEngine();
  ASSERT_NE(e, SIZE_MAX);
  LaunchSpec spec = Spec("echo hello from job; echo complaint >&2");
  auto ref = engine(e).Launch(spec);
  ASSERT_TRUE(ref.ok()) << ref.error().ToString();
  EXPECT_FALSE(ref->empty());
  auto ended = recorder(e).WaitFor(spec.attempt_id, Update::Kind::kEnded);
  ASSERT_TRUE(ended.has_value());
  int started_at = recorder(e).IndexOf(spec.attempt_id, Update::Kind::kStarted);
  ASSERT_GE(started_at, 0);
  EXPECT_LT(started_at, recorder(e).IndexOf(spec.attempt_id, Update::Kind::kEnded));
  EXPECT_EQ(ended->status, AttemptStatus::kSucceeded);
  EXPECT_EQ(ended->outcome.reason, reason::kCompleted);
  EXPECT_EQ(ended->outcome.exit_code, 0);
  std::string log = Log(spec);
  EXPECT_NE(log.find(" stdout hello from job\n"), std::string::npos) << log;
  EXPECT_NE(log.find(" stderr complaint\n"), std::string::npos) << log;
}

TEST_P(EngineConformanceTest, NonZeroExitFails) {
  if (SkipWithoutJobs()) GTEST_SKIP() << GetParam().never_runs_jobs;
  size_t e = NewEngine();
  ASSERT_NE(e, SIZE_MAX);
  LaunchSpec spec = Spec("exit 3");
  ASSERT_TRUE(engine(e).Launch(spec).ok());
  auto ended = recorder(e).WaitFor(spec.attempt_id, Update::Kind::kEnded);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kFailed);
  EXPECT_EQ(ended->outcome.reason, reason::kError);
  EXPECT_EQ(ended->outcome.exit_code, 3);
}

TEST_P(EngineConformanceTest, LaunchIsIdempotentByAttemptId) {
  size_t e = NewEngine();
  ASSERT_NE(e, SIZE_MAX);
  LaunchSpec spec = Spec("echo x >> '" + Path("count") + "'; " + WaitForFile("go"));
  auto first = engine(e).Launch(spec);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  auto second = engine(e).Launch(spec);
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_EQ(*first, *second);
  // Without jobs, what remains to check (one job, its end) cannot happen.
  if (SkipWithoutJobs()) GTEST_SKIP() << "launch twice: same ref; " << GetParam().never_runs_jobs;
  Touch(Path("go"));
  auto ended = recorder(e).WaitFor(spec.attempt_id, Update::Kind::kEnded);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kSucceeded);
  auto third = engine(e).Launch(spec);
  ASSERT_TRUE(third.ok()) << third.error().ToString();
  EXPECT_EQ(*first, *third);
  std::ifstream in(Path("count"));
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_EQ(lines, 1);
  EXPECT_EQ(recorder(e).Count(spec.attempt_id, Update::Kind::kEnded), 1);
}

TEST_P(EngineConformanceTest, StopEndsStopped) {
  size_t e = NewEngine();
  ASSERT_NE(e, SIZE_MAX);
  LaunchSpec spec = Spec(WaitForFile("never"));
  ASSERT_TRUE(engine(e).Launch(spec).ok());
  ASSERT_TRUE(recorder(e).WaitFor(spec.attempt_id, Update::Kind::kStarted).has_value());
  std::vector<std::string> active = engine(e).Active();
  EXPECT_NE(std::find(active.begin(), active.end(), spec.attempt_id), active.end());
  Status stopped = engine(e).Stop(spec.attempt_id);
  ASSERT_TRUE(stopped.ok()) << stopped.error().ToString();
  auto ended = recorder(e).WaitFor(spec.attempt_id, Update::Kind::kEnded);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kStopped);
  EXPECT_EQ(ended->outcome.reason, reason::kStopped);
}

TEST_P(EngineConformanceTest, StopOfUnknownAttemptIsNotFound) {
  size_t e = NewEngine();
  ASSERT_NE(e, SIZE_MAX);
  LaunchSpec spec = Spec("true");
  Status st = engine(e).Stop(spec.attempt_id);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kNotFound);
}

TEST_P(EngineConformanceTest, TimeoutEndsDeadlineExceeded) {
  size_t e = NewEngine();
  ASSERT_NE(e, SIZE_MAX);
  LaunchSpec spec = Spec(WaitForFile("never"));
  spec.timeout_seconds = 1;
  ASSERT_TRUE(engine(e).Launch(spec).ok());
  auto ended = recorder(e).WaitFor(spec.attempt_id, Update::Kind::kEnded);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kFailed);
  EXPECT_EQ(ended->outcome.reason, reason::kDeadlineExceeded);
}

TEST_P(EngineConformanceTest, NewInstanceAdoptsRunningAttempt) {
  size_t a = NewEngine();
  ASSERT_NE(a, SIZE_MAX);
  LaunchSpec spec = Spec(WaitForFile("go") + "; echo adopted and done");
  auto ref = engine(a).Launch(spec);
  ASSERT_TRUE(ref.ok()) << ref.error().ToString();
  ASSERT_TRUE(recorder(a).WaitFor(spec.attempt_id, Update::Kind::kStarted).has_value());
  DropEngine(a);  // the "server" goes away; the job must not

  size_t b = NewEngine();
  ASSERT_NE(b, SIZE_MAX);
  Status adopted = engine(b).Adopt(spec.attempt_id, *ref);
  ASSERT_TRUE(adopted.ok()) << adopted.error().ToString();
  ASSERT_TRUE(recorder(b).WaitFor(spec.attempt_id, Update::Kind::kStarted).has_value());
  EXPECT_EQ(recorder(b).Count(spec.attempt_id, Update::Kind::kEnded), 0);
  if (SkipWithoutJobs()) GTEST_SKIP() << "adopted and running; " << GetParam().never_runs_jobs;
  Touch(Path("go"));
  auto ended = recorder(b).WaitFor(spec.attempt_id, Update::Kind::kEnded);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kSucceeded);
  EXPECT_EQ(ended->outcome.exit_code, 0);
  EXPECT_NE(Log(spec).find(" stdout adopted and done\n"), std::string::npos) << Log(spec);
}

TEST_P(EngineConformanceTest, NewInstanceReportsEndThatHappenedUnwatched) {
  if (SkipWithoutJobs()) GTEST_SKIP() << GetParam().never_runs_jobs;
  size_t a = NewEngine();
  ASSERT_NE(a, SIZE_MAX);
  LaunchSpec spec = Spec(WaitForFile("go") + "; exit 4");
  auto ref = engine(a).Launch(spec);
  ASSERT_TRUE(ref.ok()) << ref.error().ToString();
  ASSERT_TRUE(recorder(a).WaitFor(spec.attempt_id, Update::Kind::kStarted).has_value());
  DropEngine(a);
  Touch(Path("go"));
  ASSERT_TRUE(GetParam().wait_ended_unwatched(env_, spec.attempt_id, kWait));

  size_t b = NewEngine();
  ASSERT_NE(b, SIZE_MAX);
  Status adopted = engine(b).Adopt(spec.attempt_id, *ref);
  ASSERT_TRUE(adopted.ok()) << adopted.error().ToString();
  auto ended = recorder(b).WaitFor(spec.attempt_id, Update::Kind::kEnded);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->status, AttemptStatus::kFailed);
  EXPECT_EQ(ended->outcome.reason, reason::kError);
  EXPECT_EQ(ended->outcome.exit_code, 4);
  EXPECT_GE(recorder(b).IndexOf(spec.attempt_id, Update::Kind::kStarted), 0);
}

TEST_P(EngineConformanceTest, AdoptOfUnknownAttemptIsNotFound) {
  size_t e = NewEngine();
  ASSERT_NE(e, SIZE_MAX);
  LaunchSpec spec = Spec("true");
  Status st = engine(e).Adopt(spec.attempt_id, "{}");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kNotFound);
  EXPECT_FALSE(st.error().message().empty());
}

}  // namespace tug::engine::conformance
