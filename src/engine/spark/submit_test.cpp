// Golden tests of the spark-submit command line per Spark version, placement and planner
// decision. TUG_UPDATE_GOLDEN=1 rewrites the files under testdata/ (review the diff).
#include "engine/spark/submit.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "adapt/adapt.h"
#include "core/quantity.h"

namespace tug::engine::spark {
namespace {

constexpr int64_t kMi = int64_t{1} << 20;
constexpr int64_t kGi = int64_t{1} << 30;

SparkSettings Settings() {
  SparkSettings s;
  s.images = {{"3.2", "apache/spark:3.2.4"},
              {"3.5.1", "apache/spark:3.5.1"},
              {"3.5.0", "apache/spark:3.5.0"},
              {"3.4", "apache/spark:3.4.3"}};
  s.event_log_dir = "s3a://logs/spark-events";
  s.history_url = "http://history:18080";
  s.submit_service_account = "tugboat-spark-submit";
  s.driver_service_account = "spark";
  return s;
}

kubernetes::PodSettings Pods() {
  kubernetes::PodSettings p;
  p.namespace_ = "jobs";
  return p;
}

// The example definition: pi on 3.5, driver 1 core / 2Gi, executors 2 cores / 4Gi,
// 3 instances growing up to 20.
LaunchSpec Pi(const std::string& version) {
  LaunchSpec s;
  s.run_id = "01JRUN";
  s.attempt_id = "01JRUN-1";
  s.attempt_number = 1;
  s.definition = "pi";
  s.kind = "spark";
  s.spark.version = version;
  s.spark.main = "local:///opt/spark/examples/src/main/python/pi.py";
  s.spark.args = {"1000"};
  s.spark.conf = {{"spark.sql.shuffle.partitions", "64"}};
  s.resources.spark.driver = {1000, 2 * kGi, 0};
  s.resources.spark.executor = {2000, 4 * kGi, 0};
  s.resources.spark.instances = 3;
  s.resources.spark.max_executors = 20;
  s.placement = {"on-demand", "spot"};
  s.env = {{"TEAM", "forecasting"}};
  return s;
}

std::string Render(const Submission& sub) {
  std::string out;
  for (const auto& a : sub.argv) out += a + "\n";
  return out;
}

void ExpectGolden(const std::string& name, const std::string& got) {
  const char* src = std::getenv("TUG_SOURCE_DIR");
  ASSERT_NE(src, nullptr) << "TUG_SOURCE_DIR is set by tug_add_test";
  std::string path = std::string(src) + "/src/engine/spark/testdata/" + name + ".golden";
  if (const char* up = std::getenv("TUG_UPDATE_GOLDEN"); up != nullptr && std::string(up) == "1") {
    std::ofstream(path) << got;
  }
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << "missing " << path << "; run with TUG_UPDATE_GOLDEN=1";
  std::stringstream want;
  want << in.rdbuf();
  EXPECT_EQ(got, want.str()) << "golden " << path << " differs; if intended, TUG_UPDATE_GOLDEN=1";
}

TEST(SparkSubmitGolden, Pi35ExecutorsOnSpotWithDynamicAllocation) {
  auto sub = BuildSubmission(Pi("3.5"), Pods(), Settings());
  ASSERT_TRUE(sub.ok()) << sub.error().ToString();
  ExpectGolden("pi-3.5-spot", Render(*sub));
  // The newest 3.5.x image when "3.5" itself is not configured.
  EXPECT_EQ(sub->image, "apache/spark:3.5.1");
}

TEST(SparkSubmitGolden, Pi34OnDemandFixedExecutors) {
  LaunchSpec s = Pi("3.4");
  s.resources.spark.max_executors = 0;
  s.placement = {"on-demand", "on-demand"};
  s.spark.main = "local:///opt/app/etl.jar";
  s.spark.main_class = "com.example.Etl";
  s.spark.jars = {"s3a://libs/a.jar", "s3a://libs/b.jar"};
  s.resources.spark.executor.memory_overhead_bytes = 1536 * kMi;
  s.resources.spark.max_result_size_bytes = 2 * kGi;
  s.kubernetes.image_pull_policy = "Always";
  s.kubernetes.image_pull_secrets = {"registry"};
  auto sub = BuildSubmission(s, Pods(), Settings());
  ASSERT_TRUE(sub.ok()) << sub.error().ToString();
  ExpectGolden("etl-3.4-on-demand", Render(*sub));
}

TEST(SparkSubmitGolden, Spark32HasNoRoleSelectorsSoEverythingGoesOnDemand) {
  auto sub = BuildSubmission(Pi("3.2"), Pods(), Settings());
  ASSERT_TRUE(sub.ok()) << sub.error().ToString();
  ExpectGolden("pi-3.2", Render(*sub));
  EXPECT_EQ(sub->conf.count("spark.kubernetes.executor.node.selector.karpenter.sh/capacity-type"),
            0u);
  EXPECT_EQ(sub->conf.at("spark.kubernetes.node.selector.karpenter.sh/capacity-type"), "on-demand");
  EXPECT_EQ(sub->conf.count("spark.decommission.enabled"), 0u);
  EXPECT_EQ(sub->executor_preview.at("capacity").as_string(), "on-demand");
}

TEST(SparkSubmit, ControllerPodRunsSparkSubmitOnDemand) {
  auto sub = BuildSubmission(Pi("3.5"), Pods(), Settings());
  ASSERT_TRUE(sub.ok());
  const auto& pod = sub->controller_pod.as_object();
  EXPECT_EQ(pod.at("metadata").at("name").as_string(), "tug-01jrun-1");
  EXPECT_EQ(pod.at("metadata").at("labels").at("tugboat.io/component").as_string(), "controller");
  EXPECT_EQ(pod.at("metadata").at("namespace").as_string(), "jobs");
  const auto& spec = pod.at("spec").as_object();
  EXPECT_EQ(spec.at("serviceAccountName").as_string(), "tugboat-spark-submit");
  const auto& c = spec.at("containers").as_array()[0].as_object();
  EXPECT_EQ(c.at("name").as_string(), "spark-submit");
  EXPECT_EQ(c.at("image").as_string(), "apache/spark:3.5.1");
  EXPECT_EQ(c.at("command").as_array()[0].as_string(), "/opt/spark/bin/spark-submit");
  EXPECT_EQ(c.at("command").as_array().size(), sub->argv.size());
  EXPECT_EQ(c.at("resources").at("limits").at("memory").as_string(), "1Gi");
  std::string affinity = boost::json::serialize(spec.at("affinity"));
  EXPECT_NE(affinity.find("\"on-demand\""), std::string::npos) << affinity;
  // Driver and executors: our labels, the attempt annotation, the placement.
  EXPECT_EQ(sub->conf.at("spark.kubernetes.driver.label.tugboat.io/attempt"), "01JRUN-1");
  EXPECT_EQ(sub->conf.at("spark.kubernetes.executor.label.tugboat.io/component"), "executor");
  EXPECT_EQ(sub->conf.at("spark.kubernetes.driver.annotation.tugboat.io/attempt-id"), "01JRUN-1");
  EXPECT_EQ(sub->conf.at("spark.kubernetes.driver.node.selector.karpenter.sh/capacity-type"),
            "on-demand");
  EXPECT_EQ(sub->conf.at("spark.kubernetes.executor.node.selector.karpenter.sh/capacity-type"),
            "spot");
  EXPECT_EQ(sub->conf.at("spark.decommission.enabled"), "true");
  EXPECT_EQ(sub->conf.at("spark.ui.proxyBase"), "/runs/01JRUN/spark-ui");
  EXPECT_EQ(sub->conf.at("spark.eventLog.dir"), "s3a://logs/spark-events");
  EXPECT_EQ(sub->conf.at("spark.kubernetes.driverEnv.TEAM"), "forecasting");
  EXPECT_EQ(sub->conf.at("spark.executorEnv.TEAM"), "forecasting");
  EXPECT_EQ(sub->driver_preview.at("memory_limit").as_string(), "2432Mi");    // 2Gi + 384Mi
  EXPECT_EQ(sub->executor_preview.at("memory_limit").as_string(), "4505Mi");  // +10 %, rounded
}

// GPUs per executor: Spark's resource-scheduling confs, the GPU node group through an executor
// pod template that the controller writes from its environment (no shell interpolation of
// anything but that variable), previews that show it, and a driver without GPUs.
TEST(SparkSubmit, GpuExecutorsGetResourceConfsAndTheGpuNodeGroup) {
  LaunchSpec spec = Pi("3.5");
  spec.resources.gpu = 2;
  spec.resources.spark.executor.cpu_millis = 4000;
  spec.placement = {"on-demand", "on-demand"};
  kubernetes::PodSettings pods = Pods();
  pods.gpu_node_selector = {{"nvidia.com/gpu.present", "true"}};
  pods.gpu_tolerations = {Toleration{"nvidia.com/gpu", "Exists", "", "NoSchedule"}};
  auto sub = BuildSubmission(spec, pods, Settings());
  ASSERT_TRUE(sub.ok()) << sub.error().message();
  const auto& c = sub->conf;
  EXPECT_EQ(c.at("spark.executor.resource.gpu.amount"), "2");
  EXPECT_EQ(c.at("spark.executor.resource.gpu.vendor"), "nvidia.com");
  EXPECT_EQ(c.at("spark.executor.resource.gpu.discoveryScript"),
            "/opt/spark/examples/src/main/scripts/getGpusResources.sh");
  EXPECT_EQ(c.at("spark.task.resource.gpu.amount"), "0.5");  // 4 task slots share 2 GPUs
  EXPECT_EQ(c.count("spark.driver.resource.gpu.amount"), 0u);
  EXPECT_EQ(c.at("spark.kubernetes.executor.podTemplateFile"), kExecutorTemplatePath);
  EXPECT_EQ(c.at("spark.kubernetes.executor.node.selector.karpenter.sh/capacity-type"),
            "on-demand");
  // The controller writes the template, then execs the unchanged spark-submit argv.
  const auto& ctl = sub->controller_pod.at("spec").at("containers").as_array()[0].as_object();
  const auto& cmd = ctl.at("command").as_array();
  ASSERT_EQ(cmd.size(), sub->argv.size() + 4);
  EXPECT_EQ(cmd[0].as_string(), "/bin/sh");
  EXPECT_EQ(cmd[1].as_string(), "-c");
  EXPECT_EQ(cmd[2].as_string(),
            "printf '%s' \"$TUG_EXECUTOR_POD_TEMPLATE\" > /tmp/tug-executor-pod.json && exec "
            "\"$@\"");
  for (size_t i = 0; i < sub->argv.size(); ++i) EXPECT_EQ(cmd[i + 4].as_string(), sub->argv[i]);
  std::string tpl;
  for (const auto& e : ctl.at("env").as_array()) {
    if (e.at("name").as_string() == kExecutorTemplateEnv) tpl = e.at("value").as_string().c_str();
  }
  boost::json::value t = boost::json::parse(tpl);
  EXPECT_EQ(t.at("kind").as_string(), "Pod");
  EXPECT_EQ(t.at("spec").at("nodeSelector").at("nvidia.com/gpu.present").as_string(), "true");
  EXPECT_EQ(t.at("spec").at("tolerations").as_array()[0].at("key").as_string(), "nvidia.com/gpu");
  EXPECT_EQ(t.at("spec").at("tolerations").as_array()[0].at("effect").as_string(), "NoSchedule");
  // The controller itself is no GPU pod.
  EXPECT_EQ(ctl.at("resources").at("limits").as_object().count("nvidia.com/gpu"), 0u);
  EXPECT_EQ(sub->executor_preview.at("gpu").as_int64(), 2);
  EXPECT_EQ(sub->executor_preview.at("node_selector").at("nvidia.com/gpu.present").as_string(),
            "true");
  EXPECT_EQ(sub->executor_preview.at("tolerations").as_array().size(), 1u);
  EXPECT_EQ(sub->driver_preview.as_object().count("gpu"), 0u);

  // A definition's own discovery script and task share win; no GPU node group: no template.
  spec.spark.conf["spark.task.resource.gpu.amount"] = "1";
  spec.spark.conf["spark.executor.resource.gpu.discoveryScript"] = "/opt/gpus.sh";
  auto own = BuildSubmission(spec, Pods(), Settings());
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->conf.at("spark.task.resource.gpu.amount"), "1");
  EXPECT_EQ(own->conf.at("spark.executor.resource.gpu.discoveryScript"), "/opt/gpus.sh");
  EXPECT_EQ(own->conf.count("spark.kubernetes.executor.podTemplateFile"), 0u);
  EXPECT_EQ(own->controller_pod.at("spec").at("containers").as_array()[0].at("command").as_array()
                .size(),
            own->argv.size());

