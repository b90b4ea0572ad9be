// Issue 26 through API v1 (authentication on, ApiHarness on a real SQLite store): idempotency
// keys (also two replicas on one store), parent runs and cascading stops, GPU runs on the local
// engine, the environment every engine gets, and the config keys behind them.
#include <atomic>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "control/controller.h"
#include "server/api_auth_fixture.h"
#include "server/config.h"

namespace tug::server::testing {
namespace {

class ApiLineageTest : public ApiAuthTest {
 protected:
  void SetUp() override {
    ApiAuthTest::SetUp();
    Define("hello", "science");
  }

  std::string Id(const Reply& r) {
    if (!r.body.is_object() || !r.body.as_object().contains("id")) return "";
    return std::string(r.body.at("id").as_string());
  }
  std::string StatusOf(const std::string& id) {
    auto r = Call("GET", "/api/v1/runs/" + id, "", admin_);
    EXPECT_EQ(r.status, 200) << r.raw;
    return std::string(r.body.at("status").as_string());
  }
  int64_t RunRows() {
    auto rows = api_->CountRows();
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? rows->runs : -1;
  }
};

TEST_F(ApiLineageTest, ARepeatedKeyReturnsTheFirstRun) {
  const std::string body =
      R"({"definition":"hello","env":{"A":"1"},"idempotency_key":"nightly-1"})";
  auto first = Call("POST", "/api/v1/runs", body, ada_);
  ASSERT_EQ(first.status, 201) << first.raw;
  const std::string id = Id(first);
  // The same request: 200 and the same run, whether the key is in the body or the header, and
  // whatever the key order and units.
  auto again = Call("POST", "/api/v1/runs", body, ada_);
  EXPECT_EQ(again.status, 200) << again.raw;
  EXPECT_EQ(Id(again), id);
  net::Request req =
      MakeRequest("POST", "/api/v1/runs", R"({"env":{"A":"1"},"definition":"hello"})", ada_);
  req.headers["idempotency-key"] = "nightly-1";
  net::Response header = api_->Call(req);
  EXPECT_EQ(header.status, 200) << header.body;
  EXPECT_NE(header.body.find(id), std::string::npos);
  // Another request with the key: 409 naming the run.
  auto other =
      Call("POST", "/api/v1/runs",
           R"({"definition":"hello","env":{"A":"2"},"idempotency_key":"nightly-1"})", ada_);
  EXPECT_EQ(other.status, 409) << other.raw;
  EXPECT_NE(other.Message().find("already used for a different request"), std::string::npos);
  EXPECT_NE(other.Message().find(id), std::string::npos);
  EXPECT_EQ(RunRows(), 1);
  // Keys are per owner: bob's "nightly-1" is his own.
  Define("ops-job", "ops");
  auto bobs = Call("POST", "/api/v1/runs",
                   R"({"definition":"ops-job","idempotency_key":"nightly-1"})", bob_);
  EXPECT_EQ(bobs.status, 201) << bobs.raw;
  EXPECT_NE(Id(bobs), id);
  // No key: a new run every time.
  EXPECT_EQ(Call("POST", "/api/v1/runs", R"({"definition":"hello","env":{"A":"1"}})", ada_).status,
            201);
  EXPECT_EQ(RunRows(), 3);
}

TEST_F(ApiLineageTest, BadKeysAre400AndWriteNothing) {
  net::Request req =
      MakeRequest("POST", "/api/v1/runs", R"({"definition":"hello","idempotency_key":"a"})", ada_);
  req.headers["idempotency-key"] = "b";
  net::Response both = api_->Call(req);
  EXPECT_EQ(both.status, 400);
  EXPECT_NE(both.body.find("differ"), std::string::npos) << both.body;
  for (const char* bad : {R"({"definition":"hello","idempotency_key":""})",
                          R"({"definition":"hello","idempotency_key":"has space"})",
                          R"({"definition":"hello","idempotency_key":7})"}) {
    auto r = Call("POST", "/api/v1/runs", bad, ada_);
    EXPECT_EQ(r.status, 400) << bad << " " << r.raw;
  }
  EXPECT_EQ(RunRows(), 0);
}

TEST_F(ApiLineageTest, ConcurrentDuplicatesOnTwoReplicasCreateOneRun) {
  // A second API on the same database file: another replica.
  ApiHarness::Extras extras;
  extras.auth = true;
  auto second = ApiHarness::Open(dir_, ApiOptions{}, std::move(extras));
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  constexpr int kRequests = 8;
  const std::string body = R"({"definition":"hello","idempotency_key":"race"})";
  std::vector<net::Response> replies(kRequests);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < kRequests) std::this_thread::yield();
      ApiHarness& replica = i % 2 == 0 ? *api_ : **second;
      replies[i] = replica.Call(MakeRequest("POST", "/api/v1/runs", body, ada_));
    });
  }
  for (auto& t : threads) t.join();
  int created = 0;
  std::set<std::string> ids;
  for (const auto& r : replies) {
    ASSERT_TRUE(r.status == 201 || r.status == 200) << r.status << " " << r.body;
    created += r.status == 201 ? 1 : 0;
    ids.insert(std::string(json::parse(r.body).at("id").as_string()));
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(RunRows(), 1);
}

