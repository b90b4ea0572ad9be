// End to end: a real `tug server` (SQLite + local engine with real cgroup limits) on a free
// loopback port with a temporary data dir, driven through the real `tug` CLI.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "e2e_fixture.h"
#include "net/http_client.h"
#include "test_util.h"

namespace json = boost::json;

namespace tug::testing {
namespace {

// Allocates 256 MiB under a 64Mi limit.
constexpr const char* kHogYaml = R"(name: hog
command: perl -e '$x = "x" x (256*1024*1024); print length($x), "\n"'
resources: {memory: 64Mi}
retry: {max_attempts: 1}
)";

const json::object& FirstAttempt(const json::object& run) {
  return run.at("attempts").as_array().at(0).as_object();
}

TEST_F(E2eTest, HelloRunsAndLogsAreKept) {
  Apply(R"(name: hello
command: echo hello from tugboat; echo "greeting=$GREETING"; echo to stderr >&2
env: {GREETING: hi}
resources: {cpu: 500m, memory: 64Mi}
timeout: 10m
)");
  auto r = server_->Tug({"run", "hello", "--wait", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json::object run = json::parse(r.out).as_object();
  std::string id(run.at("id").as_string());
  EXPECT_EQ(run.at("status"), "SUCCEEDED");
  const auto& a = FirstAttempt(run);
  EXPECT_EQ(a.at("resources").at("memory").as_int64(), 64 << 20);
  EXPECT_EQ(a.at("outcome").at("exit_code").as_int64(), 0);
  EXPECT_EQ(a.at("outcome").at("reason"), "Completed");
  EXPECT_GT(a.at("peak_memory").as_int64(), 0);

  auto logs = server_->Tug({"logs", id});
  ASSERT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_NE(logs.out.find("hello from tugboat\n"), std::string::npos) << logs.out;
  EXPECT_NE(logs.out.find("greeting=hi\n"), std::string::npos) << logs.out;
  EXPECT_NE(logs.out.find("to stderr\n"), std::string::npos) << logs.out;
  auto stamped = server_->Tug({"logs", id, "--timestamps"});
  EXPECT_NE(stamped.out.find(" stdout hello from tugboat\n"), std::string::npos) << stamped.out;
  EXPECT_NE(stamped.out.find(" stderr to stderr\n"), std::string::npos) << stamped.out;

  auto events = server_->Tug({"events", id});
  EXPECT_NE(events.out.find("submitted"), std::string::npos) << events.out;
  EXPECT_NE(events.out.find("ended"), std::string::npos) << events.out;

  auto table = server_->Tug({"get", "runs"});
  EXPECT_NE(table.out.find(id), std::string::npos);
  EXPECT_NE(table.out.find("SUCCEEDED"), std::string::npos);
}

TEST_F(E2eTest, FollowStreamsOutputAndExitCode) {
  Apply(R"(name: counter
command: for i in 1 2 3; do echo "line $i"; sleep 0.2; done; exit 3
)");
  auto r = server_->Tug({"run", "counter", "--follow"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("line 1\nline 2\nline 3\n"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("FAILED"), std::string::npos) << r.err;
}

TEST_F(E2eTest, MemoryHogIsOomKilledByTheKernel) {
  Apply(kHogYaml);
  auto r = server_->Tug({"run", "hog", "--wait", "-o", "json"});
  ASSERT_EQ(r.exit_code, 137) << r.out << r.err;
  json::object run = json::parse(r.out).as_object();
  EXPECT_EQ(run.at("status"), "FAILED");
  const auto& a = FirstAttempt(run);
  EXPECT_EQ(a.at("outcome").at("reason"), "OOMKilled");
  EXPECT_EQ(a.at("outcome").at("exit_code").as_int64(), 137);
  int64_t peak = a.at("peak_memory").as_int64();
  EXPECT_GE(peak, 48LL << 20) << "peak " << peak;
  EXPECT_LE(peak, 72LL << 20) << "peak " << peak;
  const auto& d = a.at("diagnosis");
  ASSERT_TRUE(d.is_object()) << r.out;
  EXPECT_EQ(d.at("class"), "batch_container_oom") << json::serialize(d);
  EXPECT_EQ(d.at("retryable"), true);
}

TEST_F(E2eTest, TimeoutEndsInDeadlineExceeded) {
  Apply("name: slow\ncommand: sleep 60\ntimeout: 2s\n");
  auto r = server_->Tug({"run", "slow", "--wait", "-o", "json"});
  EXPECT_NE(r.exit_code, 0);
  json::object run = json::parse(r.out).as_object();
  EXPECT_EQ(run.at("status"), "FAILED");
  EXPECT_EQ(FirstAttempt(run).at("outcome").at("reason"), "DeadlineExceeded");
}

TEST_F(E2eTest, StopEndsARunningJob) {
  Apply("name: sleeper\ncommand: echo sleeping; sleep 120\n");
  std::string id = Submit("sleeper");
  ASSERT_TRUE(WaitStatus(id, "RUNNING")) << id;
  auto stop = server_->Tug({"stop", id});
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  ASSERT_TRUE(WaitStatus(id, "STOPPED"));
  json::object run = GetRun(id);
  EXPECT_EQ(FirstAttempt(run).at("outcome").at("reason"), "Stopped");
  auto again = server_->Tug({"stop", id});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("already"), std::string::npos) << again.err;
}

TEST_F(E2eTest, RunOverridesApply) {
  Apply("name: env\ncommand: echo \"v=$V\"\nenv: {V: one}\nresources: {memory: 64Mi}\n");
  auto r =
      server_->Tug({"run", "env", "--env", "V=two", "--memory", "96Mi", "--wait", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json::object run = json::parse(r.out).as_object();
  EXPECT_EQ(FirstAttempt(run).at("resources").at("memory").as_int64(), 96 << 20);
  auto logs = server_->Tug({"logs", std::string(run.at("id").as_string())});
  EXPECT_NE(logs.out.find("v=two"), std::string::npos) << logs.out;
}

TEST_F(E2eTest, ServerKilledWhileJobRunsThenRestarted) {
  std::string marker = dir_.path() + "/started.txt";
  // The job runs until the test lets it go, after the restart: on a slow machine a fixed sleep
  // could end before the kill, and then there is nothing to adopt.
  std::string release = dir_.path() + "/release";
  Apply("name: survivor\ncommand: echo started >> " + marker + "; while [ ! -e " + release +
        " ]; do sleep 0.1; done; echo finished\n");
  std::string id = Submit("survivor");
  ASSERT_TRUE(WaitStatus(id, "RUNNING"));
  server_->Kill();
  std::string error;
  ASSERT_TRUE(server_->Start(&error)) << error;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto events = server_->Tug({"events", id});
        return events.out.find("adopted") != std::string::npos;
      },
      std::chrono::seconds(60)));
  std::ofstream(release).put('\n');
  ASSERT_TRUE(
      WaitFor([&] { return GetRun(id)["status"] == "SUCCEEDED"; }, std::chrono::seconds(60)))
      << json::serialize(GetRun(id));
  json::object run = GetRun(id);
  EXPECT_EQ(FirstAttempt(run).at("outcome").at("exit_code").as_int64(), 0);
  EXPECT_EQ(run.at("attempts").as_array().size(), 1u);
  std::ifstream in(marker);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "started\n") << "the attempt must have been launched exactly once";
  auto logs = server_->Tug({"logs", id});
  EXPECT_NE(logs.out.find("finished"), std::string::npos) << logs.out;
  auto events = server_->Tug({"events", id});
  EXPECT_NE(events.out.find("adopted"), std::string::npos) << events.out;
}

TEST_F(E2eTest, JobThatEndsWhileServerIsDownKeepsItsTrueOutcome) {
  Apply("name: quick-fail\ncommand: sleep 1; exit 7\n");
  std::string id = Submit("quick-fail");
  ASSERT_TRUE(WaitStatus(id, "RUNNING"));
  server_->Kill();
  // The job ends (exit 7) while no server watches it; the shim records the outcome.
  std::string state = dir_.path() + "/data/engine/" + id + "-1/status.json";
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(state); }, std::chrono::seconds(30)));
  std::string error;
  ASSERT_TRUE(server_->Start(&error)) << error;
  ASSERT_TRUE(WaitStatus(id, "FAILED")) << json::serialize(GetRun(id));
  json::object run = GetRun(id);
  EXPECT_EQ(FirstAttempt(run).at("outcome").at("exit_code").as_int64(), 7);
  EXPECT_EQ(FirstAttempt(run).at("outcome").at("reason"), "Error");
}

