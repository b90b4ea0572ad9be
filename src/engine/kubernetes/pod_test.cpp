#include "engine/kubernetes/pod.h"

#include "engine/kubernetes/log_follower.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace tug::engine::kubernetes {
namespace {
namespace json = boost::json;

// Pod objects below are shaped as kube-apiserver v1.20 returns them (trimmed of managedFields).
json::value Pod(std::string_view status_json, std::string_view extra_spec = "") {
  std::string text = R"({"kind":"Pod","apiVersion":"v1","metadata":{"name":"tug-abc-1",
    "namespace":"default","annotations":{"tugboat.io/attempt-id":"abc-1"},
    "labels":{"tugboat.io/managed":"true"}},
    "spec":{"restartPolicy":"Never","nodeName":"node-a")";
  text += extra_spec;
  text += R"(,"containers":[{"name":"main","image":"busybox"}]},"status":)";
  text += status_json;
  text += "}";
  // The literals wrap lines for reading; JSON strings cannot hold raw newlines.
  std::string flat;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n') {
      flat += text[i];
      continue;
    }
    while (i + 1 < text.size() && text[i + 1] == ' ') ++i;
    flat += ' ';
  }
  return json::parse(flat);
}

TEST(QuantityTest, BinaryUnitsWhenExact) {
  EXPECT_EQ(Quantity(int64_t{96} << 20), "96Mi");
  EXPECT_EQ(Quantity(int64_t{2} << 30), "2Gi");
  EXPECT_EQ(Quantity(1536), "1536");
  EXPECT_EQ(Quantity(3072), "3Ki");
  EXPECT_EQ(Quantity(1000), "1000");
}

TEST(PodNameTest, DnsSafeAndBounded) {
  EXPECT_EQ(PodName("01jabc-2"), "tug-01jabc-2");
  EXPECT_EQ(PodName("AB_C.d-1"), "tug-ab-c-d-1");
  EXPECT_EQ(PodName(std::string(100, 'x')).size(), 63u);
  EXPECT_EQ(LabelValue("-a b!"), "a-b");
  EXPECT_EQ(LabelValue(std::string(80, 'z')).size(), 63u);
}

TEST(BuildPodTest, SecretsAreReferencedNeverCopied) {
  LaunchSpec s;
  s.attempt_id = "01jrun-1";
  s.argv = {"true"};
  s.image = "busybox";
  s.env = {{"A", "1"}};
  s.secret_env = {{"DB", SecretEnv{"", "db-creds", "password"}}};
  EXPECT_TRUE(CheckSecretsByReference(s, "kubernetes").ok());
  json::value pod = BuildPod(s, PodSettings{});
  const json::array& env = pod.at("spec").at("containers").as_array().at(0).at("env").as_array();
  ASSERT_EQ(env.size(), 2u);
  EXPECT_EQ(env[1], json::parse(R"({"name":"DB","valueFrom":{"secretKeyRef":)"
                                R"({"name":"db-creds","key":"password"}}})"));
  s.secret_env["P"] = SecretEnv{"inline-s3cret", "", ""};
  auto refused = CheckSecretsByReference(s, "kubernetes");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), Code::kFailedPrecondition);
  EXPECT_EQ(refused.error().message().find("inline-s3cret"), std::string::npos);
  EXPECT_EQ(json::serialize(BuildPod(s, PodSettings{})).find("inline-s3cret"), std::string::npos);
}

