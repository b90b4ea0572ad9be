// The pure parts of the emr-on-eks pod watcher: which component an EMR pod is and whose
// container counts, the timeline budget, live logs settled against EMR's S3 copy, and the pods'
// last states merged into the end (through the real catalog to the diagnosis).
#include "engine/emr/emr_pods.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <boost/json.hpp>

#include "control/attempt_diagnosis.h"
#include "core/json.h"
#include "diagnose/diagnoser.h"
#include "logs/fs_log_store.h"

namespace tug::engine::emr {
namespace {
namespace json = boost::json;

// Labels as EMR on EKS and Spark put them on a job run's pods.
json::value EmrPod(const std::string& name, const json::object& labels,
                   const std::vector<std::string>& containers) {
  json::object l{{kLabelJobId, "0000000abc"}, {kLabelVirtualCluster, "vc1"}};
  for (const auto& kv : labels) l[kv.key()] = kv.value();
  json::array cs;
  for (const auto& c : containers) cs.push_back(json::object{{"name", c}, {"image", "x"}});
  return json::object{{"metadata", json::object{{"name", name}, {"labels", l}}},
                      {"spec", json::object{{"containers", cs}}}};
}

TEST(EmrPodComponentTest, JobRunnerDriverExecutors) {
  EXPECT_EQ(EmrPodComponent(EmrPod("0000000abc-x7k2p", {{kLabelEmrComponent, "job.submitter"}},
                                   {"job-runner"})),
            "controller");
  EXPECT_EQ(EmrPodComponent(EmrPod("spark-0000000abc-driver",
                                   {{kLabelSparkRole, "driver"}, {kLabelEmrComponent, "driver"}},
                                   {"spark-kubernetes-driver"})),
            "driver");
  EXPECT_EQ(EmrPodComponent(EmrPod("app-exec-7",
                                   {{kLabelSparkRole, "executor"}, {kLabelSparkExecId, "3"}},
                                   {"spark-kubernetes-executor"})),
            "executor-3");
  // No spark-exec-id: the pod name's -exec-N, as the S3 import names it.
  EXPECT_EQ(EmrPodComponent(EmrPod("app-exec-12", {{kLabelSparkRole, "executor"}},
                                   {"spark-kubernetes-executor"})),
            "executor-12");
  EXPECT_EQ(EmrPodComponent(EmrPod("odd", {{kLabelSparkRole, "executor"}}, {"x"})), "");
  EXPECT_EQ(EmrPodComponent(EmrPod("shuffle", {{kLabelSparkRole, "shuffle"}}, {"x"})), "");
  EXPECT_EQ(EmrPodComponent(EmrPod("op", {{kLabelEmrComponent, "flink.operator"}}, {"x"})), "");
}

TEST(EmrPodContainerTest, TheSparkContainerNeverTheSidecar) {
  json::value driver = EmrPod("d", {{kLabelSparkRole, "driver"}},
                              {"emr-container-fluentd", "spark-kubernetes-driver"});
  EXPECT_EQ(EmrPodContainer(driver, "driver"), "spark-kubernetes-driver");
  json::value runner = EmrPod("r", {}, {"emr-container-fluentd", "job-runner"});
  EXPECT_EQ(EmrPodContainer(runner, "controller"), "job-runner");
  EXPECT_EQ(EmrPodContainer(EmrPod("e", {}, {"only"}), "executor-1"), "only");
  EXPECT_EQ(EmrPodContainer(json::object{}, "driver"), "");
}

TEST(TimelineBudgetTest, EachKeyOnceThenOneNoteAtTheLimit) {
  TimelineBudget b(2);
  EXPECT_EQ(b.Admit("a", "first"), "first");
  EXPECT_FALSE(b.Admit("a", "first again").has_value());
  EXPECT_EQ(b.Admit("b", "second"), "second");
  auto cap = b.Admit("c", "third");
  ASSERT_TRUE(cap.has_value());
  EXPECT_NE(cap->find("not shown (limit 2)"), std::string::npos) << *cap;
  EXPECT_FALSE(b.Admit("d", "fourth").has_value());
}

class EmrPodsStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tug-emr-pods-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    logs_ = std::make_unique<logs::FsLogStore>(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void Write(const std::string& component, const std::string& text) {
    auto path = logs_->PathFor(run_, attempt_, component);
    ASSERT_TRUE(path.ok());
    std::ofstream(*path, std::ios::app) << "2026-12-07T10:00:00Z stdout " << text << "\n";
  }
  std::string Read(const std::string& component) {
    auto c = logs_->Read(run_, attempt_, component, 0, 1 << 20);
    return c.ok() ? c->data : "";
  }
  std::string root_;
  std::unique_ptr<logs::FsLogStore> logs_;
  std::string run_ = "01hf7yat0009ca7jvkrtmknft0";
  std::string attempt_ = "01hf7yat0009ca7jvkrtmknft0-1";
};

// EMR's copy replaces the live one; a live log S3 does not have becomes the component's log.
TEST_F(EmrPodsStoreTest, LiveLogsGiveWayToTheImportAndFillWhatItLacks) {
  Write("live-driver", "live driver line");
  Write("driver", "driver line from s3");
  Write("live-executor-2", "live executor line");
  Write("controller", "job runner from s3");
  auto kept = SettleLiveLogs(*logs_, run_, attempt_, {"controller", "driver"});
  EXPECT_EQ(kept, std::vector<std::string>{"executor-2"});
  auto names = logs_->Components(run_, attempt_);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"controller", "driver", "executor-2"}));
  EXPECT_EQ(Read("driver"), "2026-12-07T10:00:00Z stdout driver line from s3\n");
  EXPECT_EQ(Read("executor-2"), "2026-12-07T10:00:00Z stdout live executor line\n");
}

