// End to end on Kubernetes: a real `tug server` with the kubernetes engine against a real
// kube-apiserver (etcd + kube-apiserver v1.20, see scripts/kube-testenv) whose kubelet and
// scheduler are played by the node simulator (tests/kube_sim.h).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "kube_fixture.h"

namespace json = boost::json;

namespace tug::testing {
namespace {

using KubeEngineTest = KubeServerTest;

TEST_F(KubeEngineTest, PodSpecAndOomRetriedWithMoreMemory) {
  Apply(R"y(name: kube-oom
engine: kubernetes
image: busybox:1.36
command: ["/bin/sh", "-c", "allocate 120Mi"]
env: {TUG_SIM: "oom_below=120Mi;log=allocating 120Mi;run=0.3"}
resources: {memory: 64Mi, cpu: 250m}
timeout: 10m
retry: {max_attempts: 4}
kubernetes: {service_account: default, image_pull_policy: IfNotPresent}
)y");
  std::string id = Submit("kube-oom");
  ASSERT_TRUE(WaitStatus(id, "SUCCEEDED", std::chrono::seconds(120))) << Status(id);
  json::object run = GetRun(id);
  const json::array& attempts = run.at("attempts").as_array();
  ASSERT_EQ(attempts.size(), 3u) << json::serialize(run);  // 64Mi, 96Mi, 144Mi
  const json::value& first = attempts[0];
  EXPECT_EQ(Text(first, {"outcome", "reason"}), "OOMKilled");
  EXPECT_EQ(Text(first, {"outcome", "exit_code"}), "137");
  EXPECT_EQ(Text(first, {"diagnosis", "class"}), "batch_container_oom");
  EXPECT_EQ(Text(first, {"engine"}), "kubernetes:sim");
  EXPECT_NE(Text(first, {"decision", "sentence"}).find("64Mi → 96Mi"), std::string::npos)
      << Text(first, {"decision", "sentence"});
  EXPECT_EQ(attempts[1].at("resources").at("memory").as_int64(), 96LL << 20);
  EXPECT_EQ(Text(attempts[2], {"outcome", "exit_code"}), "0");

  // The pods (kept by pod_linger) carry what the attempts asked for.
  std::string a1(first.at("id").as_string());
  std::string a2(attempts[1].at("id").as_string());
  auto p1 = Pod(a1);
  ASSERT_TRUE(p1.ok()) << p1.error().ToString();
  const json::value& labels = p1->at("metadata").at("labels");
  EXPECT_EQ(labels.at("tugboat.io/managed"), "true");
  EXPECT_EQ(labels.at("tugboat.io/run"), json::value(id));
  EXPECT_EQ(labels.at("tugboat.io/attempt"), json::value(a1));
  EXPECT_EQ(labels.at("tugboat.io/definition"), "kube-oom");
  EXPECT_EQ(labels.at("tugboat.io/component"), "main");
  const json::value& spec = p1->at("spec");
  EXPECT_EQ(spec.at("restartPolicy"), "Never");
  EXPECT_EQ(spec.at("activeDeadlineSeconds").as_int64(), 600);
  EXPECT_EQ(spec.at("serviceAccountName"), "default");
  const json::value& c = spec.at("containers").as_array()[0];
  EXPECT_EQ(c.at("image"), "busybox:1.36");
  EXPECT_EQ(c.at("imagePullPolicy"), "IfNotPresent");
  EXPECT_EQ(Text(c, {"resources", "limits", "memory"}), "64Mi");
  EXPECT_EQ(Text(c, {"resources", "requests", "memory"}), "64Mi");
  EXPECT_EQ(Text(c, {"resources", "requests", "cpu"}), "250m");
  std::string affinity = Text(spec, {"affinity"});
  EXPECT_NE(affinity.find("karpenter.sh/capacity-type"), std::string::npos) << affinity;
  EXPECT_NE(affinity.find("\"spot\""), std::string::npos) << affinity;
  EXPECT_EQ(world_->sim_->NodeOf("tug-" + a1), "spot-1");
  auto p2 = Pod(a2);
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(Text(p2->at("spec").at("containers").as_array()[0], {"resources", "limits", "memory"}),
            "96Mi");

  // `tug get run` shows the attempts with their placement and decisions.
  auto shown = server_->Tug({"get", "run", id});
  EXPECT_NE(shown.out.find("memory 64Mi → 96Mi"), std::string::npos) << shown.out;
}

TEST_F(KubeEngineTest, LogsAndEventsReadableAfterThePodIsGone) {
  TearDown();
  StartServer("0s");  // delete pods as soon as their end is stored
  Apply(R"y(name: kube-hello
engine: kubernetes
image: busybox:1.36
command: ["/bin/echo", "hello"]
env: {TUG_SIM: "log=hello from the pod;log=second line;log_every=0.2;log_count=5;run=1.5"}
resources: {memory: 32Mi}
)y");
  std::string id = Submit("kube-hello");
  ASSERT_TRUE(WaitStatus(id, "SUCCEEDED")) << Status(id);
  std::string attempt = FirstAttempt(id);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto p = Pod(attempt);
        return !p.ok() && p.error().code() == Code::kNotFound;
      },
      std::chrono::seconds(30)))
      << "the finished pod was not deleted";
  auto logs = server_->Tug({"logs", id});
  ASSERT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_NE(logs.out.find("hello from the pod\nsecond line\n"), std::string::npos) << logs.out;
  for (int i = 0; i < 5; ++i) {
    EXPECT_NE(logs.out.find("tick " + std::to_string(i)), std::string::npos) << logs.out;
  }
  // Each line once: the follow stream and the final read do not duplicate.
  EXPECT_EQ(logs.out.find("second line"), logs.out.rfind("second line")) << logs.out;
  auto events = server_->Tug({"events", id});
  ASSERT_EQ(events.exit_code, 0) << events.err;
  EXPECT_NE(events.out.find("Scheduled"), std::string::npos) << events.out;
  EXPECT_NE(events.out.find("Started"), std::string::npos) << events.out;
  // The events counter is exported.
  auto metrics = RunCommand({"curl", "-s", server_->url() + "/metrics"});
  EXPECT_NE(metrics.out.find("tug_kube_events_seen_total{engine=\"kubernetes:sim\"}"),
            std::string::npos)
      << metrics.out;
}

