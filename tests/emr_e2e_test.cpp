// A real `tug server` with an emr section, driven through the real CLI: the StartJobRun body a
// dry run prints, a Spark run on the fake emr-containers (tests/fake_emr_containers.py) with its
// logs read back from moto's S3 across a server crash and restart, and the startup errors of a
// bad emr section. The server signs with the moto IAM user's keys (AWS_ACCESS_KEY_ID...), which
// the fake is told to accept too.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <memory>

#include <boost/json.hpp>

#include "aws/s3_client.h"
#include "fake_emr_fixture.h"
#include "moto_fixture.h"
#include "test_util.h"

namespace tug::testing {
namespace {
namespace json = boost::json;

constexpr char kBucket[] = "tug-emr-e2e";

std::string Str(const json::value& v) { return v.is_string() ? std::string(v.as_string()) : ""; }

constexpr char kSparkYaml[] = R"(name: etl
kind: spark
engine: emr-on-eks
spark:
  version: "3.5"
  main: s3://code/etl.py
  args: ["--date", "2026-12-07"]
  conf: {spark.sql.shuffle.partitions: "64"}
  driver: {cores: 1, memory: 2Gi}
  executor: {cores: 2, memory: 4Gi, instances: 3}
)";

constexpr char kPlainSparkYaml[] = R"(name: pi
kind: spark
spark:
  version: "3.5"
  main: s3://code/pi.py
)";

