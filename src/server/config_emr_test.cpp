// The emr section of the server config: parsing (file and TUG_EMR_*), and the startup errors a
// wrong or incomplete section gives.
#include <gtest/gtest.h>

#include "server/config.h"

namespace tug::server {
namespace {

constexpr char kGood[] = R"(
emr:
  virtual_cluster_id: 7s3g2a0xk1nq9c0d1e2f3g4h5
  execution_role_arn: arn:aws:iam::123456789012:role/emr-on-eks-jobs
  region: eu-west-1
  release_labels: {"3.5": emr-7.1.0-latest, "3.4": emr-6.15.0-20240105}
  log_bucket: tug-emr-logs
  log_prefix: /jobs
  poll_interval: 10s
spark:
  engine: emr-on-eks
)";

Status Load(const std::string& yaml, const std::map<std::string, std::string>& env = {}) {
  Config c = DefaultConfig();
  RETURN_IF_ERROR(ApplyYaml(c, yaml, "tug.yaml"));
  RETURN_IF_ERROR(ApplyEnv(c, env));
  return ValidateConfig(c);
}

// The message of the error `yaml` gives ("" when it is accepted).
std::string ErrorOf(const std::string& yaml, const std::map<std::string, std::string>& env = {}) {
  Status st = Load(yaml, env);
  return st.ok() ? "" : st.error().message();
}

TEST(EmrConfigTest, AFullSectionIsRead) {
  Config c = DefaultConfig();
  ASSERT_TRUE(ApplyYaml(c, kGood, "tug.yaml").ok());
  ASSERT_TRUE(ValidateConfig(c).ok());
  EXPECT_TRUE(c.emr.enabled());
  EXPECT_EQ(c.emr.virtual_cluster_id, "7s3g2a0xk1nq9c0d1e2f3g4h5");
  EXPECT_EQ(c.emr.region, "eu-west-1");
  EXPECT_EQ(c.emr.release_labels.at("3.4"), "emr-6.15.0-20240105");
  EXPECT_EQ(c.emr.log_uri(), "s3://tug-emr-logs/jobs/");
  EXPECT_EQ(c.emr.poll_interval_seconds, 10);
  EXPECT_EQ(c.spark_engine, "emr-on-eks");
  EXPECT_EQ(c.emr.capacity_label, "eks.amazonaws.com/capacityType");
}

TEST(EmrConfigTest, OffUnlessConfigured) {
  Config c = DefaultConfig();
  ASSERT_TRUE(ValidateConfig(c).ok());
  EXPECT_FALSE(c.emr.enabled());
  EXPECT_EQ(c.spark_engine, "spark");
}

TEST(EmrConfigTest, EnvironmentAndTheSdkRegion) {
  Config c = DefaultConfig();
  ASSERT_TRUE(ApplyYaml(c, "emr: {release_labels: {\"3.5\": emr-7.1.0-latest}}\n", "f").ok());
  ASSERT_TRUE(ApplyEnv(c, {{"TUG_EMR_VIRTUAL_CLUSTER_ID", "abc123"},
                           {"TUG_EMR_EXECUTION_ROLE_ARN", "arn:aws:iam::123456789012:role/jobs"},
                           {"TUG_EMR_LOG_BUCKET", "logs-bucket"},
                           {"TUG_EMR_ENDPOINT", "http://127.0.0.1:5000"},
                           {"AWS_REGION", "us-west-2"}})
                  .ok());
  ASSERT_TRUE(ValidateConfig(c).ok());
  EXPECT_EQ(c.emr.region, "us-west-2");
  EXPECT_EQ(c.emr.endpoint, "http://127.0.0.1:5000");
}

TEST(EmrConfigTest, BadSectionsAreClearStartupErrors) {
  const std::string ok_rest =
      "  execution_role_arn: arn:aws:iam::123456789012:role/jobs\n"
      "  region: us-east-1\n"
      "  release_labels: {\"3.5\": emr-7.1.0-latest}\n"
      "  log_bucket: tug-logs\n";
  struct Case {
    std::string yaml;
    std::string says;  // a part of the message
  };
  const Case cases[] = {
      {"emr:\n" + ok_rest, "emr.virtual_cluster_id is not set"},
      {"emr:\n  virtual_cluster_id: VC-Prod\n" + ok_rest, "'VC-Prod' is not a virtual cluster id"},
      {"emr:\n  virtual_cluster_id: abc\n  execution_role_arn: jobs\n  region: us-east-1\n"
       "  release_labels: {\"3.5\": emr-7.1.0-latest}\n  log_bucket: tug-logs\n",
       "'jobs' is not an IAM role ARN"},
      {"emr:\n  virtual_cluster_id: abc\n  execution_role_arn: arn:aws:iam::123456789012:role/j\n"
       "  region: us-east-1\n  log_bucket: tug-logs\n",
       "emr needs release labels"},
      {"emr:\n  virtual_cluster_id: abc\n  execution_role_arn: arn:aws:iam::123456789012:role/j\n"
       "  region: us-east-1\n  release_labels: {\"3.5\": \"7.1\"}\n  log_bucket: tug-logs\n",
       "emr release label '7.1' (for 3.5) is not one"},
      {"emr:\n  virtual_cluster_id: abc\n  execution_role_arn: arn:aws:iam::123456789012:role/j\n"
       "  region: us-east-1\n  release_labels: {\"3.5\": emr-7.1.0-latest}\n",
       "emr.log_bucket is not set"},
      {"emr:\n  virtual_cluster_id: abc\n" + ok_rest.substr(0, ok_rest.find("  log_bucket")) +
           "  log_bucket: s3://tug-logs\n",
       "'s3://tug-logs' is not an S3 bucket name"},
      {"emr:\n  virtual_cluster_id: abc\n  execution_role_arn: arn:aws:iam::123456789012:role/j\n"
       "  release_labels: {\"3.5\": emr-7.1.0-latest}\n  log_bucket: tug-logs\n",
       "emr.region is not set"},
      {"emr:\n  virtual_cluster_id: abc\n  endpoint: localhost:5000\n", "must be an http(s) URL"},
      {"emr:\n  virtual_cluster: abc\n", "unknown key 'emr.virtual_cluster'"},
      {"emr:\n  release_labels: [emr-7.1.0-latest]\n", "emr.release_labels must map"},
      {"spark: {engine: emr-on-eks}\n", "spark.engine emr-on-eks needs the emr section"},
      {"spark: {engine: emr}\n", "spark.engine 'emr' is unknown"},
  };
  for (const Case& c : cases) {
    std::string message = ErrorOf(c.yaml);
    EXPECT_NE(message.find(c.says), std::string::npos) << c.yaml << "\n=> " << message;
  }
}

// emr.cluster: the EKS cluster (one of clusters:) whose pods are watched; off by default.
TEST(EmrConfigTest, TheEksClusterForPodWatching) {
  const std::string clusters =
      "clusters:\n  - {name: eks, kubeconfig: /etc/tug/eks.kubeconfig, namespace: spark-jobs}\n";
  Config off = DefaultConfig();
  ASSERT_TRUE(ApplyYaml(off, std::string(kGood) + clusters, "tug.yaml").ok());
  ASSERT_TRUE(ValidateConfig(off).ok());
  EXPECT_EQ(off.emr.cluster, "");
  EXPECT_EQ(off.emr.namespace_, "");

  Config on = DefaultConfig();
  ASSERT_TRUE(ApplyYaml(on, std::string(kGood) + clusters, "tug.yaml").ok());
  ASSERT_TRUE(ApplyEnv(on, {{"TUG_EMR_CLUSTER", "eks"}}).ok());
  ASSERT_TRUE(ValidateConfig(on).ok());
  EXPECT_EQ(on.emr.cluster, "eks");
  EXPECT_EQ(on.emr.namespace_, "spark-jobs") << "the cluster's namespace by default";
  Config own = DefaultConfig();
  ASSERT_TRUE(ApplyYaml(own, std::string(kGood) + clusters, "tug.yaml").ok());
  ASSERT_TRUE(ApplyEnv(own, {{"TUG_EMR_CLUSTER", "eks"}, {"TUG_EMR_NAMESPACE", "emr-jobs"}}).ok());
  ASSERT_TRUE(ValidateConfig(own).ok());
  EXPECT_EQ(own.emr.namespace_, "emr-jobs");

  struct Case {
    std::string yaml;
    std::map<std::string, std::string> env;
    std::string says;
  };
  const Case cases[] = {
      {std::string(kGood) + clusters,
       {{"TUG_EMR_CLUSTER", "prod"}},
       "emr.cluster 'prod' is not one of the configured clusters (eks)"},
      {kGood, {{"TUG_EMR_CLUSTER", "eks"}}, "no clusters are configured"},
      {kGood,
       {{"TUG_EMR_NAMESPACE", "spark-jobs"}},
       "emr.namespace 'spark-jobs' needs emr.cluster"},
      {std::string(kGood) + clusters,
       {{"TUG_EMR_CLUSTER", "eks"}, {"TUG_EMR_NAMESPACE", "Spark_Jobs"}},
       "'Spark_Jobs' is not a Kubernetes namespace name"},
  };
  for (const Case& c : cases) {
    std::string message = ErrorOf(c.yaml, c.env);
    EXPECT_NE(message.find(c.says), std::string::npos) << c.yaml << "\n=> " << message;
  }
}

}  // namespace
}  // namespace tug::server