TEST_F(KubeEngineTest, ApiServerRestartMidRunMissesNoEnd) {
  Apply(R"y(name: kube-long
engine: kubernetes
image: busybox:1.36
command: ["/bin/sleep", "6"]
env: {TUG_SIM: "log=working;run=6;exit=3"}
resources: {memory: 32Mi}
retry: {max_attempts: 1}
)y");
  std::string id = Submit("kube-long");
  ASSERT_TRUE(WaitStatus(id, "RUNNING")) << Status(id);
  ASSERT_TRUE(world_->env_->StopApiserver().ok());
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ASSERT_TRUE(world_->env_->StartApiserver().ok());
  // The pod ended (exit 3) around the time the server came back: the watch resumes or relists
  // and the end is recorded.
  ASSERT_TRUE(WaitStatus(id, "FAILED", std::chrono::seconds(120))) << Status(id);
  json::object run = GetRun(id);
  const json::value& a = run.at("attempts").as_array()[0];
  EXPECT_EQ(Text(a, {"outcome", "exit_code"}), "3");
  EXPECT_EQ(Text(a, {"outcome", "reason"}), "Error");
}

TEST_F(KubeEngineTest, ServerRestartReattachesToItsPod) {
  // The pod runs until the test creates `done`, after the restarted server re-attached: the
  // test never guesses how long a kill and a restart take on a loaded machine.
  const std::string done = dir_.path() + "/done";
  Apply(R"y(name: kube-adopt
engine: kubernetes
image: busybox:1.36
command: ["/bin/sleep", "5"]
env: {TUG_SIM: "log=before the restart;until=)y" +
        done + R"y("}
resources: {memory: 32Mi}
)y");
  std::string id = Submit("kube-adopt");
  ASSERT_TRUE(WaitStatus(id, "RUNNING")) << Status(id);
  std::string attempt = FirstAttempt(id);
  server_->Kill();
  std::string error;
  ASSERT_TRUE(server_->Start(&error)) << error;
  ASSERT_TRUE(WaitFor([&] {
    return server_->Tug({"events", id}).out.find("re-attached") != std::string::npos;
  })) << server_->Tug({"events", id}).out;
  dir_.Write("done", "");
  ASSERT_TRUE(WaitStatus(id, "SUCCEEDED")) << Status(id);
  json::object run = GetRun(id);
  EXPECT_EQ(run.at("attempts").as_array().size(), 1u);  // re-attached, not relaunched
  EXPECT_EQ(world_->sim_->Bindings("tug-" + attempt), 1);
  auto events = server_->Tug({"events", id});
  EXPECT_NE(events.out.find("re-attached"), std::string::npos) << events.out;
  auto logs = server_->Tug({"logs", id});
  EXPECT_NE(logs.out.find("before the restart"), std::string::npos) << logs.out;
}