  // Without GPUs nothing of this is there.
  auto none = BuildSubmission(Pi("3.5"), pods, Settings());
  ASSERT_TRUE(none.ok());
  for (const auto& [k, v] : none->conf) EXPECT_EQ(k.find("resource.gpu"), std::string::npos) << k;
  EXPECT_EQ(none->conf.count("spark.kubernetes.executor.podTemplateFile"), 0u);
}

TEST(SparkSubmit, TaskGpuAmountSharesAnExecutorsGpusAmongItsCores) {
  struct Case {
    int64_t gpu, millis;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{{1, 0, "1"},
                                         {1, 1000, "1"},
                                         {1, 4000, "0.25"},
                                         {1, 2500, "0.3333333333333333"},  // 3 cores
                                         {2, 4000, "0.5"},
                                         {3, 4000, "0.5"},
                                         {4, 2000, "2"},
                                         {8, 3000, "2"}}) {
    EXPECT_EQ(TaskGpuAmount(c.gpu, c.millis), c.want) << c.gpu << " GPUs, " << c.millis << "m";
  }
}

TEST(SparkSubmit, EksCapacityLabelValues) {
  kubernetes::PodSettings pods = Pods();
  pods.capacity_label = "eks.amazonaws.com/capacityType";
  pods.spot_value = "SPOT";
  pods.on_demand_value = "ON_DEMAND";
  auto sub = BuildSubmission(Pi("3.5"), pods, Settings());
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(sub->conf.at("spark.kubernetes.driver.node.selector.eks.amazonaws.com/capacityType"),
            "ON_DEMAND");
  EXPECT_EQ(sub->conf.at("spark.kubernetes.executor.node.selector.eks.amazonaws.com/capacityType"),
            "SPOT");
}

TEST(SparkSubmit, SchedulerNameForEveryPodFromSpark33) {
  kubernetes::PodSettings pods = Pods();
  pods.scheduler_name = "tugboat-binpack";
  auto sub = BuildSubmission(Pi("3.5"), pods, Settings());
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(sub->controller_pod.at("spec").at("schedulerName").as_string(), "tugboat-binpack");
  EXPECT_EQ(sub->conf.at("spark.kubernetes.scheduler.name"), "tugboat-binpack");
  // Spark 3.2 has no such conf: its driver and executors stay with the default scheduler.
  auto old = BuildSubmission(Pi("3.2"), pods, Settings());
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->conf.count("spark.kubernetes.scheduler.name"), 0u);
  EXPECT_EQ(old->controller_pod.at("spec").at("schedulerName").as_string(), "tugboat-binpack");
  // A definition's own conf wins; without a scheduler name nothing is set.
  LaunchSpec own = Pi("3.5");
  own.spark.conf["spark.kubernetes.scheduler.name"] = "volcano";
  EXPECT_EQ(BuildSubmission(own, pods, Settings())->conf.at("spark.kubernetes.scheduler.name"),
            "volcano");
  auto plain = BuildSubmission(Pi("3.5"), Pods(), Settings());
  EXPECT_EQ(plain->conf.count("spark.kubernetes.scheduler.name"), 0u);
  EXPECT_FALSE(plain->controller_pod.at("spec").as_object().contains("schedulerName"));
}