TEST_F(E2eTest, RunWhoseProcessDiedWithTheServerIsLostWithAReason) {
  // No infrastructure retries, so the run ends LOST (retries of lost attempts: retry_test).
  Apply("name: doomed\ncommand: sleep 119\nretry: {max_infra_retries: 0}\n");
  std::string id = Submit("doomed");
  ASSERT_TRUE(WaitStatus(id, "RUNNING"));
  server_->Kill();
  // Kill the attempt's supervisor and job too, as a host reboot would.
  std::string pid_file = dir_.path() + "/data/engine/" + id + "-1/shim.pid";
  std::ifstream in(pid_file);
  long shim_pid = 0;
  in >> shim_pid;
  ASSERT_GT(shim_pid, 1) << "no shim pid in " << pid_file;
  ::kill(-static_cast<pid_t>(shim_pid), SIGKILL);  // the shim leads its own session/group
  ::kill(static_cast<pid_t>(shim_pid), SIGKILL);
  RunCommand({"pkill", "-KILL", "-f", "sleep 119"});
  std::string error;
  ASSERT_TRUE(server_->Start(&error)) << error;
  ASSERT_TRUE(WaitStatus(id, "LOST")) << json::serialize(GetRun(id));
  json::object run = GetRun(id);
  std::string message(FirstAttempt(run).at("outcome").at("message").as_string());
  EXPECT_FALSE(message.empty());
}

}  // namespace
}  // namespace tug::testing