TEST_F(KubeEngineTest, PodTheApiServerRefusesIsAConfigErrorNotRetried) {
  // kube-apiserver rejects an image name with surrounding whitespace (422 Invalid).
  Apply(R"y(name: kube-bad-image
engine: kubernetes
image: "busybox:1.36 "
command: ["/bin/true"]
resources: {memory: 32Mi}
retry: {max_attempts: 3, max_infra_retries: 3}
)y");
  std::string id = Submit("kube-bad-image");
  ASSERT_TRUE(WaitStatus(id, "FAILED")) << Status(id);
  json::object run = GetRun(id);
  const json::array& attempts = run.at("attempts").as_array();
  ASSERT_EQ(attempts.size(), 1u) << json::serialize(run);
  EXPECT_EQ(Text(attempts[0], {"outcome", "reason"}), "InvalidSpec");
  std::string message = Text(attempts[0], {"outcome", "message"});
  EXPECT_NE(message.find("refused the pod"), std::string::npos) << message;
  EXPECT_NE(message.find("spec.containers[0].image"), std::string::npos) << message;
  EXPECT_EQ(Text(attempts[0], {"diagnosis", "class"}), "config_error");
  EXPECT_NE(Text(attempts[0], {"decision", "sentence"}).find("not retried"), std::string::npos);
}

// kubernetes.scheduler_name reaches every job pod's spec.schedulerName. Here no scheduler serves
// that name (the simulator plays only the default scheduler, like a cluster without the chart's
// second scheduler): the pod is never looked at, and the attempt ends as Unschedulable after the
// cluster's pending_timeout with a message that names the scheduler, instead of waiting forever.
TEST_F(KubeEngineTest, SchedulerNameFromConfigAndAPodNoSchedulerTakes) {
  TearDown();
  // The indented line continues the cluster entry; the last one is top-level.
  StartServer("30s", "    pending_timeout: 3s\nkubernetes: {scheduler_name: tugboat-binpack}\n");
  Apply(R"y(name: kube-binpack
engine: kubernetes
image: busybox:1.36
command: ["/bin/true"]
resources: {memory: 32Mi}
retry: {max_attempts: 1, max_infra_retries: 0}
)y");
  std::string id = Submit("kube-binpack");
  std::string attempt;
  ASSERT_TRUE(WaitFor([&] {
    json::object run = GetRun(id);
    const json::value* a = run.if_contains("attempts");
    if (a == nullptr || !a->is_array() || a->as_array().empty()) return false;
    attempt = Text(a->as_array()[0], {"id"});
    return Pod(attempt).ok();
  })) << Status(id);
  auto pod = Pod(attempt);
  ASSERT_TRUE(pod.ok());
  EXPECT_EQ(Text(*pod, {"spec", "schedulerName"}), "tugboat-binpack");
  EXPECT_EQ(Text(*pod, {"spec", "nodeName"}), "");
  ASSERT_TRUE(WaitStatus(id, "FAILED")) << Status(id);
  json::object run = GetRun(id);
  const json::value& first = run.at("attempts").as_array()[0];
  EXPECT_EQ(Text(first, {"outcome", "reason"}), "Unschedulable");
  std::string message = Text(first, {"outcome", "message"});
  EXPECT_NE(message.find("names the scheduler 'tugboat-binpack'; is that scheduler running?"),
            std::string::npos)
      << message;
}

TEST_F(KubeEngineTest, NodeLossRetriesOnOnDemand) {
  ASSERT_TRUE(world_->sim_->AddNode({"spot-2", "spot"}).ok());
  Apply(R"y(name: kube-spot
engine: kubernetes
image: busybox:1.36
command: ["/bin/sleep", "30"]
env: {TUG_SIM: "run=30"}
resources: {memory: 32Mi}
)y");
  std::string id = Submit("kube-spot");
  ASSERT_TRUE(WaitStatus(id, "RUNNING")) << Status(id);
  std::string attempt = FirstAttempt(id);
  std::string node = world_->sim_->NodeOf("tug-" + attempt);
  ASSERT_FALSE(node.empty());
  ASSERT_TRUE(world_->sim_->RemoveNode(node).ok());
  ASSERT_TRUE(WaitFor([&] { return GetRun(id).at("attempts").as_array().size() >= 2; },
                      std::chrono::seconds(60)));
  json::object run = GetRun(id);
  const json::array& attempts = run.at("attempts").as_array();
  EXPECT_EQ(Text(attempts[0], {"outcome", "reason"}), "NodeLost");
  EXPECT_EQ(Text(attempts[0], {"diagnosis", "class"}), "node_loss");
  EXPECT_EQ(Text(attempts[1], {"placement", "capacity"}), "on-demand");
  std::string second(attempts[1].at("id").as_string());
  ASSERT_TRUE(WaitFor([&] { return !world_->sim_->NodeOf("tug-" + second).empty(); }));
  EXPECT_EQ(world_->sim_->NodeOf("tug-" + second), "ondemand-1");
  (void)server_->Tug({"stop", id});
}

}  // namespace
}  // namespace tug::testing

TUG_KUBE_TEST_MAIN()