TEST(SparkSubmit, TwoVersionsGetTheirOwnImages) {
  auto a = BuildSubmission(Pi("3.4"), Pods(), Settings());
  auto b = BuildSubmission(Pi("3.5"), Pods(), Settings());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->conf.at("spark.kubernetes.container.image"), "apache/spark:3.4.3");
  EXPECT_EQ(b->conf.at("spark.kubernetes.container.image"), "apache/spark:3.5.1");
}

TEST(SparkSubmit, UnknownOrOldVersionsAreRefusedWithWhatExists) {
  auto missing = BuildSubmission(Pi("3.1"), Pods(), Settings());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Code::kFailedPrecondition);
  EXPECT_NE(missing.error().message().find("it has 3.2, 3.4, 3.5.0, 3.5.1"), std::string::npos)
      << missing.error().message();
  auto old = BuildSubmission(Pi("2.4"), Pods(), Settings());
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.error().message().find("Spark 3.0 or newer"), std::string::npos);
  LaunchSpec container = Pi("3.5");
  container.kind = "container";
  EXPECT_EQ(BuildSubmission(container, Pods(), Settings()).error().code(), Code::kInvalidArgument);
}

TEST(SparkSubmit, SecretsAreReferencedNeverCopied) {
  LaunchSpec spec = Pi("3.5");
  spec.secret_env = {{"DB_PASSWORD", SecretEnv{"", "db-creds", "password"}}};
  auto sub = BuildSubmission(spec, Pods(), Settings());
  ASSERT_TRUE(sub.ok()) << sub.error().message();
  EXPECT_EQ(sub->conf.at("spark.kubernetes.driver.secretKeyRef.DB_PASSWORD"), "db-creds:password");
  EXPECT_EQ(sub->conf.at("spark.kubernetes.executor.secretKeyRef.DB_PASSWORD"),
            "db-creds:password");
  spec.secret_env["API_KEY"] = SecretEnv{"inline-s3cret", "", ""};
  auto refused = BuildSubmission(spec, Pods(), Settings());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.error().message().find("secretKeyRef"), std::string::npos);
  EXPECT_EQ(refused.error().message().find("inline-s3cret"), std::string::npos);
}