TEST(BuildPodTest, LabelsResourcesAffinityDeadline) {
  LaunchSpec s;
  s.run_id = "01jrun";
  s.attempt_id = "01jrun-2";
  s.definition = "etl";
  s.argv = {"/bin/sh", "-c", "echo hi"};
  s.env = {{"A", "1"}};
  s.image = "python:3.11";
  s.resources.memory_bytes = int64_t{96} << 20;
  s.resources.cpu_millis = 500;
  s.timeout_seconds = 600;
  s.placement.capacity = "spot";
  s.kubernetes.service_account = "jobs";
  s.kubernetes.image_pull_policy = "IfNotPresent";
  s.kubernetes.image_pull_secrets = {"regcred"};
  s.kubernetes.tolerations = {{"dedicated", "Equal", "batch", "NoSchedule"}};
  s.kubernetes.node_selector = {{"pool", "batch"}};
  PodSettings settings;
  settings.namespace_ = "jobs";
  json::value pod = BuildPod(s, settings);
  const json::object& meta = pod.at("metadata").as_object();
  EXPECT_EQ(meta.at("name").as_string(), "tug-01jrun-2");
  EXPECT_EQ(meta.at("namespace").as_string(), "jobs");
  const json::object& labels = meta.at("labels").as_object();
  EXPECT_EQ(labels.at("tugboat.io/managed").as_string(), "true");
  EXPECT_EQ(labels.at("tugboat.io/run").as_string(), "01jrun");
  EXPECT_EQ(labels.at("tugboat.io/attempt").as_string(), "01jrun-2");
  EXPECT_EQ(labels.at("tugboat.io/definition").as_string(), "etl");
  EXPECT_EQ(labels.at("tugboat.io/component").as_string(), "main");
  const json::object& spec = pod.at("spec").as_object();
  EXPECT_EQ(spec.at("restartPolicy").as_string(), "Never");
  EXPECT_EQ(spec.at("activeDeadlineSeconds").as_int64(), 600);
  EXPECT_EQ(spec.at("serviceAccountName").as_string(), "jobs");
  EXPECT_EQ(spec.at("imagePullSecrets").as_array()[0].at("name").as_string(), "regcred");
  EXPECT_EQ(spec.at("nodeSelector").at("pool").as_string(), "batch");
  EXPECT_EQ(spec.at("tolerations").as_array()[0].at("effect").as_string(), "NoSchedule");
  const json::object& c = spec.at("containers").as_array()[0].as_object();
  EXPECT_EQ(c.at("image").as_string(), "python:3.11");
  EXPECT_EQ(c.at("imagePullPolicy").as_string(), "IfNotPresent");
  EXPECT_EQ(c.at("command").as_array().size(), 3u);
  EXPECT_EQ(c.at("env").as_array()[0].at("value").as_string(), "1");
  EXPECT_EQ(c.at("resources").at("requests").at("memory").as_string(), "96Mi");
  EXPECT_EQ(c.at("resources").at("limits").at("memory").as_string(), "96Mi");
  EXPECT_EQ(c.at("resources").at("requests").at("cpu").as_string(), "500m");
  EXPECT_FALSE(c.at("resources").at("limits").as_object().contains("cpu"));
  const json::value& expr = spec.at("affinity")
                                .at("nodeAffinity")
                                .at("requiredDuringSchedulingIgnoredDuringExecution")
                                .at("nodeSelectorTerms")
                                .as_array()[0]
                                .at("matchExpressions")
                                .as_array()[0];
  EXPECT_EQ(expr.at("key").as_string(), "karpenter.sh/capacity-type");
  EXPECT_EQ(expr.at("values").as_array()[0].as_string(), "spot");

  // EKS managed node groups: another label and upper-case values; on-demand placement.
  settings.capacity_label = "eks.amazonaws.com/capacityType";
  settings.spot_value = "SPOT";
  settings.on_demand_value = "ON_DEMAND";
  s.placement.capacity = "on-demand";
  json::value eks = BuildPod(s, settings);
  const json::value& e2 = eks.at("spec")
                              .at("affinity")
                              .at("nodeAffinity")
                              .at("requiredDuringSchedulingIgnoredDuringExecution")
                              .at("nodeSelectorTerms")
                              .as_array()[0]
                              .at("matchExpressions")
                              .as_array()[0];
  EXPECT_EQ(e2.at("key").as_string(), "eks.amazonaws.com/capacityType");
  EXPECT_EQ(e2.at("values").as_array()[0].as_string(), "ON_DEMAND");

  // No preference: no affinity.
  s.placement.capacity = "";
  EXPECT_FALSE(BuildPod(s, settings).at("spec").as_object().contains("affinity"));
}

struct OutcomeCase {
  const char* name;
  const char* status;
  PodState::Phase phase;
  AttemptStatus attempt_status;
  std::optional<int> exit_code;
  const char* reason;
  const char* message_part;
};

class OutcomeTest : public ::testing::TestWithParam<OutcomeCase> {};