// The driver pod's OOM kill, seen by the watcher, is the attempt's reason and the diagnosis'
// evidence; executors are listed as the watcher left them (a torn-down one is no evidence).
TEST_F(EmrPodsStoreTest, DriverPodOomKillIsTheDiagnosedCause) {
  Update u;
  u.kind = Update::Kind::kEnded;
  u.status = AttemptStatus::kFailed;
  u.outcome = Outcome{std::nullopt, "Error", "EMR USER_ERROR: Job run failed"};
  ComponentStatus controller;
  controller.name = "controller";
  controller.state = "failed";
  controller.reason = "Error";
  u.components.push_back(controller);
  ComponentStatus runner_pod;
  runner_pod.name = "controller";
  runner_pod.pod = "0000000abc-x7k2p";
  runner_pod.node = "ip-10-0-0-1";
  ComponentStatus driver;
  driver.name = "driver";
  driver.pod = "spark-0000000abc-driver";
  driver.state = "failed";
  driver.reason = "OOMKilled";
  driver.exit_code = 137;
  ComponentStatus exec;
  exec.name = "executor-1";
  exec.state = "failed";
  exec.reason = "Error";
  exec.exit_code = 143;
  ApplyPodStates(u, {runner_pod, driver, exec}, true);
  EXPECT_EQ(u.outcome.reason, "OOMKilled");
  EXPECT_EQ(u.outcome.exit_code, 137);
  EXPECT_NE(u.outcome.message.find("driver pod spark-0000000abc-driver: OOMKilled"),
            std::string::npos)
      << u.outcome.message;
  ASSERT_EQ(u.components.size(), 3u);
  EXPECT_EQ(u.components[0].pod, "0000000abc-x7k2p");
  EXPECT_EQ(u.components[0].reason, "Error");  // the job runner keeps EMR's account
  EXPECT_EQ(u.components[2].name, "executor-1");
  EXPECT_FALSE(u.components[2].evidence);

  auto d = diagnose::Diagnoser::CreateBuiltin();
  ASSERT_TRUE(d.ok()) << d.error().ToString();
  Write("driver", "Exception in thread \"main\" java.lang.RuntimeException: boom");
  Attempt a;
  a.run_id = run_;
  a.id = attempt_;
  a.status = u.status;
  a.outcome = u.outcome;
  a.components = ComponentsJson(u.components);
  std::string text = control::DiagnoseAttempt(*d, *logs_, a, u.status, u.outcome);
  json::value v = json::parse(text);
  EXPECT_EQ(v.at("class").as_string(), "driver_oom") << text;

  // A driver pod that was only deleted (EMR's own cleanup does that too) changes nothing.
  Update plain;
  plain.outcome = Outcome{std::nullopt, "Error", "EMR USER_ERROR"};
  ComponentStatus gone = driver;
  gone.reason = "Deleted";
  gone.state = "deleted";
  gone.exit_code.reset();
  ApplyPodStates(plain, {gone}, true);
  EXPECT_EQ(plain.outcome.reason, "Error");
  // Nor does a failure EMR calls its own (INTERNAL_ERROR).
  Update internal;
  internal.outcome = Outcome{std::nullopt, "Error", "EMR INTERNAL_ERROR"};
  ApplyPodStates(internal, {driver}, false);
  EXPECT_EQ(internal.outcome.reason, "Error");
  EXPECT_EQ(internal.components.at(0).reason, "OOMKilled");
}

}  // namespace
}  // namespace tug::engine::emr
