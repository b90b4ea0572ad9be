// The tug config the Helm chart renders (deploy_helm_template writes it), read by the server's
// own config code: every key must be one tug knows and every value valid, with the database URL
// coming from the environment the way the Deployment passes it (a Secret reference).
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "server/config.h"

namespace tug::server {
namespace {

std::string Rendered(const std::string& name) {
  const char* dir = std::getenv("TUG_DEPLOY_RENDERED");
  EXPECT_NE(dir, nullptr) << "TUG_DEPLOY_RENDERED is set by ctest (deploy/CMakeLists.txt)";
  std::ifstream in(std::string(dir == nullptr ? "." : dir) + "/" + name);
  EXPECT_TRUE(in.good()) << name << " missing: deploy_helm_template renders it";
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Parse and validate as `tug server --config` does. The chart listens on 0.0.0.0 (a Service must
// reach the pods); until authentication lands (issue 19) ValidateConfig refuses any non-loopback
// address, and that refusal is the only one allowed here.
Config Load(const std::string& name) {
  Config c = DefaultConfig();
  Status st = ApplyYaml(c, Rendered(name), name);
  EXPECT_TRUE(st.ok()) << st.error().ToString();
  st = ApplyEnv(c, {{"TUG_DATABASE_URL", "postgres://tug:secret@db.example:5432/tug"}});
  EXPECT_TRUE(st.ok()) << st.error().ToString();
  st = ValidateConfig(c);
  if (!st.ok()) {
    EXPECT_NE(st.error().message().find("is not a loopback address; authentication is not "
                                        "available yet"),
              std::string::npos)
        << st.error().ToString();
    // Validate the rest as it would be once the listen check passes.
    Config rest = c;
    rest.listen = "127.0.0.1:8080";
    st = ValidateConfig(rest);
    EXPECT_TRUE(st.ok()) << st.error().ToString();
    rest.listen = c.listen;
    c = rest;
  }
  return c;
}

TEST(DeployConfigTest, DefaultValues) {
  Config c = Load("default-config.yaml");
  EXPECT_EQ(c.listen, "0.0.0.0:8080");
  EXPECT_EQ(c.data_dir, "/var/lib/tugboat");
  EXPECT_EQ(c.store_driver, "postgres");
  EXPECT_EQ(c.database_pool_size, 8);
  EXPECT_EQ(c.engine, "kubernetes");
  ASSERT_EQ(c.clusters.size(), 1u);
  EXPECT_EQ(c.clusters[0].name, "batch");
  EXPECT_TRUE(c.clusters[0].in_cluster);
  EXPECT_EQ(c.clusters[0].namespace_, "batch");
  EXPECT_EQ(c.clusters[0].capacity_label, "karpenter.sh/capacity-type");
  EXPECT_EQ(c.clusters[0].scheduler_name, "");
  EXPECT_EQ(c.spark.versions.size(), 3u);
  EXPECT_EQ(c.spark.ui_access, "direct");
  EXPECT_EQ(c.spark.submit_service_account, "tugboat-spark-submit");
  EXPECT_EQ(c.usage_source, "metrics-api");
}

TEST(DeployConfigTest, ProductionValues) {
  Config c = Load("production-config.yaml");
  ASSERT_EQ(c.clusters.size(), 2u);
  EXPECT_EQ(c.clusters[0].capacity_label, "eks.amazonaws.com/capacityType");
  EXPECT_EQ(c.clusters[0].spot_value, "SPOT");
  EXPECT_EQ(c.clusters[0].on_demand_value, "ON_DEMAND");
  EXPECT_TRUE(c.clusters[0].prune_events);
  EXPECT_EQ(c.clusters[1].pending_timeout_seconds, 1200);
  EXPECT_EQ(c.clusters[1].pod_linger_seconds, 300);
  // The chart's second scheduler, for every job namespace.
  EXPECT_EQ(c.clusters[0].scheduler_name, "tugboat-binpack");
  EXPECT_EQ(c.clusters[1].scheduler_name, "tugboat-binpack");
  EXPECT_EQ(c.database_pool_size, 16);
  EXPECT_EQ(c.retention_seconds, 30 * 86400);
  EXPECT_EQ(c.launch_workers, 16);
  EXPECT_EQ(c.limits.max_executors, 400);
  EXPECT_EQ(c.stop_grace_seconds, 30);
  EXPECT_EQ(c.spark.event_log_dir, "s3a://example-tugboat-logs/spark-events");
  EXPECT_EQ(c.spark.history_url, "http://spark-history.batch:18080");
  EXPECT_EQ(c.usage_source, "prometheus");
  EXPECT_EQ(c.prometheus_url, "http://prometheus-operated.monitoring:9090");
}

}  // namespace
}  // namespace tug::server
