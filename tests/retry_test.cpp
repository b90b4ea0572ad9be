// End to end: adaptive retries on the local engine. Real kernel OOM kills under cgroup limits,
// real back-off waits, a real server restart while a retry is pending.
#include <fstream>
#include <sstream>

#include "core/clock.h"
#include "e2e_fixture.h"

namespace json = boost::json;

namespace tug::testing {
namespace {

const json::array& Attempts(const json::object& run) { return run.at("attempts").as_array(); }

std::string Sentence(const json::value& attempt) {
  const json::value* d = attempt.as_object().if_contains("decision");
  if (d == nullptr || !d->is_object()) return "";
  const json::value* s = d->as_object().if_contains("sentence");
  return s != nullptr && s->is_string() ? std::string(s->as_string()) : "";
}

int64_t Memory(const json::value& attempt) {
  return attempt.at("resources").at("memory").as_int64();
}

// The definition with every MARKER replaced by `path` (a file each run appends a line to).
std::string WithMarker(std::string yaml, const std::string& path) {
  for (size_t at = yaml.find("MARKER"); at != std::string::npos; at = yaml.find("MARKER", at)) {
    yaml.replace(at, 6, path);
    at += path.size();
  }
  return yaml;
}

int CountLines(const std::string& path) {
  std::ifstream in(path);
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// Needs ~200 MiB: perl builds the 95 MiB string and then copies it into $x (peak ~195 MiB).
TEST_F(E2eTest, OomIsRetriedWithMoreMemoryUntilItSucceeds) {
  Apply(R"y(name: needs-200mi
command: perl -e '$x = "x" x (95*1024*1024); print "allocated ", length($x), "\n"'
resources: {memory: 64Mi}
retry: {max_attempts: 5}
)y");
  auto r = server_->Tug({"run", "needs-200mi", "--wait", "-o", "json"}, std::chrono::seconds(240));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json::object run = json::parse(r.out).as_object();
  EXPECT_EQ(run.at("status"), "SUCCEEDED");
  const json::array& attempts = Attempts(run);
  ASSERT_GE(attempts.size(), 2u) << r.out;
  // Each failed attempt was OOMKilled, and the next one got 1.5x its memory.
  for (size_t i = 0; i + 1 < attempts.size(); ++i) {
    const json::value& a = attempts[i];
    EXPECT_EQ(a.at("outcome").at("reason"), "OOMKilled") << json::serialize(a);
    EXPECT_EQ(a.at("diagnosis").at("class"), "batch_container_oom");
    int64_t now = Memory(a);
    int64_t next = Memory(attempts[i + 1]);
    EXPECT_GE(next, now * 3 / 2) << "attempt " << i + 2;
    EXPECT_LE(next, now * 3 / 2 + (1 << 20)) << "attempt " << i + 2;
    std::string sentence = Sentence(a);
    EXPECT_NE(sentence.find("attempt " + std::to_string(i + 2)), std::string::npos) << sentence;
    EXPECT_NE(sentence.find("OOMKilled"), std::string::npos) << sentence;
    EXPECT_NE(sentence.find("→"), std::string::npos) << sentence;
  }
  const json::value& last = attempts.back();
  EXPECT_EQ(last.at("outcome").at("exit_code").as_int64(), 0);
  EXPECT_EQ(Memory(last), 216LL << 20);  // 64Mi -> 96Mi -> 144Mi -> 216Mi
  EXPECT_EQ(Memory(attempts.front()), 64LL << 20);

  // The CLI shows the attempts table and each decision.
  std::string id(run.at("id").as_string());
  auto shown = server_->Tug({"get", "run", id});
  EXPECT_NE(shown.out.find("Decisions:"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("memory 64Mi → 96Mi"), std::string::npos) << shown.out;
  auto events = server_->Tug({"events", id});
  EXPECT_NE(events.out.find("decision"), std::string::npos) << events.out;
}

TEST_F(E2eTest, ThrottledJobIsRetriedAfterABackOffWithTheSameResources) {
  std::string marker = dir_.path() + "/throttled.count";
  Apply(WithMarker(R"y(name: throttled
command: |
  echo run >> MARKER
  if [ "$(wc -l < MARKER)" -lt 2 ]; then
    echo "botocore.exceptions.ClientError: An error occurred (SlowDown) when calling the PutObject operation (reached max retries: 4): Please reduce your request rate." >&2
    echo "Status Code: 503, AWS Service: Amazon S3, Error Code: SlowDown, 503 Slow Down" >&2
    exit 1
  fi
  echo uploaded
resources: {memory: 64Mi, cpu: 250m}
retry: {max_attempts: 3, backoff: {initial: 2s, max: 10s}}
)y",
                   marker));
  auto r = server_->Tug({"run", "throttled", "--wait", "-o", "json"}, std::chrono::seconds(120));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json::object run = json::parse(r.out).as_object();
  const json::array& attempts = Attempts(run);
  ASSERT_EQ(attempts.size(), 2u) << r.out;
  const json::value& first = attempts[0];
  EXPECT_EQ(first.at("diagnosis").at("class"), "transient_dependency") << json::serialize(first);
  EXPECT_EQ(first.at("decision").at("rule"), "transient.backoff") << json::serialize(first);
  // Same resources, and the second attempt became due only after the back-off (jittered to
  // between half and all of the 2s initial back-off).
  EXPECT_EQ(first.at("resources"), attempts[1].at("resources"));
  double delay = first.at("decision").at("delay_seconds").to_number<double>();
  EXPECT_GE(delay, 1.0);
  EXPECT_LE(delay, 2.0);
  auto ended = ParseTimestamp(std::string(first.at("ended_at").as_string()));
  auto due = ParseTimestamp(std::string(attempts[1].at("due_at").as_string()));
  ASSERT_TRUE(ended.ok() && due.ok());
  EXPECT_GE(*due - *ended, 900'000) << "the retry must wait for its back-off";
  std::string sentence = Sentence(first);
  EXPECT_NE(sentence.find("same resources"), std::string::npos) << sentence;
  EXPECT_EQ(CountLines(marker), 2);
}

TEST_F(E2eTest, UserCodeErrorIsNotRetriedAndSaysWhy) {
  Apply(R"y(name: buggy
command: ["python3", "-c", "import sys\nprint('starting')\nprint(undefined_name)"]
retry: {max_attempts: 3}
)y");
  auto r = server_->Tug({"run", "buggy", "--wait", "-o", "json"});
  EXPECT_NE(r.exit_code, 0);
  json::object run = json::parse(r.out).as_object();
  EXPECT_EQ(run.at("status"), "FAILED");
  const json::array& attempts = Attempts(run);
  ASSERT_EQ(attempts.size(), 1u) << r.out;
  EXPECT_EQ(attempts[0].at("diagnosis").at("class"), "user_code_error");
  std::string sentence = Sentence(attempts[0]);
  EXPECT_EQ(sentence.rfind("not retried", 0), 0u) << sentence;
  EXPECT_NE(sentence.find("NameError"), std::string::npos) << sentence;
  std::string id(run.at("id").as_string());
  auto shown = server_->Tug({"get", "run", id});
  EXPECT_NE(shown.out.find("not retried"), std::string::npos) << shown.out;
}

TEST_F(E2eTest, PendingRetrySurvivesARestartAndRunsOnce) {
  std::string marker = dir_.path() + "/flaky.count";
  Apply(WithMarker(R"y(name: flaky
command: |
  echo run >> MARKER
  if [ "$(wc -l < MARKER)" -lt 2 ]; then
    echo "requests.exceptions.ConnectionError: Connection reset by peer" >&2
    exit 1
  fi
  echo done
retry: {max_attempts: 3, backoff: {initial: 30s, max: 30s}}
)y",
                   marker));
  // The back-off is long so that the kill below lands while the retry still waits, however
  // slow the machine (a sanitizer build at load 10 took 13 s for the first attempt alone).
  std::string id = Submit("flaky");
  ASSERT_TRUE(WaitStatus(id, "RETRYING")) << json::serialize(GetRun(id));
  json::object waiting = GetRun(id);
  ASSERT_EQ(Attempts(waiting).size(), 2u);
  EXPECT_EQ(Attempts(waiting)[1].at("status"), "QUEUED");
  // Crash the server while the retry waits for its back-off, then start a new one.
  server_->Kill();
  std::string error;
  ASSERT_TRUE(server_->Start(&error)) << error;
  ASSERT_TRUE(WaitFor([&] { return GetRun(id)["status"] == json::value("SUCCEEDED"); },
                      std::chrono::seconds(180)))
      << json::serialize(GetRun(id));
  json::object run = GetRun(id);
  EXPECT_EQ(Attempts(run).size(), 2u);
  EXPECT_EQ(CountLines(marker), 2) << "the retry must have run exactly once";
}

TEST_F(E2eTest, LostAttemptIsRetriedWithoutUsingTheUserBudget) {
  std::string marker = dir_.path() + "/lost.count";
  Apply(WithMarker(R"y(name: lost-once
command: |
  echo run >> MARKER
  if [ "$(wc -l < MARKER)" -lt 2 ]; then sleep 117; fi
  echo finished
retry: {max_attempts: 1, max_infra_retries: 1, backoff: {initial: 1s, max: 1s}}
)y",
                   marker));
  std::string id = Submit("lost-once");
  ASSERT_TRUE(WaitStatus(id, "RUNNING"));
  server_->Kill();
  // A host reboot: the attempt's supervisor and job die with the server.
  std::string pid_file = dir_.path() + "/data/engine/" + id + "-1/shim.pid";
  std::ifstream in(pid_file);
  long shim_pid = 0;
  in >> shim_pid;
  ASSERT_GT(shim_pid, 1) << "no shim pid in " << pid_file;
  ::kill(-static_cast<pid_t>(shim_pid), SIGKILL);
  ::kill(static_cast<pid_t>(shim_pid), SIGKILL);
  RunCommand({"pkill", "-KILL", "-f", "sleep 117"});
  std::string error;
  ASSERT_TRUE(server_->Start(&error)) << error;
  ASSERT_TRUE(WaitStatus(id, "SUCCEEDED")) << json::serialize(GetRun(id));
  json::object run = GetRun(id);
  const json::array& attempts = Attempts(run);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0].at("status"), "LOST");
  EXPECT_EQ(attempts[0].at("decision").at("budget"), "infra") << json::serialize(attempts[0]);
}

}  // namespace
}  // namespace tug::testing
