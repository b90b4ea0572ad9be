#include "core/json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace tug {
namespace {

Definition SampleDefinition() {
  Definition d;
  d.name = "hello";
  d.version = 3;
  d.command = "echo hello from tugboat";
  d.env = {{"GREETING", "hi"}};
  d.resources = {};
  d.resources.memory_bytes = 64LL << 20;
  d.resources.cpu_millis = 500;
  d.timeout_seconds = 600;
  d.labels = {{"team", "ds"}};
  d.created_at = 1'700'000'000'123'456;
  return d;
}

TEST(JsonTest, DefinitionRoundTrip) {
  Definition d = SampleDefinition();
  auto back = DefinitionFromJson(ToJson(d));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, d);
  d.command.clear();
  d.args = {"python3", "-c", "print(1)"};
  EXPECT_EQ(*DefinitionFromJson(ToJson(d)), d);
}

TEST(JsonTest, SecretEnvIsReadButNeverWritten) {
  auto parsed = DefinitionFromJson(boost::json::parse(R"({
    "name": "etl", "command": "run",
    "env": {"PLAIN": "x", "N": 3,
            "PASSWORD": {"secret": true, "value": "hunter2"},
            "DB": {"valueFrom": {"secretKeyRef": {"name": "db-creds", "key": "password"}}},
            "KEPT": {"secret": true}}})"));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  EXPECT_EQ(parsed->env, (std::map<std::string, std::string>{{"N", "3"}, {"PLAIN", "x"}}));
  EXPECT_EQ(parsed->secret_env.at("PASSWORD"), (SecretEnv{"hunter2", "", ""}));
  EXPECT_EQ(parsed->secret_env.at("DB"), (SecretEnv{"", "db-creds", "password"}));
  EXPECT_TRUE(parsed->secret_env.at("KEPT").kept());

  const std::string text = boost::json::serialize(ToJson(*parsed));
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
  const boost::json::value rendered = ToJson(*parsed);
  const auto& env = rendered.at("env");
  EXPECT_EQ(env.at("PASSWORD"), boost::json::parse(R"({"secret": true})"));
  EXPECT_EQ(env.at("DB"),
            boost::json::parse(
                R"({"valueFrom": {"secretKeyRef": {"name": "db-creds", "key": "password"}}})"));
  // What GET answers, applied again, asks to keep the stored value.
  auto again = DefinitionFromJson(ToJson(*parsed));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->secret_env.at("PASSWORD").kept());
  EXPECT_EQ(again->secret_env.at("DB"), parsed->secret_env.at("DB"));

  // Validation: a secret needs a value or a reference; messages never repeat a value.
  Definition d = *parsed;
  EXPECT_FALSE(Validate(d, Limits{}).ok());  // KEPT has neither
  d.secret_env.erase("KEPT");
  EXPECT_TRUE(Validate(d, Limits{}).ok());
  d.secret_env["DB"].secret_name = "Not_A_Name";
  EXPECT_FALSE(Validate(d, Limits{}).ok());
  for (
      const char* bad :
      {R"({"name":"e","env":{"P":{"secret":true,"value":"s3cr3t","valueFrom":{"secretKeyRef":{"name":"a","key":"b"}}}}})",
       R"({"name":"e","env":{"P":{"secret":false,"value":"s3cr3t"}}})",
       R"({"name":"e","env":{"P":{"value":"s3cr3t","colour":"red"}}})",
       R"({"name":"e","env":{"P":{"valueFrom":{"secretKeyRef":{"name":"a"}}}}})"}) {
    auto r = DefinitionFromJson(boost::json::parse(bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().message().find("s3cr3t"), std::string::npos) << r.error().message();
  }
  // A run's override of a secret's name replaces it with the plain value.
  RunOverrides o;
  o.env = {{"PASSWORD", "plain"}};
  Definition applied = ApplyOverrides(*parsed, o);
  EXPECT_EQ(applied.env.at("PASSWORD"), "plain");
  EXPECT_EQ(applied.secret_env.count("PASSWORD"), 0u);
}