TEST_F(ApiLineageTest, ParentsAreCheckedStoredAndListed) {
  const std::string parent = Submit("hello", ada_);
  auto child = Call("POST", "/api/v1/runs",
                    R"({"definition":"hello","parent_run_id":")" + parent + "\"}", ada_);
  ASSERT_EQ(child.status, 201) << child.raw;
  EXPECT_EQ(child.body.at("parent_run_id").as_string(), parent);
  const std::string child_id = Id(child);
  Submit("hello", ada_);  // unrelated
  auto got = Call("GET", "/api/v1/runs/" + child_id, "", ada_);
  EXPECT_EQ(got.body.at("parent_run_id").as_string(), parent);
  EXPECT_FALSE(
      Call("GET", "/api/v1/runs/" + parent, "", ada_).body.as_object().contains("parent_run_id"));
  auto listed = Call("GET", "/api/v1/runs?parent=" + parent, "", ada_);
  ASSERT_EQ(listed.status, 200) << listed.raw;
  ASSERT_EQ(listed.body.at("runs").as_array().size(), 1u);
  EXPECT_EQ(listed.body.at("runs").at(0).at("id").as_string(), child_id);

  // A parent that does not exist, or that the caller cannot see: 422, nothing written.
  const int64_t before = RunRows();
  auto missing =
      Call("POST", "/api/v1/runs", R"({"definition":"hello","parent_run_id":"01nosuchrun"})", ada_);
  EXPECT_EQ(missing.status, 422) << missing.raw;
  EXPECT_NE(missing.Message().find("parent_run_id '01nosuchrun' is not a run you can see"),
            std::string::npos);
  Define("ops-job", "ops");
  auto hidden = Call("POST", "/api/v1/runs",
                     R"({"definition":"ops-job","parent_run_id":")" + parent + "\"}", bob_);
  EXPECT_EQ(hidden.status, 422) << hidden.raw;
  EXPECT_EQ(RunRows(), before);
}