// ---------------------------------------------------------------- adapt → confs

std::string Diag(const std::string& cls, const std::string& component) {
  return boost::json::serialize(boost::json::object{
      {"class", cls},
      {"retryable", true},
      {"component", component},
      {"root_cause", {{"component", "driver"}, {"line", 3}, {"text", "Lost executor 1"}}},
      {"highlights", boost::json::array{}},
      {"remediation", ""},
      {"summary", ""}});
}

// The next attempt's confs after attempt 1 failed with `cls` (and `reason`).
std::map<std::string, std::string> Retry(const std::string& cls, const std::string& reason,
                                         LaunchSpec first = Pi("3.5")) {
  Definition def;
  def.name = "pi";
  def.kind = "spark";
  def.spark = first.spark;
  def.resources = first.resources;
  Attempt a;
  a.id = first.attempt_id;
  a.run_id = first.run_id;
  a.number = 1;
  a.status = AttemptStatus::kFailed;
  a.resources = first.resources;
  a.placement = first.placement;
  a.outcome = Outcome{1, reason, ""};
  a.diagnosis = Diag(cls, "executor-1");
  adapt::Decision d = adapt::PlanRetry(def, {a}, {}, adapt::Platform{});
  EXPECT_TRUE(d.retry) << d.sentence;
  LaunchSpec next = first;
  next.attempt_id = first.run_id + "-2";
  next.resources = d.resources;
  next.placement = d.placement;
  auto sub = BuildSubmission(next, Pods(), Settings());
  EXPECT_TRUE(sub.ok());
  return sub.ok() ? sub->conf : std::map<std::string, std::string>{};
}