TEST_P(OutcomeTest, Maps) {
  const OutcomeCase& c = GetParam();
  PodState st = ReadPod(Pod(c.status));
  EXPECT_EQ(st.phase, c.phase) << c.name;
  EXPECT_EQ(st.attempt_id, "abc-1");
  EXPECT_EQ(st.node_name, "node-a");
  if (c.phase != PodState::Phase::kEnded) return;
  EXPECT_EQ(st.status, c.attempt_status) << c.name;
  EXPECT_EQ(st.outcome.exit_code, c.exit_code) << c.name;
  EXPECT_EQ(st.outcome.reason, c.reason) << c.name;
  EXPECT_NE(st.outcome.message.find(c.message_part), std::string::npos)
      << c.name << ": " << st.outcome.message;
}

INSTANTIATE_TEST_SUITE_P(
    RealStatuses, OutcomeTest,
    ::testing::Values(
        OutcomeCase{"pending", R"({"phase":"Pending","qosClass":"Burstable"})",
                    PodState::Phase::kPending, AttemptStatus::kFailed, std::nullopt, "", ""},
        OutcomeCase{"running",
                    R"({"phase":"Running","containerStatuses":[{"name":"main","state":{"running":
                      {"startedAt":"2026-11-24T10:00:00Z"}},"ready":true,"restartCount":0,
                      "image":"busybox","imageID":""}]})",
                    PodState::Phase::kRunning, AttemptStatus::kFailed, std::nullopt, "", ""},
        OutcomeCase{"succeeded",
                    R"({"phase":"Succeeded","containerStatuses":[{"name":"main","state":
                      {"terminated":{"exitCode":0,"reason":"Completed","startedAt":
                      "2026-11-24T10:00:00Z","finishedAt":"2026-11-24T10:00:05Z"}}}]})",
                    PodState::Phase::kEnded, AttemptStatus::kSucceeded, 0, "Completed", ""},
        OutcomeCase{"oomkilled",
                    R"({"phase":"Failed","containerStatuses":[{"name":"main","state":
                      {"terminated":{"exitCode":137,"reason":"OOMKilled","startedAt":
                      "2026-11-24T10:00:00Z","finishedAt":"2026-11-24T10:00:05Z"}},
                      "lastState":{},"ready":false,"restartCount":0,"image":"busybox",
                      "imageID":""}],"qosClass":"Guaranteed"})",
                    PodState::Phase::kEnded, AttemptStatus::kFailed, 137, "OOMKilled",
                    "memory limit"},
        OutcomeCase{"error exit",
                    R"({"phase":"Failed","containerStatuses":[{"name":"main","state":
                      {"terminated":{"exitCode":3,"reason":"Error"}}}]})",
                    PodState::Phase::kEnded, AttemptStatus::kFailed, 3, "Error", "exit code 3"},
        OutcomeCase{"deadline",
                    R"({"phase":"Failed","reason":"DeadlineExceeded","message":
                      "Pod was active on the node longer than the specified deadline"})",
                    PodState::Phase::kEnded, AttemptStatus::kFailed, std::nullopt,
                    "DeadlineExceeded", "longer than the specified deadline"},
        OutcomeCase{"evicted",
                    R"({"phase":"Failed","reason":"Evicted","message":"The node was low on
                      resource: ephemeral-storage. Container main was using 12Gi, which exceeds
                      its request of 0."})",
                    PodState::Phase::kEnded, AttemptStatus::kFailed, std::nullopt, "Evicted",
                    "low on resource: ephemeral-storage"},
        OutcomeCase{"disruption",
                    R"({"phase":"Failed","conditions":[{"type":"DisruptionTarget","status":
                      "True","reason":"TerminationByKubelet","message":"Pod was terminated in
                      response to imminent node shutdown."}],"containerStatuses":[{"name":
                      "main","state":{"terminated":{"exitCode":143,"reason":"Error"}}}]})",
                    PodState::Phase::kEnded, AttemptStatus::kFailed, 143, "NodeLost",
                    "imminent node shutdown"},
        OutcomeCase{"node lost",
                    R"({"phase":"Failed","reason":"NodeLost","message":"Node node-a which was
                      running pod tug-abc-1 is unresponsive"})",
                    PodState::Phase::kEnded, AttemptStatus::kFailed, std::nullopt, "NodeLost",
                    "unresponsive"},
        OutcomeCase{"invalid image name",
                    R"({"phase":"Pending","containerStatuses":[{"name":"main","state":
                      {"waiting":{"reason":"InvalidImageName","message":"Failed to apply default
                      image tag \"Bad:Image\": couldn't parse image reference"}}}]})",
                    PodState::Phase::kEnded, AttemptStatus::kFailed, std::nullopt,
                    "InvalidImageName", "couldn't parse image reference"},
        OutcomeCase{"config error",
                    R"({"phase":"Pending","containerStatuses":[{"name":"main","state":
                      {"waiting":{"reason":"CreateContainerConfigError","message":
                      "secret \"db\" not found"}}}]})",
                    PodState::Phase::kEnded, AttemptStatus::kFailed, std::nullopt,
                    "CreateContainerConfigError", "secret \"db\" not found"},
        OutcomeCase{"image pull backoff waits",
                    R"({"phase":"Pending","containerStatuses":[{"name":"main","state":
                      {"waiting":{"reason":"ImagePullBackOff","message":"Back-off pulling
                      image \"busybox:nope\""}}}]})",
                    PodState::Phase::kPending, AttemptStatus::kFailed, std::nullopt, "", ""}),
    [](const auto& param_info) {
      std::string n = param_info.param.name;
      for (char& ch : n) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return n;
    });