class EmrE2eTest : public ::testing::Test {
 protected:
  // Starts moto (S3, IAM) and the fake; writes the emr section into a config file.
  void StartBackends() {
    std::string error;
    ASSERT_TRUE(moto_.Start(&error)) << error;
    auto creds = moto_.CreateUser("tug-e2e", R"(["s3:*"])");
    ASSERT_TRUE(creds.ok()) << creds.error().ToString() << moto_.Log();
    creds_ = *creds;
    aws::S3Client s3(moto_.Client("s3", creds_));
    ASSERT_TRUE(s3.CreateBucket(kBucket).ok());
    FakeEmrOptions fo;
    fo.s3_endpoint = moto_.endpoint();
    fo.s3_credentials = creds_;
    fo.credentials = creds_;
    ASSERT_TRUE(fake_.Start(&error, fo)) << error;
    auto vc = fake_.Client()->CreateVirtualCluster("tug-e2e", "eks-e2e", "spark-jobs");
    ASSERT_TRUE(vc.ok()) << vc.error().ToString() << fake_.Log();
    vc_ = *vc;
    // The server process inherits these: its default credentials chain reads them first.
    ::setenv("AWS_ACCESS_KEY_ID", creds_.access_key_id.c_str(), 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", creds_.secret_access_key.c_str(), 1);
    ::unsetenv("AWS_SESSION_TOKEN");
    ::unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
  }
  std::string EmrConfig() const {
    return "emr:\n"
           "  virtual_cluster_id: " +
           vc_ +
           "\n"
           "  execution_role_arn: arn:aws:iam::123456789012:role/tug-emr-jobs\n"
           "  region: us-east-1\n"
           "  endpoint: " +
           fake_.endpoint() +
           "\n"
           "  s3_endpoint: " +
           moto_.endpoint() +
           "\n"
           "  release_labels: {\"3.5\": emr-7.1.0-latest}\n"
           "  log_bucket: " +
           kBucket +
           "\n"
           "  log_prefix: e2e/\n"
           "  poll_interval: 1s\n";
  }
  std::unique_ptr<ServerProcess> Server(const std::string& config_yaml) {
    std::vector<std::string> args;
    if (!config_yaml.empty()) args = {"--config", dir_.Write("tug.yaml", config_yaml)};
    return std::make_unique<ServerProcess>(dir_.path() + "/data", args);
  }
  void Apply(ServerProcess& server, const std::string& yaml) {
    auto r = server.Tug({"apply", "-f", dir_.Write("def.yaml", yaml)});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  json::object GetRun(ServerProcess& server, const std::string& id) {
    auto r = server.Tug({"get", "run", id, "-o", "json"});
    boost::system::error_code ec;
    json::value v = json::parse(r.out, ec);
    return ec || !v.is_object() ? json::object() : v.as_object();
  }
  std::string Status(ServerProcess& server, const std::string& id) {
    json::object run = GetRun(server, id);
    const json::value* s = run.if_contains("status");
    return s != nullptr && s->is_string() ? std::string(s->as_string()) : "";
  }

  TempDir dir_;
  MotoServer moto_;
  FakeEmrServer fake_;
  aws::Credentials creds_;
  std::string vc_;
};

// `tug run NAME --dry-run -o json` prints the StartJobRun request, and nothing reaches EMR.
TEST_F(EmrE2eTest, DryRunPrintsTheStartJobRunBody) {
  StartBackends();
  // Spark definitions without an engine go to EMR on this server.
  auto server = Server(EmrConfig() + "spark: {engine: emr-on-eks}\n");
  std::string error;
  ASSERT_TRUE(server->Start(&error)) << error;
  Apply(*server, kSparkYaml);
  auto r = server->Tug({"run", "etl", "--dry-run", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json::object dry = json::parse(r.out).as_object();
  EXPECT_EQ(dry.at("engine"), "emr-on-eks");
  EXPECT_FALSE(dry.contains("note"));
  const json::object& call = dry.at("launch").at("start_job_run").as_object();
  EXPECT_EQ(call.at("method"), "POST");
  EXPECT_EQ(Str(call.at("path")), "/virtualclusters/" + vc_ + "/jobruns");
  EXPECT_EQ(Str(call.at("endpoint")), fake_.endpoint());
  const json::object& body = call.at("body").as_object();
  EXPECT_EQ(body.at("name"), "etl-1");
  EXPECT_EQ(Str(body.at("virtualClusterId")), vc_);
  EXPECT_EQ(body.at("releaseLabel"), "emr-7.1.0-latest");
  EXPECT_EQ(body.at("executionRoleArn"), "arn:aws:iam::123456789012:role/tug-emr-jobs");
  const std::string token(body.at("clientToken").as_string());
  EXPECT_TRUE(token.ends_with("-1")) << token;  // the attempt id
  EXPECT_EQ(Str(body.at("tags").at("tugboat.attempt")), token);
  const json::object& driver = body.at("jobDriver").at("sparkSubmitJobDriver").as_object();
  EXPECT_EQ(driver.at("entryPoint"), "s3://code/etl.py");
  EXPECT_EQ(json::serialize(driver.at("entryPointArguments")), R"(["--date","2026-12-07"])");
  const json::object& props = body.at("configurationOverrides")
                                  .at("applicationConfiguration")
                                  .as_array()
                                  .at(0)
                                  .at("properties")
                                  .as_object();
  EXPECT_EQ(props.at("spark.executor.memory"), "4096m");
  EXPECT_EQ(props.at("spark.executor.instances"), "3");
  EXPECT_EQ(props.at("spark.sql.shuffle.partitions"), "64");
  EXPECT_EQ(Str(body.at("configurationOverrides")
                    .at("monitoringConfiguration")
                    .at("s3MonitoringConfiguration")
                    .at("logUri")),
            std::string("s3://") + kBucket + "/e2e/");
  // The table form names the call. A Spark definition without an engine takes spark.engine
  // (emr-on-eks here); --engine picks another for one run. Nothing was started on EMR.
  auto table = server->Tug({"run", "etl", "--dry-run"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("StartJobRun"), std::string::npos) << table.out;
  Apply(*server, kPlainSparkYaml);
  auto by_default = server->Tug({"run", "pi", "--dry-run", "-o", "json"});
  ASSERT_EQ(by_default.exit_code, 0) << by_default.err;
  EXPECT_EQ(json::parse(by_default.out).at("engine"), "emr-on-eks");
  auto per_run = server->Tug({"run", "pi", "--engine", "spark", "--dry-run", "-o", "json"});
  ASSERT_EQ(per_run.exit_code, 0) << per_run.err;
  EXPECT_EQ(json::parse(per_run.out).at("engine"), "spark");
  auto listed = fake_.Client()->ListJobRuns(vc_);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
  // An engine that cannot run the kind is refused with what to write instead.
  auto container = server->Tug({"run", "pi", "--engine", "local", "--dry-run"});
  EXPECT_NE(container.exit_code, 0);
  EXPECT_NE(container.err.find("kind spark runs on engine spark"), std::string::npos)
      << container.err;
}

// Without an emr section the dry run still shows the body, with placeholders and a note; a real
// run is refused with what to configure.
TEST_F(EmrE2eTest, DryRunWithoutAnEmrSectionShowsPlaceholders) {
  auto server = Server("");
  std::string error;
  ASSERT_TRUE(server->Start(&error)) << error;
  Apply(*server, kSparkYaml);
  auto r = server->Tug({"run", "etl", "--dry-run", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json::object dry = json::parse(r.out).as_object();
  EXPECT_EQ(dry.at("engine"), "emr-on-eks");
  EXPECT_NE(std::string(dry.at("note").as_string()).find("no emr section"), std::string::npos);
  const json::object& body = dry.at("launch").at("start_job_run").at("body").as_object();
  EXPECT_EQ(body.at("virtualClusterId"), "<emr.virtual_cluster_id>");
  EXPECT_EQ(body.at("releaseLabel"), "<emr.release_labels[\"3.5\"]>");
  auto real = server->Tug({"run", "etl"});
  EXPECT_NE(real.exit_code, 0);
  EXPECT_NE(real.err.find("no emr section"), std::string::npos) << real.err;
  // A Spark definition without an engine picks EMR for one run with --engine.
  Apply(*server, kPlainSparkYaml);
  auto per_run = server->Tug({"run", "pi", "--engine", "emr-on-eks", "--dry-run", "-o", "json"});
  ASSERT_EQ(per_run.exit_code, 0) << per_run.err;
  EXPECT_EQ(json::parse(per_run.out).at("engine"), "emr-on-eks");
}

// The server is killed while the job runs on EMR; the next server adopts the job run (no second
// StartJobRun), reports its end and reads its logs back from S3.
TEST_F(EmrE2eTest, ARunSurvivesAServerRestartWithOneJobRun) {
  StartBackends();
  const std::string go = dir_.path() + "/go";
  const std::string yaml = std::string(R"(name: waits
kind: spark
engine: emr-on-eks
spark:
  version: "3.5"
  main: local:///bin/sh
  args: ["-c", "echo hello from emr; while [ ! -e ')") +
                           go +
                           R"(' ]; do sleep 0.1; done; echo done after the restart"]
)";
  auto first = Server(EmrConfig());
  std::string error;
  ASSERT_TRUE(first->Start(&error)) << error;
  Apply(*first, yaml);
  auto submitted = first->Tug({"run", "waits"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  std::string id = submitted.out;
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  ASSERT_TRUE(WaitFor([&] { return Status(*first, id) == "RUNNING"; }))
      << Status(*first, id) << "\n"
      << first->Log();
  first->Kill();
  first.reset();
  std::ofstream(go).flush();

  auto second = Server(EmrConfig());
  ASSERT_TRUE(second->Start(&error)) << error;
  ASSERT_TRUE(WaitFor([&] { return Status(*second, id) == "SUCCEEDED"; }))
      << Status(*second, id) << "\n"
      << second->Log();
  auto runs = fake_.Client()->ListJobRuns(vc_);
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(runs->size(), 1u) << "the restart must not start a second job run";
  auto logs = second->Tug({"logs", id, "--component", "driver"});
  ASSERT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_NE(logs.out.find("hello from emr"), std::string::npos) << logs.out;
  EXPECT_NE(logs.out.find("done after the restart"), std::string::npos) << logs.out;
  auto events = second->Tug({"events", id});
  EXPECT_NE(events.out.find("EMR job run"), std::string::npos) << events.out;
}

// A bad emr section stops the server at startup with a message that names the key.
TEST_F(EmrE2eTest, BadEmrConfigStopsTheServer) {
  auto server = Server(
      "emr:\n  virtual_cluster_id: abc123\n  execution_role_arn: jobs\n  region: us-east-1\n"
      "  release_labels: {\"3.5\": emr-7.1.0-latest}\n  log_bucket: tug-logs\n");
  std::string error;
  EXPECT_FALSE(server->Start(&error));
  EXPECT_NE(error.find("emr.execution_role_arn 'jobs' is not an IAM role ARN"), std::string::npos)
      << error;
}

}  // namespace
}  // namespace tug::testing