TEST_F(ApiLineageTest, CascadeStopsDescendantsTheCallerMayStop) {
  auto child_of = [&](const std::string& parent, const std::string& token) {
    auto r = Call("POST", "/api/v1/runs",
                  R"({"definition":"hello","parent_run_id":")" + parent + "\"}", token);
    EXPECT_EQ(r.status, 201) << r.raw;
    return Id(r);
  };
  const std::string parent = Submit("hello", ada_);
  const std::string child = child_of(parent, ada_);
  const std::string grandchild = child_of(child, ada_);
  const std::string admins = child_of(parent, admin_);  // ada may not stop it
  const std::string unrelated = Submit("hello", ada_);
  // The child ends first: its own child still runs, and the cascade reaches it through it.
  ASSERT_EQ(Call("POST", "/api/v1/runs/" + child + "/stop", "", ada_).status, 202);
  EXPECT_EQ(StatusOf(grandchild), "QUEUED");

  EXPECT_EQ(Call("POST", "/api/v1/runs/" + parent + "/stop?cascade=maybe", "", ada_).status, 400);
  auto stopped = Call("POST", "/api/v1/runs/" + parent + "/stop?cascade=true", "", ada_);
  ASSERT_EQ(stopped.status, 202) << stopped.raw;
  EXPECT_EQ(json::serialize(stopped.body.at("cascade").at("stopped")), "[\"" + grandchild + "\"]");
  EXPECT_EQ(stopped.body.at("cascade").at("skipped").as_int64(), 1);
  EXPECT_EQ(StatusOf(parent), "STOPPED");
  EXPECT_EQ(StatusOf(grandchild), "STOPPED");
  EXPECT_EQ(StatusOf(admins), "QUEUED");
  EXPECT_EQ(StatusOf(unrelated), "QUEUED");
  // Without cascade only the run itself stops; an ended parent still cascades.
  auto again = Call("POST", "/api/v1/runs/" + parent + "/stop?cascade=true", "", admin_);
  ASSERT_EQ(again.status, 202) << again.raw;
  EXPECT_EQ(StatusOf(admins), "STOPPED");
}

TEST_F(ApiLineageTest, LocalGpuRunsNeedAGpuOnTheHost) {
  ApiOptions none;
  none.host_has_gpu = [] { return false; };
  Open(none);
  Define("train", "science", R"(,"resources":{"gpu":1})");
  auto refused = Call("POST", "/api/v1/runs", R"({"definition":"train"})", ada_);
  EXPECT_EQ(refused.status, 422) << refused.raw;
  EXPECT_NE(refused.Message().find("asks for 1 GPU(s), but this server's local engine has none"),
            std::string::npos)
      << refused.Message();
  // A run override asks for GPUs too.
  auto override_gpu =
      Call("POST", "/api/v1/runs", R"({"definition":"hello","resources":{"gpu":2}})", ada_);
  EXPECT_EQ(override_gpu.status, 422) << override_gpu.raw;
  EXPECT_EQ(RunRows(), 0);
  auto bad =
      Call("POST", "/api/v1/runs", R"({"definition":"hello","resources":{"gpu":"two"}})", ada_);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.Message().find("'gpu' must be a whole number of GPUs"), std::string::npos)
      << bad.Message();
  auto negative = Call("PUT", "/api/v1/definitions/neg",
                       R"({"name":"neg","command":"true","resources":{"gpu":-1}})", admin_);
  EXPECT_EQ(negative.status, 400) << negative.raw;

  ApiOptions has;
  has.host_has_gpu = [] { return true; };
  Open(has);
  auto ok = Call("POST", "/api/v1/runs", R"({"definition":"train"})", ada_);
  ASSERT_EQ(ok.status, 201) << ok.raw;
  EXPECT_EQ(ok.body.at("spec").at("resources").at("gpu").as_int64(), 1);
  EXPECT_EQ(ok.body.at("attempts").at(0).at("resources").at("gpu").as_int64(), 1);
  EXPECT_EQ(ok.body.at("attempts").at(0).at("placement").at("capacity").as_string(), "on-demand");

  // Spark GPUs are per executor, on the spark engine: emr-on-eks refuses them with 422 (a dry
  // run too), and nothing is written.
  auto spark = Call("PUT", "/api/v1/definitions/sgpu",
                    R"({"name":"sgpu","kind":"spark","engine":"emr-on-eks","owner":"ada",)"
                    R"("group":"science","spark":{"version":"3.5","main":"s3://b/app.py"},)"
                    R"("resources":{"gpu":1}})",
                    admin_);
  ASSERT_EQ(spark.status, 201) << spark.raw;
  const int64_t rows = RunRows();
  auto emr = Call("POST", "/api/v1/runs?dry_run=true", R"({"definition":"sgpu"})", ada_);
  EXPECT_EQ(emr.status, 422) << emr.raw;
  EXPECT_NE(emr.Message().find("does not schedule GPUs on emr-on-eks"), std::string::npos)
      << emr.Message();
  EXPECT_EQ(RunRows(), rows);
}

