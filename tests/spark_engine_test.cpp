// Spark on Kubernetes end to end: a real `tug server` with the spark engine against a real
// kube-apiserver; the node simulator plays the kubelets, the scheduler and spark-submit (it
// creates the driver and executor pods from the controller pod's --conf arguments, with Spark's
// labels; see tests/kube_sim.h).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "kube_fixture.h"

namespace tug::testing {
namespace {

using SparkEngineTest = KubeServerTest;

// The spark section of the server config: two versions on one cluster.
constexpr char kSparkConfig[] = R"(spark:
  versions: {"3.5": "apache/spark:3.5.1", "3.4": "apache/spark:3.4.3"}
  history_url: http://history.example:18080
)";

std::string PodPath(const std::string& name) {
  return std::string("/api/v1/namespaces/") + kNamespace + "/pods/" + name;
}

const json::object* Component(const json::object& attempt, const std::string& name) {
  const json::value* comps = attempt.if_contains("components");
  if (comps == nullptr || !comps->is_array()) return nullptr;
  for (const auto& c : comps->as_array()) {
    if (c.at("name") == json::value(name)) return &c.as_object();
  }
  return nullptr;
}

TEST_F(SparkEngineTest, ExecutorOomGrowsOverheadAndEveryComponentKeepsItsLog) {
  StartServer("1s", kSparkConfig);
  // Executor 1 needs 1600Mi of container: 1Gi heap + Spark's default 384Mi overhead is not
  // enough; ×1.5 overhead (576Mi) is.
  Apply(R"y(name: spark-oom
kind: spark
spark:
  version: "3.5"
  main: local:///opt/spark/examples/src/main/python/pi.py
  args: ["10"]
  driver: {cores: 1, memory: 1Gi}
  executor: {cores: 1, memory: 1Gi, instances: 2}
env: {TUG_SIM: "run=3;log=working", TUG_SIM_EXEC_1: "oom_below=1600Mi;run=0.5;log=executor one"}
retry: {max_attempts: 3}
)y");
  std::string id = Submit("spark-oom");
  ASSERT_FALSE(id.empty());
  const std::string attempt1 = FirstAttempt(id);
  const std::string controller = "tug-" + attempt1;
  // The controller pod: spark-submit on on-demand, our labels.
  ASSERT_TRUE(WaitFor([&] { return world_->client_->Get(PodPath(controller)).ok(); }));
  auto pod = world_->client_->Get(PodPath(controller));
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ(Text(*pod, {"metadata", "labels", "tugboat.io/component"}), "controller");
  EXPECT_EQ(Text(*pod, {"spec", "containers"}).find("spark-submit") != std::string::npos, true);
  EXPECT_NE(Text(*pod, {"spec", "affinity"}).find("on-demand"), std::string::npos);

  ASSERT_TRUE(WaitStatus(id, "SUCCEEDED", std::chrono::seconds(150))) << Status(id);
  json::object run = GetRun(id);
  EXPECT_EQ(Text(run, {"spark_ui"}), "/runs/" + id + "/spark-ui/");
  const json::array& attempts = run.at("attempts").as_array();
  ASSERT_EQ(attempts.size(), 2u) << json::serialize(run);
  const json::object& first = attempts[0].as_object();
  EXPECT_EQ(Text(first, {"diagnosis", "class"}), "executor_container_oom")
      << json::serialize(first);
  EXPECT_EQ(Text(first, {"diagnosis", "component"}), "executor-1");
  EXPECT_NE(Text(first, {"decision", "sentence"}).find("executor memoryOverhead"),
            std::string::npos)
      << Text(first, {"decision", "sentence"});
  EXPECT_EQ(Text(first, {"app_id"}).rfind("spark-", 0), 0u) << json::serialize(first);
  const json::object* ex1 = Component(first, "executor-1");
  ASSERT_NE(ex1, nullptr) << json::serialize(first);
  EXPECT_EQ(Text(*ex1, {"reason"}), "OOMKilled");
  EXPECT_EQ(Text(*ex1, {"evidence"}), "true");
  EXPECT_EQ(Text(*ex1, {"capacity"}), "spot");
  const json::object* drv = Component(first, "driver");
  ASSERT_NE(drv, nullptr);
  EXPECT_EQ(Text(*drv, {"capacity"}), "on-demand");
  EXPECT_NE(Component(first, "controller"), nullptr);
  EXPECT_NE(Component(first, "executor-2"), nullptr);
  // The next attempt grew the executors' overhead, nothing else.
  const json::object& second = attempts[1].as_object();
  EXPECT_EQ(Text(second, {"resources", "spark", "executor", "memoryOverhead"}), "576Mi")
      << json::serialize(second.at("resources"));
  EXPECT_EQ(Text(second, {"resources", "spark", "executor", "memory"}), "1Gi");

  // Every pod is deleted after the linger; each component's log is still readable on its own.
  ASSERT_TRUE(WaitFor([&] { return !world_->client_->Get(PodPath(controller)).ok(); },
                      std::chrono::seconds(60)));
  ASSERT_TRUE(WaitFor([&] { return !world_->client_->Get(PodPath(controller + "-exec-1")).ok(); },
                      std::chrono::seconds(60)));
  auto logs = [&](const std::string& component) {
    return server_->Tug({"logs", id, "--attempt", "1", "--component", component});
  };
  auto ctl = logs("controller");
  EXPECT_EQ(ctl.exit_code, 0) << ctl.err;
  EXPECT_NE(ctl.out.find("Submitting application"), std::string::npos) << ctl.out;
  auto driver = logs("driver");
  EXPECT_NE(driver.out.find("Lost executor 1"), std::string::npos) << driver.out;
  auto e1 = logs("executor-1");
  EXPECT_NE(e1.out.find("executor one"), std::string::npos) << e1.out << e1.err;
  auto e2 = logs("executor-2");
  EXPECT_NE(e2.out.find("working"), std::string::npos) << e2.out << e2.err;
  EXPECT_EQ(e2.out.find("executor one"), std::string::npos);
  // `tug logs` without a component is the driver's.
  auto plain = server_->Tug({"logs", id, "--attempt", "1"});
  EXPECT_NE(plain.out.find("Lost executor 1"), std::string::npos);
  // The run page in the CLI names the components and the UI link.
  auto detail = server_->Tug({"get", "run", id});
  EXPECT_NE(detail.out.find("Spark UI:"), std::string::npos) << detail.out;
  EXPECT_NE(detail.out.find("executor-1"), std::string::npos) << detail.out;
}

TEST_F(SparkEngineTest, NodeLossMovesTheNextAttemptsExecutorsToOnDemand) {
  StartServer("30s", kSparkConfig);
  Apply(R"y(name: spark-spot
kind: spark
spark:
  version: "3.5"
  main: local:///opt/app/job.py
  driver: {cores: 1, memory: 1Gi}
  executor: {cores: 1, memory: 1Gi, instances: 2}
env: {TUG_SIM: "run=6;log=working"}
retry: {max_attempts: 3}
)y");
  std::string id = Submit("spark-spot");
  const std::string attempt1 = FirstAttempt(id);
  const std::string exec1 = "tug-" + attempt1 + "-exec-1";
  const std::string exec2 = "tug-" + attempt1 + "-exec-2";
  // Both executors placed before the node goes (with only the first placed, the second could
  // still land elsewhere and the job finish without a retry).
  ASSERT_TRUE(WaitFor(
      [&] {
        return world_->sim_->NodeOf(exec1) == "spot-1" && world_->sim_->NodeOf(exec2) == "spot-1";
      },
      std::chrono::seconds(60)))
      << world_->sim_->NodeOf(exec1) << " / " << world_->sim_->NodeOf(exec2);
  // The spot node goes away with both executors on it.
  ASSERT_TRUE(world_->sim_->RemoveNode("spot-1").ok());
  ASSERT_TRUE(WaitFor([&] { return GetRun(id).at("attempts").as_array().size() >= 2; },
                      std::chrono::seconds(90)))
      << json::serialize(GetRun(id));
  json::object run = GetRun(id);
  const json::array& attempts = run.at("attempts").as_array();
  EXPECT_EQ(Text(attempts[0], {"diagnosis", "class"}), "node_loss") << json::serialize(attempts[0]);
  EXPECT_EQ(Text(attempts[1], {"placement", "executor_capacity"}), "on-demand");
  const std::string attempt2(attempts[1].at("id").as_string());
  const std::string next_exec1 = "tug-" + attempt2 + "-exec-1";
  ASSERT_TRUE(
      WaitFor([&] { return !world_->sim_->NodeOf(next_exec1).empty(); }, std::chrono::seconds(60)));
  EXPECT_EQ(world_->sim_->NodeOf(next_exec1), "ondemand-1");
  auto pod = world_->client_->Get(PodPath(next_exec1));
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ(Text(*pod, {"spec", "nodeSelector", "karpenter.sh/capacity-type"}), "on-demand");
  ASSERT_TRUE(WaitStatus(id, "SUCCEEDED", std::chrono::seconds(90))) << Status(id);
  ASSERT_TRUE(world_->sim_->AddNode({"spot-1", "spot"}).ok());
}

TEST_F(SparkEngineTest, TwoVersionsRunOnTheirOwnImages) {
  StartServer("30s", kSparkConfig);
  auto def = [](const std::string& name, const std::string& version) {
    return "name: " + name + "\nkind: spark\nspark:\n  version: \"" + version +
           "\"\n  main: local:///opt/app/job.py\n  executor: {instances: 1}\n"
           "env: {TUG_SIM: \"run=0.5\"}\n";
  };
  Apply(def("v35", "3.5"));
  Apply(def("v34", "3.4"));
  std::string a = Submit("v35");
  std::string b = Submit("v34");
  ASSERT_TRUE(WaitStatus(a, "SUCCEEDED")) << Status(a);
  ASSERT_TRUE(WaitStatus(b, "SUCCEEDED")) << Status(b);
  // The images the pods ran (still there: 30 s linger).
  auto image = [&](const std::string& pod) {
    auto p = world_->client_->Get(PodPath(pod));
    return p.ok() ? Text(p->at("spec").at("containers").as_array()[0], {"image"}) : "";
  };
  EXPECT_EQ(image("tug-" + FirstAttempt(a)), "apache/spark:3.5.1");
  EXPECT_EQ(image("tug-" + FirstAttempt(a) + "-driver"), "apache/spark:3.5.1");
  EXPECT_EQ(image("tug-" + FirstAttempt(b)), "apache/spark:3.4.3");
  EXPECT_EQ(image("tug-" + FirstAttempt(b) + "-driver"), "apache/spark:3.4.3");
}

}  // namespace
}  // namespace tug::testing

TUG_KUBE_TEST_MAIN()