TEST(BuildPodTest, SchedulerNameFromTheClusterSettings) {
  LaunchSpec s;
  s.run_id = "01jrun";
  s.attempt_id = "01jrun-1";
  s.argv = {"true"};
  s.image = "busybox";
  PodSettings settings;
  EXPECT_FALSE(BuildPod(s, settings).at("spec").as_object().contains("schedulerName"));
  settings.scheduler_name = "tugboat-binpack";
  EXPECT_EQ(BuildPod(s, settings).at("spec").at("schedulerName").as_string(), "tugboat-binpack");
}

// Issue 26: GPU pods get the device plugin's limit, the GPU node group's selector and
// tolerations, and a memory-backed /dev/shm; pods without GPUs get none of it.
TEST(BuildPodTest, GpuLimitNodeGroupAndShm) {
  LaunchSpec s;
  s.run_id = "01jrun";
  s.attempt_id = "01jrun-1";
  s.argv = {"python", "train.py"};
  s.image = "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime";
  s.resources.memory_bytes = int64_t{16} << 30;
  s.resources.cpu_millis = 4000;
  s.resources.gpu = 2;
  s.kubernetes.node_selector = {{"team", "vision"}, {"nvidia.com/gpu.product", "A100"}};
  s.kubernetes.tolerations = {{"dedicated", "Equal", "ml", "NoSchedule"}};
  PodSettings settings;
  settings.gpu_node_selector = {{"nvidia.com/gpu.present", "true"},
                                {"nvidia.com/gpu.product", "T4"}};
  settings.gpu_tolerations = {{"nvidia.com/gpu", "Exists", "", "NoSchedule"},
                              {"dedicated", "Equal", "ml", "NoSchedule"}};
  const json::value pod = BuildPod(s, settings);
  const json::value& container = pod.at("spec").at("containers").at(0);
  EXPECT_EQ(container.at("resources").at("limits").at("nvidia.com/gpu").as_string(), "2");
  EXPECT_EQ(container.at("resources").at("limits").at("memory").as_string(), "16Gi");
  EXPECT_FALSE(container.at("resources").at("requests").as_object().contains("nvidia.com/gpu"));
  EXPECT_EQ(json::serialize(container.at("volumeMounts")),
            R"([{"name":"dshm","mountPath":"/dev/shm"}])");
  EXPECT_EQ(json::serialize(pod.at("spec").at("volumes")),
            R"([{"name":"dshm","emptyDir":{"medium":"Memory","sizeLimit":"8Gi"}}])");
  // The definition's selector wins on a shared key; the group's is added.
  const json::object& sel = pod.at("spec").at("nodeSelector").as_object();
  EXPECT_EQ(sel.size(), 3u);
  EXPECT_EQ(sel.at("nvidia.com/gpu.product").as_string(), "A100");
  EXPECT_EQ(sel.at("nvidia.com/gpu.present").as_string(), "true");
  EXPECT_EQ(sel.at("team").as_string(), "vision");
  // Tolerations: the definition's, then the group's it does not already have.
  EXPECT_EQ(json::serialize(pod.at("spec").at("tolerations")),
            R"([{"operator":"Equal","key":"dedicated","value":"ml","effect":"NoSchedule"},)"
            R"({"operator":"Exists","key":"nvidia.com/gpu","effect":"NoSchedule"}])");

  s.resources.gpu = 0;
  const json::value plain = BuildPod(s, settings);
  const json::value& c0 = plain.at("spec").at("containers").at(0);
  EXPECT_FALSE(c0.at("resources").at("limits").as_object().contains("nvidia.com/gpu"));
  EXPECT_FALSE(c0.as_object().contains("volumeMounts"));
  EXPECT_FALSE(plain.at("spec").as_object().contains("volumes"));
  EXPECT_EQ(plain.at("spec").at("nodeSelector").as_object().size(), 2u);
  EXPECT_EQ(plain.at("spec").at("tolerations").as_array().size(), 1u);
}