namespace tug::testing {
namespace {

// Without a writable cgroup (forced here with --cgroup none) a watchdog enforces memory limits,
// and readiness says the engine runs degraded.
TEST(E2eWatchdogTest, MemoryLimitByWatchdogAndDegradedReadiness) {
  TempDir dir;
  ServerProcess server(dir.path() + "/data", {"--cgroup", "none"});
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;
  std::string file = dir.Write("hog.yaml", kHogYaml);
  ASSERT_EQ(server.Tug({"apply", "-f", file}).exit_code, 0);
  auto r = server.Tug({"run", "hog", "--wait", "-o", "json"});
  ASSERT_EQ(r.exit_code, 137) << r.out << r.err << server.Log();
  json::object run = json::parse(r.out).as_object();
  const auto& outcome = run.at("attempts").as_array().at(0).at("outcome").as_object();
  EXPECT_EQ(outcome.at("reason"), "OOMKilled");
  EXPECT_NE(std::string(outcome.at("message").as_string()).find("watchdog"), std::string::npos)
      << outcome.at("message");
  auto client = net::HttpClient::Create(server.url());
  ASSERT_TRUE(client.ok());
  auto ready = client->Send("GET", "/readyz");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200);
  json::object body = json::parse(ready->body).as_object();
  EXPECT_EQ(body.at("status"), "degraded") << ready->body;
  EXPECT_EQ(body.at("engine").at("degraded"), true) << ready->body;
}

}  // namespace
}  // namespace tug::testing