// The environment every engine's launch spec carries (control::LaunchSpecFor is where it is
// assembled for the local, kubernetes, spark and EMR engines alike).
TEST(LaunchEnvTest, RunIdServerAndParentReplaceTheDefinitions) {
  tug::Run run;
  run.id = "01jchild";
  run.parent_run_id = "01jparent";
  run.spec.command = "true";
  run.spec.env = {{"TUG_RUN_ID", "spoofed"}, {"KEEP", "1"}};
  run.spec.secret_env["TUG_SERVER"] = SecretEnv{"x", "", ""};
  Attempt a;
  a.id = "01jchild-1";
  a.run_id = run.id;
  auto spec = control::LaunchSpecFor(run, a, "http://tug.example:8080");
  EXPECT_EQ(spec.env.at("TUG_RUN_ID"), "01jchild");
  EXPECT_EQ(spec.env.at("TUG_PARENT_RUN_ID"), "01jparent");
  EXPECT_EQ(spec.env.at("TUG_SERVER"), "http://tug.example:8080");
  EXPECT_EQ(spec.env.at("KEEP"), "1");
  EXPECT_EQ(spec.secret_env.count("TUG_SERVER"), 0u);
  run.parent_run_id.clear();
  auto top = control::LaunchSpecFor(run, a, "");
  EXPECT_EQ(top.env.count("TUG_PARENT_RUN_ID"), 0u);
  EXPECT_EQ(top.env.count("TUG_SERVER"), 0u);
  EXPECT_EQ(top.env.at("TUG_RUN_ID"), "01jchild");
}

TEST(LineageConfigTest, KeysAreValidated) {
  Config c = DefaultConfig();
  EXPECT_EQ(c.idempotency_retention_seconds, 7 * 86400);
  ASSERT_TRUE(
      ApplyYaml(c, "idempotency_retention: 30d\nadvertise_url: https://tug.example/\n", "t.yaml")
          .ok());
  EXPECT_EQ(c.idempotency_retention_seconds, 30 * 86400);
  EXPECT_EQ(c.advertise_url, "https://tug.example");
  auto short_window = ApplyYaml(c, "idempotency_retention: 10s\n", "t.yaml");
  ASSERT_FALSE(short_window.ok());
  EXPECT_NE(short_window.error().message().find("from 1m to 365d"), std::string::npos);
  EXPECT_FALSE(ApplyYaml(c, "advertise_url: tug.example\n", "t.yaml").ok());
  EXPECT_FALSE(ApplyYaml(c, "limits:\n  max_gpu: -1\n", "t.yaml").ok());
  ASSERT_TRUE(ApplyYaml(c, "limits:\n  max_gpu: 4\n", "t.yaml").ok());
  EXPECT_EQ(c.limits.max_gpu, 4);

  ASSERT_TRUE(ApplyYaml(c, R"(clusters:
  - name: prod
    in_cluster: true
    gpu:
      node_selector: {nvidia.com/gpu.present: "true"}
      tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
)",
                        "t.yaml")
                  .ok());
  ASSERT_EQ(c.clusters.size(), 1u);
  EXPECT_EQ(c.clusters[0].gpu_node_selector.at("nvidia.com/gpu.present"), "true");
  ASSERT_EQ(c.clusters[0].gpu_tolerations.size(), 1u);
  EXPECT_EQ(c.clusters[0].gpu_tolerations[0].op, "Exists");
  for (const char* bad :
       {"clusters:\n  - {name: p, in_cluster: true, gpu: {node_selector: {'bad key!': x}}}\n",
        "clusters:\n  - {name: p, in_cluster: true, gpu: {tolerations: [{key: a, operator: "
        "Maybe}]}}\n",
        "clusters:\n  - {name: p, in_cluster: true, gpu: {tolerations: [{key: a, operator: "
        "Exists, value: v}]}}\n",
        "clusters:\n  - {name: p, in_cluster: true, gpu: {labels: {}}}\n"}) {
    Config d = DefaultConfig();
    EXPECT_FALSE(ApplyYaml(d, bad, "t.yaml").ok()) << bad;
  }
}

}  // namespace
}  // namespace tug::server::testing