TEST(SparkSubmitAdapt, ExecutorContainerOomGrowsMemoryOverhead) {
  auto c = Retry("executor_container_oom", "Error");
  // 4Gi heap: Spark's default overhead is 410Mi (10 %); ×1.5 → 615Mi.
  EXPECT_EQ(c.at("spark.executor.memoryOverhead"), "615m");
  EXPECT_EQ(c.at("spark.executor.memory"), "4096m");
}

TEST(SparkSubmitAdapt, ExecutorHeapOomGrowsExecutorMemory) {
  auto c = Retry("executor_oom", "Error");
  EXPECT_EQ(c.at("spark.executor.memory"), "6144m");
  EXPECT_EQ(c.count("spark.executor.memoryOverhead"), 0u);
}

TEST(SparkSubmitAdapt, DriverOomGrowsDriverMemory) {
  auto c = Retry("driver_oom", "Error");
  EXPECT_EQ(c.at("spark.driver.memory"), "3072m");
}

TEST(SparkSubmitAdapt, MaxResultSizeDoublesIt) {
  auto c = Retry("driver_max_result_size", "Error");
  EXPECT_EQ(c.at("spark.driver.maxResultSize"), "2048m");
}

TEST(SparkSubmitAdapt, NodeLossMovesExecutorsOnDemandAndGrowsThem) {
  auto c = Retry("node_loss", "NodeLost");
  EXPECT_EQ(c.at("spark.kubernetes.executor.node.selector.karpenter.sh/capacity-type"),
            "on-demand");
  EXPECT_EQ(c.count("spark.decommission.enabled"), 0u);
  // Executor progression after a loss: 3 → 5 initial, max 20 → 30.
  EXPECT_EQ(c.at("spark.dynamicAllocation.initialExecutors"), "5");
  EXPECT_EQ(c.at("spark.dynamicAllocation.maxExecutors"), "30");
}