namespace tug::testing {
namespace {

class E2eDiagnosisTest : public E2eTest {};

TEST_F(E2eDiagnosisTest, PythonTracebackIsAUserCodeErrorWithItsLastLineAsRootCause) {
  Apply(R"(name: broken
command: |
  echo "loading features"
  perl -e 'print STDERR "Traceback (most recent call last):\n  File \"/app/train.py\", line 12, in <module>\n    main()\n  File \"/app/train.py\", line 9, in main\n    rows = load(path)\n  File \"/app/train.py\", line 5, in load\n    return json.loads(text)\nValueError: could not parse features at row 17\n"; exit 1'
)");
  auto r = server_->Tug({"run", "broken", "--wait", "-o", "json"});
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  json::object run = json::parse(r.out).as_object();
  const auto& d = FirstAttempt(run).at("diagnosis");
  ASSERT_TRUE(d.is_object()) << r.out;
  EXPECT_EQ(d.at("class"), "user_code_error") << json::serialize(d);
  EXPECT_EQ(d.at("retryable"), false);
  EXPECT_EQ(d.at("root_cause").at("text"), "ValueError: could not parse features at row 17")
      << json::serialize(d);
  EXPECT_EQ(d.at("root_cause").at("component"), "main");
  std::string id(run.at("id").as_string());
  // The root-cause line number points at that line in `tug logs` output.
  auto logs = server_->Tug({"logs", id});
  std::istringstream lines(logs.out);
  std::string line;
  int64_t n = 0;
  int64_t found = 0;
  while (std::getline(lines, line)) {
    ++n;
    if (line == "ValueError: could not parse features at row 17") found = n;
  }
  EXPECT_EQ(d.at("root_cause").at("line").as_int64(), found) << logs.out;
  auto detail = server_->Tug({"get", "run", id});
  EXPECT_NE(detail.out.find("user_code_error"), std::string::npos) << detail.out;
  EXPECT_NE(detail.out.find("ValueError: could not parse features"), std::string::npos);
  auto errors = server_->Tug({"logs", id, "--errors"});
  EXPECT_EQ(errors.exit_code, 0) << errors.err;
  EXPECT_NE(errors.out.find(">>"), std::string::npos) << errors.out;
  EXPECT_NE(errors.out.find("ValueError"), std::string::npos) << errors.out;
}

TEST(E2eOfflineDiagnoseTest, DiagnosesAFileWithoutAServer) {
  TempDir dir;
  std::string file = dir.Write("driver.log",
                               "INFO starting\n"
                               "Traceback (most recent call last):\n"
                               "  File \"job.py\", line 3, in <module>\n"
                               "    import pandas\n"
                               "ModuleNotFoundError: No module named 'pandas'\n");
  auto r = RunCommand({TugBinary(), "diagnose", file, "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json::object d = json::parse(r.out).as_object();
  EXPECT_FALSE(std::string(d.at("class").as_string()).empty());
  EXPECT_EQ(d.at("retryable"), false);
  EXPECT_EQ(d.at("root_cause").at("line").as_int64(), 5);
  EXPECT_EQ(d.at("root_cause").at("text"), "ModuleNotFoundError: No module named 'pandas'");
  auto human = RunCommand({TugBinary(), "diagnose", file});
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_NE(human.out.find("ModuleNotFoundError"), std::string::npos) << human.out;
}

}  // namespace
}  // namespace tug::testing

namespace tug::testing {
namespace {

constexpr const char* kPiYaml = R"(name: pi
kind: spark
spark:
  version: "3.5"
  main: local:///opt/spark/examples/src/main/python/pi.py
  args: ["1000"]
  conf: {spark.sql.shuffle.partitions: "64"}
  driver: {cores: 1, memory: 2Gi}
  executor: {cores: 2, memory: 4Gi, instances: 3, max: 20}
)";

// A server with no cluster at all still shows what a Spark run would be, and stores nothing.
TEST_F(E2eTest, SparkDryRunNeedsNoCluster) {
  Apply(kPiYaml);
  auto r = server_->Tug({"run", "pi", "--dry-run", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json::object dry = json::parse(r.out).as_object();
  EXPECT_EQ(dry.at("engine"), "spark");
  EXPECT_TRUE(dry.contains("note"));
  const json::object& launch = dry.at("launch").as_object();
  EXPECT_EQ(launch.at("image"), "apache/spark:3.5.1");
  const json::object& conf = launch.at("conf").as_object();
  EXPECT_EQ(conf.at("spark.executor.memory"), "4096m");
  EXPECT_EQ(conf.at("spark.dynamicAllocation.maxExecutors"), "20");
  EXPECT_EQ(conf.at("spark.sql.shuffle.partitions"), "64");
  EXPECT_EQ(conf.at("spark.kubernetes.executor.node.selector.karpenter.sh/capacity-type"), "spot");
  const json::array& argv = launch.at("argv").as_array();
  EXPECT_EQ(argv.front(), "/opt/spark/bin/spark-submit");
  EXPECT_EQ(argv.back(), "1000");
  EXPECT_EQ(launch.at("controller_pod").at("metadata").at("labels").at("tugboat.io/component"),
            "controller");
  // The table form reads as a command line.
  auto table = server_->Tug({"run", "pi", "--dry-run"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("--conf spark.executor.memory=4096m"), std::string::npos) << table.out;
  // Nothing was stored.
  auto runs = server_->Tug({"get", "runs", "-o", "json"});
  ASSERT_EQ(runs.exit_code, 0);
  EXPECT_EQ(json::parse(runs.out).as_object().at("runs").as_array().size(), 0u) << runs.out;
  // A real run needs a cluster: a 422 that says so.
  auto real = server_->Tug({"run", "pi"});
  EXPECT_NE(real.exit_code, 0);
  EXPECT_NE(real.err.find("no Kubernetes cluster"), std::string::npos) << real.err;
}

// A parameterised Spark definition (issue 26 item 6): its args and conf values are rendered from
// the run's parameters, each value one spark-submit argument; with resources.gpu the executors
// get Spark's GPU scheduling confs (item 5).
TEST_F(E2eTest, SparkTemplatesRenderArgsAndConfAndGpusReachTheSubmission) {
  Apply(R"(name: etl
kind: spark
spark:
  version: "3.5"
  main: local:///opt/app/etl.py
  args: ["--day", "{{ day }}"]
  conf: {spark.sql.shuffle.partitions: "{{ parts }}"}
  executor: {cores: 2, memory: 4Gi, instances: 3}
resources: {gpu: 1}
parameters:
  type: object
  properties:
    day: {type: string, pattern: "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
    parts: {type: integer, minimum: 1, default: 64}
  required: [day]
)");
  auto r = server_->Tug({"run", "etl", "-p", "day=2026-12-07", "--dry-run", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json::object launch = json::parse(r.out).at("launch").as_object();
  const json::object& conf = launch.at("conf").as_object();
  EXPECT_EQ(conf.at("spark.sql.shuffle.partitions"), "64");
  EXPECT_EQ(conf.at("spark.executor.resource.gpu.amount"), "1");
  EXPECT_EQ(conf.at("spark.executor.resource.gpu.vendor"), "nvidia.com");
  EXPECT_EQ(conf.at("spark.task.resource.gpu.amount"), "0.5");
  // GPU executors go on-demand by default.
  EXPECT_EQ(conf.at("spark.kubernetes.executor.node.selector.karpenter.sh/capacity-type"),
            "on-demand");
  const json::array& argv = launch.at("argv").as_array();
  ASSERT_GE(argv.size(), 2u);
  EXPECT_EQ(argv[argv.size() - 2], "--day");
  EXPECT_EQ(argv.back(), "2026-12-07");
  EXPECT_EQ(launch.at("executors").at("gpu").as_int64(), 1);
  // A value the schema refuses is 422 naming the parameter.
  auto bad = server_->Tug({"run", "etl", "-p", "day=x; rm -rf /", "--dry-run"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("parameter 'day'"), std::string::npos) << bad.err;
}

// Bad Spark input is refused with what to fix, and nothing is written.
TEST_F(E2eTest, SparkDefinitionsAreValidated) {
  std::string file = dir_.Write("bad.yaml", R"(name: bad
kind: spark
spark:
  version: "3.5"
  main: local:///app.py
  conf: {spark.executor.memory: 8g}
)");
  auto r = server_->Tug({"apply", "-f", file});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("spark.conf 'spark.executor.memory' is set by Tugboat"), std::string::npos)
      << r.err;
  Apply(R"(name: old
kind: spark
spark: {version: "3.1", main: "local:///app.py"}
)");
  auto dry = server_->Tug({"run", "old", "--dry-run"});
  EXPECT_NE(dry.exit_code, 0);
  EXPECT_NE(dry.err.find("spark version '3.1' has no image"), std::string::npos) << dry.err;
}

}  // namespace
}  // namespace tug::testing