TEST(BuildPodTest, ShmSizeRule) {
  Resources r;
  r.gpu = 1;
  r.memory_bytes = int64_t{3} << 30;
  EXPECT_EQ(ShmBytes(r), int64_t{1536} << 20);  // half the memory request
  r.memory_bytes = (int64_t{1} << 30) + 12345;
  EXPECT_EQ(ShmBytes(r), int64_t{512} << 20);  // rounded down to a MiB
  r.memory_bytes = 0;
  r.gpu = 3;
  EXPECT_EQ(ShmBytes(r), int64_t{3} << 30);  // no memory request: 1Gi per GPU
  LaunchSpec s;
  s.attempt_id = "a-1";
  s.argv = {"true"};
  s.resources.gpu = 1;
  EXPECT_EQ(BuildPod(s, PodSettings{})
                .at("spec")
                .at("volumes")
                .at(0)
                .at("emptyDir")
                .at("sizeLimit")
                .as_string(),
            "1Gi");
}

TEST(ReadPodTest, PodNoSchedulerHasLookedAtIsUnassigned) {
  // A pod as the API server has it before any scheduler acts: no node, no PodScheduled
  // condition.
  auto pending = [](const std::string& scheduler, const std::string& conditions) {
    return json::parse(R"({"kind":"Pod","apiVersion":"v1","metadata":{"name":"tug-abc-1",)"
                       R"("annotations":{"tugboat.io/attempt-id":"abc-1"}},"spec":{)"
                       R"("restartPolicy":"Never","schedulerName":")" +
                       scheduler +
                       R"(","containers":[{"name":"main","image":"busybox"}]},)"
                       R"("status":{"phase":"Pending","qosClass":"Burstable")" +
                       conditions + "}}");
  };
  PodState st = ReadPod(pending("tugboat-binpack", ""));
  EXPECT_EQ(st.phase, PodState::Phase::kPending);
  EXPECT_EQ(st.unassigned_scheduler, "tugboat-binpack");
  EXPECT_TRUE(st.waiting_reason.empty());
  // The default scheduler's pods, and pods their scheduler has answered for, are not.
  EXPECT_EQ(ReadPod(pending("default-scheduler", "")).unassigned_scheduler, "");
  PodState refused = ReadPod(pending(
      "tugboat-binpack", R"(,"conditions":[{"type":"PodScheduled","status":"False",)"
                         R"("reason":"Unschedulable","message":"0/3 nodes are available"}])"));
  EXPECT_EQ(refused.unassigned_scheduler, "");
  EXPECT_EQ(refused.waiting_reason, "Unschedulable");
}

TEST(ReadPodTest, UnschedulableIsAWaitWithTheSchedulersMessage) {
  PodState st = ReadPod(Pod(R"({"phase":"Pending","conditions":[{"type":"PodScheduled",
      "status":"False","reason":"Unschedulable","message":"0/3 nodes are available: 3 Insufficient memory."}]})"));
  EXPECT_EQ(st.phase, PodState::Phase::kPending);
  EXPECT_EQ(st.waiting_reason, "Unschedulable");
  EXPECT_NE(st.waiting_message.find("Insufficient memory"), std::string::npos);
  EXPECT_FALSE(st.waiting_fatal);
}