TEST(JsonTest, RetryAdaptAndSparkRoundTrip) {
  Definition d = SampleDefinition();
  d.retry.max_attempts = 5;
  d.retry.max_infra_retries = 2;
  d.retry.backoff = {30, 600, 2.5};
  d.adapt.memory_factor = 1.75;
  d.adapt.max_memory_bytes = 8LL << 30;
  d.adapt.executor_factor = 2;
  d.adapt.max_executors = 40;
  d.adapt.rightsizing = "apply";
  d.adapt.capacity = "on-demand";
  d.adapt.critical = true;
  EXPECT_EQ(*DefinitionFromJson(ToJson(d)), d);

  auto v = ParseJson(R"({"name":"pi","kind":"spark","spark":{"version":3.5,
      "main":"local:///opt/spark/examples/src/main/python/pi.py","args":[1000],
      "conf":{"spark.sql.shuffle.partitions":"64"},
      "driver":{"cores":1,"memory":"2Gi","maxResultSize":"2Gi"},
      "executor":{"cores":2,"memory":"4Gi","memoryOverhead":"1Gi","instances":3,"max":20,
                  "dynamicAllocation":true}}})");
  ASSERT_TRUE(v.ok());
  auto pi = DefinitionFromJson(*v);
  ASSERT_TRUE(pi.ok()) << pi.error().message();
  EXPECT_EQ(pi->spark.version, "3.5");
  EXPECT_EQ(pi->spark.args, std::vector<std::string>{"1000"});
  EXPECT_EQ(pi->resources.spark.driver.memory_bytes, 2LL << 30);
  EXPECT_EQ(pi->resources.spark.driver.cpu_millis, 1000);
  EXPECT_EQ(pi->resources.spark.max_result_size_bytes, 2LL << 30);
  EXPECT_EQ(pi->resources.spark.executor.memory_overhead_bytes, 1LL << 30);
  EXPECT_EQ(pi->resources.spark.instances, 3);
  EXPECT_EQ(pi->resources.spark.max_executors, 20);
  EXPECT_TRUE(pi->resources.spark.dynamic_allocation);
  EXPECT_EQ(*DefinitionFromJson(ToJson(*pi)), *pi);
  EXPECT_TRUE(Validate(*pi, Limits{}).ok()) << Validate(*pi, Limits{}).error().message();
}

TEST(JsonTest, KubernetesFieldsRoundTrip) {
  Definition d = SampleDefinition();
  d.engine = "kubernetes";
  d.cluster = "prod";
  d.kubernetes.service_account = "jobs";
  d.kubernetes.image_pull_policy = "Always";
  d.kubernetes.image_pull_secrets = {"a", "b"};
  d.kubernetes.node_selector = {{"pool", "batch"}};
  d.kubernetes.tolerations = {{"dedicated", "Equal", "batch", "NoSchedule"},
                              {"", "Exists", "", ""}};
  EXPECT_EQ(*DefinitionFromJson(ToJson(d)), d);
  auto bad = ParseJson(R"({"name":"x","kubernetes":{"tolerations":[{"key":"a","colour":"red"}]}})");
  ASSERT_TRUE(bad.ok());
  auto r = DefinitionFromJson(*bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("colour"), std::string::npos) << r.error().message();
}

TEST(JsonTest, DefinitionAcceptsHumanSizes) {
  auto v = ParseJson(
      R"({"name":"hello","command":"echo hi","env":{"N":1},"resources":{"cpu":"500m","memory":"64Mi"},"timeout":"10m"})");
  ASSERT_TRUE(v.ok());
  auto d = DefinitionFromJson(*v);
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ(d->resources.memory_bytes, 64 << 20);
  EXPECT_EQ(d->resources.cpu_millis, 500);
  EXPECT_EQ(d->timeout_seconds, 600);
  EXPECT_EQ(d->env.at("N"), "1");
}

TEST(JsonTest, DefinitionErrorsNameTheField) {
  struct Case {
    const char* json;
    const char* fragment;
  };
  for (auto c : {Case{R"({"name":"x","command":"y","resources":{"memory":"-1Gi"}})", "positive"},
                 Case{R"({"name":"x","command":"y","resources":{"memory":-5}})", "positive"},
                 Case{R"({"name":"x","command":"y","colour":"red"})", "unknown field 'colour'"},
                 Case{R"({"name":"x","command":7})", "command must be"},
                 Case{R"({"name":"x","command":"y","timeout":"soon"})", "timeout"},
                 Case{R"([1,2])", "must be a JSON object"}}) {
    auto v = ParseJson(c.json);
    ASSERT_TRUE(v.ok());
    auto d = DefinitionFromJson(*v);
    ASSERT_FALSE(d.ok()) << c.json;
    EXPECT_NE(d.error().message().find(c.fragment), std::string::npos) << d.error().message();
  }
}