TEST(SparkSubmitAdapt, FixedExecutorsGrowInstances) {
  LaunchSpec first = Pi("3.5");
  first.resources.spark.max_executors = 0;
  auto c = Retry("executor_lost_ambiguous", "Error", first);
  EXPECT_EQ(c.at("spark.dynamicAllocation.enabled"), "false");
  EXPECT_EQ(c.at("spark.executor.instances"), "5");
}

TEST(SparkComponents, FromSparkLabels) {
  auto pod = [](const char* role, const char* id, const char* ours) {
    boost::json::object labels;
    if (role != nullptr) labels["spark-role"] = role;
    if (id != nullptr) labels["spark-exec-id"] = id;
    if (ours != nullptr) labels["tugboat.io/component"] = ours;
    return boost::json::value(boost::json::object{{"metadata", {{"labels", labels}}}});
  };
  EXPECT_EQ(ComponentOf(pod("driver", nullptr, "driver")), "driver");
  EXPECT_EQ(ComponentOf(pod("executor", "7", "executor")), "executor-7");
  EXPECT_EQ(ComponentOf(pod("executor", nullptr, "executor")), "");
  EXPECT_EQ(ComponentOf(pod(nullptr, nullptr, "controller")), "controller");
  EXPECT_EQ(ComponentOf(pod(nullptr, nullptr, "main")), "");
  EXPECT_EQ(SparkMemory(1536 * kMi), "1536m");
  EXPECT_EQ(SparkMemory(kMi + 1), "2m");
}

}  // namespace
}  // namespace tug::engine::spark
