#include "server/config.h"

#include <gtest/gtest.h>

namespace tug::server {
namespace {

TEST(ConfigTest, PrecedenceFileThenEnv) {
  Config c = DefaultConfig();
  ASSERT_TRUE(
      ApplyYaml(c, "listen: 127.0.0.1:9000\nengine: {cgroup: none}\nlimits: {max_memory: 2Gi}\n",
                "tug.yaml")
          .ok());
  EXPECT_EQ(c.port(), 9000);
  EXPECT_EQ(c.cgroup_mode, "none");
  EXPECT_EQ(c.limits.max_memory_bytes, 2LL << 30);
  ASSERT_TRUE(ApplyEnv(c, {{"TUG_LISTEN", "127.0.0.1:9100"}, {"UNRELATED", "x"}}).ok());
  EXPECT_EQ(c.port(), 9100);
  ASSERT_TRUE(ValidateConfig(c).ok());
  EXPECT_EQ(c.database_path, ".tug/tug.db");
}

TEST(ConfigTest, UsageIntervalsAndUiDirectory) {
  Config c = DefaultConfig();
  EXPECT_EQ(c.usage_interval_seconds, 2);
  EXPECT_EQ(c.kube_usage_interval_seconds, 15);
  ASSERT_TRUE(
      ApplyYaml(c, "engine: {usage_interval: 5s, kube_usage_interval: 1m}\n", "tug.yaml").ok());
  EXPECT_EQ(c.usage_interval_seconds, 5);
  EXPECT_EQ(c.kube_usage_interval_seconds, 60);
  ASSERT_TRUE(ApplyEnv(c, {{"TUG_USAGE_INTERVAL", "0"}, {"TUG_UI_DIR", "/srv/ui"}}).ok());
  EXPECT_EQ(c.usage_interval_seconds, 0) << "0 turns sampling off";
  EXPECT_EQ(c.ui_dir, "/srv/ui");
  auto bad = ApplyEnv(c, {{"TUG_USAGE_INTERVAL", "often"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("often"), std::string::npos) << bad.error().message();
}

TEST(ConfigTest, DatabaseUrlSelectsPostgres) {
  Config c = DefaultConfig();
  EXPECT_EQ(c.store_driver, "sqlite");
  ASSERT_TRUE(ApplyEnv(c, {{"TUG_DATABASE_URL", "postgres://tug:s3cret@db:5432/tug"},
                           {"TUG_DATABASE_POOL", "16"},
                           {"TUG_RETENTION", "30d"}})
                  .ok());
  EXPECT_EQ(c.store_driver, "postgres");
  EXPECT_EQ(c.database_url, "postgres://tug:s3cret@db:5432/tug");
  EXPECT_EQ(c.database_pool_size, 16);
  EXPECT_EQ(c.retention_seconds, 30 * 86400);
  ASSERT_TRUE(ValidateConfig(c).ok());

  auto bad = ApplyEnv(c, {{"TUG_DATABASE_URL", "mysql://root:hunter2@db/tug"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message().find("hunter2"), std::string::npos) << bad.error().message();
  EXPECT_FALSE(ApplyEnv(c, {{"TUG_RETENTION", "10m"}}).ok());
  EXPECT_FALSE(ApplyEnv(c, {{"TUG_DATABASE_POOL", "0"}}).ok());

  Config needs_url = DefaultConfig();
  ASSERT_TRUE(ApplyYaml(needs_url, "store: {driver: postgres}\n", "tug.yaml").ok());
  auto st = ValidateConfig(needs_url);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("TUG_DATABASE_URL"), std::string::npos);
}

TEST(ConfigTest, RedactUrlHidesOnlyThePassword) {
  EXPECT_EQ(RedactUrl("postgres://tug:s3cret@db:5432/tug"), "postgres://tug:***@db:5432/tug");
  EXPECT_EQ(RedactUrl("postgresql://tug@db/tug"), "postgresql://tug@db/tug");
  EXPECT_EQ(RedactUrl("postgres://db:5432/tug"), "postgres://db:5432/tug");
  EXPECT_EQ(RedactUrl("postgres://db/x@y"), "postgres://db/x@y");
}

TEST(ConfigTest, PlannerLimits) {
  Config c = DefaultConfig();
  ASSERT_TRUE(
      ApplyYaml(c, "limits: {max_executors: 50}\nadapt: {climate_threshold: 0.35}\n", "tug.yaml")
          .ok());
  EXPECT_EQ(c.limits.max_executors, 50);
  EXPECT_DOUBLE_EQ(c.climate_threshold, 0.35);
  auto st = ApplyEnv(c, {{"TUG_MAX_EXECUTORS", "many"}});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("TUG_MAX_EXECUTORS"), std::string::npos);
  EXPECT_FALSE(ApplyEnv(c, {{"TUG_CLIMATE_THRESHOLD", "1.5"}}).ok());
}

TEST(ConfigTest, Clusters) {
  Config c = DefaultConfig();
  ASSERT_TRUE(ApplyYaml(c, R"(engine: {driver: kubernetes}
clusters:
  - name: prod
    kubeconfig: /etc/k/prod
    namespace: batch
    capacity_label: eks.amazonaws.com/capacityType
    spot_value: SPOT
    on_demand_value: ON_DEMAND
    qps: 20
    burst: 40
    pod_linger: 5m
    pending_timeout: 15m
    unknown_pods: delete
    prune_events: true
  - {name: dev, in_cluster: true}
)",
                        "tug.yaml")
                  .ok());
  ASSERT_EQ(c.clusters.size(), 2u);
  const ClusterConfig& p = c.clusters[0];
  EXPECT_EQ(p.name, "prod");
  EXPECT_EQ(p.kubeconfig, "/etc/k/prod");
  EXPECT_EQ(p.namespace_, "batch");
  EXPECT_EQ(p.capacity_label, "eks.amazonaws.com/capacityType");
  EXPECT_EQ(p.spot_value, "SPOT");
  EXPECT_EQ(p.on_demand_value, "ON_DEMAND");
  EXPECT_DOUBLE_EQ(p.qps, 20);
  EXPECT_EQ(p.burst, 40);
  EXPECT_EQ(p.pod_linger_seconds, 300);
  EXPECT_EQ(p.pending_timeout_seconds, 900);
  EXPECT_EQ(p.unknown_pods, "delete");
  EXPECT_TRUE(p.prune_events);
  EXPECT_TRUE(c.clusters[1].in_cluster);
  EXPECT_EQ(c.clusters[1].namespace_, "default");
  EXPECT_EQ(c.engine, "kubernetes");
  EXPECT_TRUE(ValidateConfig(c).ok());
}

TEST(ConfigTest, SchedulerNameForJobPods) {
  // kubernetes.scheduler_name is the default; a cluster's own scheduler_name wins.
  Config c = DefaultConfig();
  ASSERT_TRUE(ApplyYaml(c, R"(kubernetes: {scheduler_name: tugboat-binpack}
clusters:
  - {name: prod, kubeconfig: /k, scheduler_name: default-scheduler}
  - {name: dev, in_cluster: true}
)",
                        "tug.yaml")
                  .ok());
  ASSERT_TRUE(ValidateConfig(c).ok());
  EXPECT_EQ(c.clusters[0].scheduler_name, "default-scheduler");
  EXPECT_EQ(c.clusters[1].scheduler_name, "tugboat-binpack");
  Config e = DefaultConfig();
  ASSERT_TRUE(
      ApplyEnv(e, {{"TUG_KUBECONFIG", "/k"}, {"TUG_KUBE_SCHEDULER_NAME", "tugboat-binpack"}}).ok());
  ASSERT_TRUE(ValidateConfig(e).ok());
  EXPECT_EQ(e.clusters[0].scheduler_name, "tugboat-binpack");
  Config none = DefaultConfig();
  ASSERT_TRUE(ApplyEnv(none, {{"TUG_KUBECONFIG", "/k"}}).ok());
  ASSERT_TRUE(ValidateConfig(none).ok());
  EXPECT_EQ(none.clusters[0].scheduler_name, "");
  Config bad = DefaultConfig();
  Status st = ApplyYaml(bad, "kubernetes: {scheduler_name: Bin_Pack}\n", "tug.yaml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("kubernetes.scheduler_name 'Bin_Pack' must be a scheduler's"),
            std::string::npos)
      << st.error().message();
  st = ApplyYaml(bad, "clusters: [{name: a, kubeconfig: k, scheduler_name: -x}]\n", "tug.yaml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("clusters[0].scheduler_name '-x'"), std::string::npos)
      << st.error().message();
}

TEST(ConfigTest, UsageFromPrometheus) {
  Config c = DefaultConfig();
  EXPECT_EQ(c.usage_source, "metrics-api");
  ASSERT_TRUE(ApplyYaml(c, "usage: {prometheus_url: 'http://prom:9090', prometheus_rate_window: 1m}\n",
                        "tug.yaml")
                  .ok());
  ASSERT_TRUE(ValidateConfig(c).ok());
  EXPECT_EQ(c.usage_source, "prometheus");  // the URL selects it
  EXPECT_EQ(c.prometheus_url, "http://prom:9090");
  EXPECT_EQ(c.prometheus_rate_window_seconds, 60);
  Config e = DefaultConfig();
  ASSERT_TRUE(ApplyEnv(e, {{"TUG_PROMETHEUS_URL", "https://vm:8481/select/0/prometheus"}}).ok());
  EXPECT_EQ(e.usage_source, "prometheus");
  auto error = [](const std::string& yaml) {
    Config x = DefaultConfig();
    Status st = ApplyYaml(x, yaml, "tug.yaml");
    if (st.ok()) st = ValidateConfig(x);
    return st.ok() ? std::string() : st.error().message();
  };
  EXPECT_NE(error("usage: {source: prometheus}").find("set usage.prometheus_url or TUG_PROMETHEUS_URL"),
            std::string::npos);
  EXPECT_NE(error("usage: {source: cadvisor}").find("use metrics-api or prometheus"),
            std::string::npos);
  EXPECT_NE(error("usage: {prometheus_url: 'prom:9090'}").find("must be an http(s) URL"),
            std::string::npos);
}

TEST(ConfigTest, ClusterErrorsNameTheField) {
  auto error = [](const std::string& yaml) {
    Config c = DefaultConfig();
    Status st = ApplyYaml(c, yaml, "tug.yaml");
    if (st.ok()) st = ValidateConfig(c);
    return st.ok() ? std::string() : st.error().message();
  };
  EXPECT_NE(error("clusters: [{name: a}]").find("needs kubeconfig: PATH or in_cluster: true"),
            std::string::npos);
  EXPECT_NE(error("clusters: [{name: a, kubeconfig: k, colour: red}]").find("unknown key 'colour'"),
            std::string::npos);
  EXPECT_NE(error("clusters: [{name: a, kubeconfig: k, unknown_pods: adopt}]")
                .find("clusters[0].unknown_pods 'adopt' must be keep or delete"),
            std::string::npos);
  EXPECT_NE(
      error("clusters: [{name: a, kubeconfig: k}, {name: a, kubeconfig: j}]").find("used twice"),
      std::string::npos);
  EXPECT_NE(error("clusters: {name: a}").find("clusters must be a list"), std::string::npos);
  EXPECT_NE(error("engine: {driver: kubernetes}").find("needs a cluster"), std::string::npos);
  EXPECT_NE(error("engine: {driver: mesos}").find("use local or kubernetes"), std::string::npos);
}

TEST(ConfigTest, KubeconfigFromTheEnvironment) {
  Config c = DefaultConfig();
  ASSERT_TRUE(ApplyEnv(c, {{"TUG_KUBECONFIG", "/tmp/kc"}, {"TUG_KUBE_NAMESPACE", "jobs"}}).ok());
  ASSERT_EQ(c.clusters.size(), 1u);
  EXPECT_EQ(c.clusters[0].name, "default");
  EXPECT_EQ(c.clusters[0].kubeconfig, "/tmp/kc");
  EXPECT_EQ(c.clusters[0].namespace_, "jobs");
  Config d = DefaultConfig();
  EXPECT_FALSE(ApplyEnv(d, {{"TUG_KUBE_NAMESPACE", "jobs"}}).ok());
}

TEST(ConfigTest, ErrorsNameTheKey) {
  Config c = DefaultConfig();
  auto st = ApplyYaml(c, "engine: {colour: red}\n", "tug.yaml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("unknown key 'engine.colour'"), std::string::npos);
  st = ApplyEnv(c, {{"TUG_MAX_MEMORY", "lots"}});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("TUG_MAX_MEMORY"), std::string::npos);
  c.listen = "0.0.0.0:8080";
  EXPECT_NE(ValidateConfig(c).error().message().find("loopback"), std::string::npos);
  c.listen = "127.0.0.1";
  EXPECT_FALSE(ValidateConfig(c).ok());
}

}  // namespace
}  // namespace tug::server