TEST(ReadPodTest, ImagePullWaitCarriesTheRegistryMessage) {
  PodState st = ReadPod(Pod(R"({"phase":"Pending","containerStatuses":[{"name":"main","state":
      {"waiting":{"reason":"ErrImagePull","message":"rpc error: manifest unknown"}}}]})"));
  EXPECT_EQ(st.waiting_reason, "ErrImagePull");
  EXPECT_EQ(st.waiting_message, "rpc error: manifest unknown");
}

// EMR on EKS's driver pod: the Spark container beside a fluentd sidecar. The kubelet lists
// container statuses by name, so the sidecar comes first; the named container's end counts
// even while the sidecar keeps the pod Running.
TEST(ReadPodTest, TheNamedContainerCountsBesideASidecar) {
  json::value pod = Pod(R"({"phase":"Running","containerStatuses":[
    {"name":"emr-container-fluentd","state":{"running":{"startedAt":"2026-12-07T10:00:00Z"}}},
    {"name":"spark-kubernetes-driver","state":{"terminated":{"exitCode":137,
      "reason":"OOMKilled","startedAt":"2026-12-07T10:00:01Z",
      "finishedAt":"2026-12-07T10:00:09Z"}}}]})");
  PodState driver = ReadPod(pod, "spark-kubernetes-driver");
  EXPECT_EQ(driver.phase, PodState::Phase::kEnded);
  EXPECT_EQ(driver.outcome.reason, "OOMKilled");
  EXPECT_EQ(driver.outcome.exit_code, 137);
  EXPECT_EQ(driver.ended_at, ParseTime("2026-12-07T10:00:09Z"));
  // Without the name the first status (the sidecar, running) is read, as before.
  EXPECT_EQ(ReadPod(pod).phase, PodState::Phase::kRunning);
  json::value done = Pod(R"({"phase":"Running","containerStatuses":[
    {"name":"emr-container-fluentd","state":{"running":{}}},
    {"name":"spark-kubernetes-driver","state":{"terminated":{"exitCode":0,
      "reason":"Completed"}}}]})");
  EXPECT_EQ(ReadPod(done, "spark-kubernetes-driver").status, AttemptStatus::kSucceeded);
}

TEST(EventTimeTest, LastTimestampThenEventTimeThenFirst) {
  EXPECT_EQ(EventTime(json::parse(R"({"firstTimestamp":"2026-12-07T10:00:00Z",
    "lastTimestamp":"2026-12-07T10:00:05Z"})")),
            ParseTime("2026-12-07T10:00:05Z"));
  EXPECT_EQ(EventTime(json::parse(R"({"eventTime":"2026-12-07T10:00:01.500000Z"})")),
            ParseTime("2026-12-07T10:00:01.5Z"));
  EXPECT_EQ(EventTime(json::parse(R"({"lastTimestamp":null})")), 0);
}

TEST(LogFollowerTest, SplitsChunksAndNeverDuplicatesAfterAResume) {
  LogFollower f;
  std::string out;
  f.Consume("2026-11-24T10:00:00.100000000Z first\n2026-11-24T10:00:00.2", out);
  f.Consume("00000000Z second\n", out);
  EXPECT_EQ(out,
            "2026-11-24T10:00:00.100000Z stdout first\n2026-11-24T10:00:00.200000Z stdout "
            "second\n");
  // A resume asks from the whole second again: what was written is dropped.
  EXPECT_NE(f.Query(true).find("sinceTime=2026-11-24T10%3A00%3A00"), std::string::npos)
      << f.Query(true);
  out.clear();
  f.Consume(
      "2026-11-24T10:00:00.100000000Z first\n2026-11-24T10:00:00.200000000Z second\n"
      "2026-11-24T10:00:01.000000000Z third\n",
      out);
  EXPECT_EQ(out, "2026-11-24T10:00:01.000000Z stdout third\n");
}

TEST(ParseTimeTest, SecondsAndFractions) {
  EXPECT_EQ(ParseTime("1970-01-01T00:00:01Z"), kMicrosPerSecond);
  EXPECT_EQ(ParseTime("1970-01-01T00:00:01.5Z"), kMicrosPerSecond * 3 / 2);
  EXPECT_EQ(ParseTime("1970-01-01T00:00:01.123456789Z"), kMicrosPerSecond + 123456);
  EXPECT_EQ(ParseTime("garbage"), 0);
}

}  // namespace
}  // namespace tug::engine::kubernetes