TEST(JsonTest, RunRoundTrip) {
  tug::Run r;
  r.id = "01jd0000000000000000000000";
  r.owner = "ada";
  r.definition = "hello";
  r.definition_version = 3;
  r.status = RunStatus::kFailed;
  r.spec = SampleDefinition();
  r.overrides.env = {{"A", "b"}};
  r.overrides.resources.memory_bytes = 1 << 30;
  r.created_at = 1'700'000'000'000'001;
  r.ended_at = 1'700'000'001'000'000;
  r.outcome = Outcome{137, "OOMKilled", "memory limit reached"};
  r.plan = R"({"rule":"first.as_requested"})";
  Attempt a;
  a.id = r.id + "-1";
  a.run_id = r.id;
  a.status = AttemptStatus::kFailed;
  a.resources = {};
  a.resources.memory_bytes = 64 << 20;
  a.outcome = r.outcome;
  a.peak_memory_bytes = 67108864;
  a.cpu_micros = 1'250'000;
  a.diagnosis = R"({"class":"batch_container_oom","retryable":true})";
  a.decision = R"({"retry":true,"sentence":"attempt 2: memory 64Mi → 96Mi"})";
  a.placement = {"spot", ""};
  a.created_at = r.created_at;
  a.due_at = r.created_at;
  r.attempts.push_back(a);
  auto back = RunFromJson(ToJson(r));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, r);
  auto j = ToJson(r).as_object();
  EXPECT_EQ(j["attempts"].as_array()[0].as_object()["resources"].as_object()["memory"].as_int64(),
            64 << 20);
  EXPECT_EQ(j["attempts"].as_array()[0].as_object()["outcome"].as_object()["exit_code"].as_int64(),
            137);
}

TEST(JsonTest, RunSummaryCarriesOwnerAttemptCountAndFailureClass) {
  tug::Run r;
  r.id = "01jd0000000000000000000000";
  r.owner = "grace";
  r.definition = "etl";
  r.attempt_count = 3;
  r.last_failure_class = "user_code";
  auto j = ToJsonSummary(r);
  EXPECT_EQ(j["owner"].as_string(), "grace");
  EXPECT_EQ(j["attempt_count"].as_int64(), 3);
  EXPECT_EQ(j["failure_class"].as_string(), "user_code");
  auto back = RunFromJson(j);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->owner, "grace");
  EXPECT_EQ(back->attempt_count, 3);
  EXPECT_EQ(back->last_failure_class, "user_code");
  r.last_failure_class.clear();
  EXPECT_FALSE(ToJsonSummary(r).contains("failure_class"));
}

TEST(JsonTest, EventRoundTrip) {
  Event e{7, "r", "r-1", 1'700'000'000'000'000, "ended", "OOMKilled"};
  EXPECT_EQ(*EventFromJson(ToJson(e)), e);
}

TEST(JsonTest, MalformedJson) {
  auto v = ParseJson("{\"name\": ");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message().find("not valid JSON"), std::string::npos);
}

// Found by fuzz_yaml_definition: sizes no binary unit divides were printed rounded ("5G" as
// "4.7Gi", 1000001 bytes as "976.6Ki"), so a definition printed by the API and applied again
// changed size.
TEST(JsonTest, MemorySizesPrintExactly) {
  auto v = ParseJson(R"({"name":"sizes","kind":"spark","spark":{"version":"3.5","main":"x.py",
      "driver":{"memory":"1000001k","memoryOverhead":1000001,"maxResultSize":"1.5Gi"},
      "executor":{"memory":"5G","memoryOverhead":"384Mi"}},"adapt":{"max_memory":"64000000001"}})");
  ASSERT_TRUE(v.ok());
  auto d = DefinitionFromJson(*v);
  ASSERT_TRUE(d.ok()) << d.error().message();
  boost::json::value printed = ToJson(*d);
  EXPECT_EQ(printed.at("spark").at("executor").at("memory"), boost::json::value("5G"));
  EXPECT_EQ(printed.at("spark").at("executor").at("memoryOverhead"), boost::json::value("384Mi"));
  EXPECT_EQ(printed.at("spark").at("driver").at("memory"), boost::json::value("1000001k"));
  EXPECT_EQ(printed.at("spark").at("driver").at("memoryOverhead"), boost::json::value("1000001"));
  EXPECT_EQ(printed.at("spark").at("driver").at("maxResultSize"), boost::json::value("1536Mi"));
  EXPECT_EQ(printed.at("adapt").at("max_memory"), boost::json::value("64000000001"));
  auto back = DefinitionFromJson(printed);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(*back, *d);
}

TEST(JsonTest, DeepNestingIsRefusedNamingTheLimit) {
  auto v = ParseJson(std::string(100'000, '[') + std::string(100'000, ']'));
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message().find("nested more than 64 levels deep"), std::string::npos)
      << v.error().message();
  EXPECT_TRUE(ParseJson(std::string(64, '[') + std::string(64, ']')).ok());
}

}  // namespace
}  // namespace tug
