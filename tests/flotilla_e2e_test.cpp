// Flotilla v6 end to end, without the CLI: a real `tug server` (SQLite, the local engine with
// real cgroup limits) started with `flotilla_v6: true`, driven over HTTP the way Flotilla's
// clients drive Flotilla (issue 22's check):
//   POST /api/v6/task → GET /api/v6/task?limit=5&offset=0 (total, definitions)
//   → PUT /api/v6/task/{id}/execute → GET /api/v6/history/{run_id} until it ended
//   → GET /api/v6/{run_id}/logs with last_seen paging; then a v7 template executed from a
//   payload and read back the same way.
// Flotilla's success is status STOPPED with exit_code 0 (its UI shows it as SUCCESS); the same
// run reads SUCCEEDED through API v1. Without the setting, /api/v6/ is not served.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "net/http_client.h"
#include "test_util.h"

namespace json = boost::json;

namespace tug::testing {
namespace {

struct Reply {
  int status = 0;
  std::string raw;
  std::string content_type;
  json::value body;
};

class FlotillaE2eTest : public ::testing::Test {
 protected:
  void Start(bool v6) {
    std::vector<std::string> args;
    if (v6) args = {"--config", dir_.Write("tug.yaml", "flotilla_v6: true\n")};
    server_ = std::make_unique<ServerProcess>(dir_.path() + "/data", args);
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
    auto c = net::HttpClient::Create(server_->url());
    ASSERT_TRUE(c.ok());
    client_ = std::make_unique<net::HttpClient>(std::move(*c));
  }
  void TearDown() override {
    if (HasFailure() && server_) std::cerr << "server log:\n" << server_->Log() << "\n";
    client_.reset();
    server_.reset();
  }

  Reply Call(const std::string& method, const std::string& target, const std::string& body = "") {
    auto r = client_->Send(method, target, body);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
    if (!r.ok()) return {};
    Reply out{r->status, r->body, r->content_type, nullptr};
    boost::system::error_code ec;
    out.body = json::parse(r->body, ec);
    return out;
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<net::HttpClient> client_;
};

TEST_F(FlotillaE2eTest, CreateExecutePollAndReadLogsByV6) {
  Start(/*v6=*/true);
  // ui/src/types.ts CreateTaskPayload, as Flotilla's UI posts it.
  auto created = Call("POST", "/api/v6/task",
                      R"({"alias":"hello-v6","group_name":"e2e","image":"debian:12",)"
                      R"("memory":64,"cpu":500,"tags":["e2e"],)"
                      R"("command":"echo \"hello from v6, greeting $GREETING\"; )"
                      R"(echo \"run $FLOTILLA_RUN_ID for $FLOTILLA_RUN_OWNER_ID\"; )"
                      R"(for i in $(seq 1 300); do echo line $i; done",)"
                      R"("env":[{"name":"GREETING","value":"hi"}]})");
  ASSERT_EQ(created.status, 200) << created.raw;
  EXPECT_EQ(created.content_type, "application/json; charset=utf-8");
  const std::string id(created.body.at("definition_id").as_string());
  EXPECT_EQ(id, "hello-v6");

  auto listed = Call("GET", "/api/v6/task?limit=5&offset=0");
  ASSERT_EQ(listed.status, 200) << listed.raw;
  EXPECT_EQ(listed.body.at("total"), json::value(1));
  ASSERT_EQ(listed.body.at("definitions").as_array().size(), 1u);
  EXPECT_EQ(listed.body.at("definitions").at(0).at("alias"), json::value("hello-v6"));

  // ui/src/helpers/FlotillaClient.ts runTask: run_tags with the owner, env overrides.
  auto run = Call("PUT", "/api/v6/task/" + id + "/execute",
                  R"({"run_tags":{"owner_id":"e2e@example.com"},)"
                  R"("env":[{"name":"GREETING","value":"ahoy"}]})");
  ASSERT_EQ(run.status, 200) << run.raw;
  const std::string run_id(run.body.at("run_id").as_string());
  EXPECT_EQ(run.body.at("status"), json::value("QUEUED"));

  // Poll Flotilla's one-run route until the run has ended, as its clients do.
  json::value last;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = Call("GET", "/api/v6/history/" + run_id);
        if (r.status != 200) return false;
        last = r.body;
        return r.body.at("status") == json::value("STOPPED");
      },
      std::chrono::seconds(90)))
      << json::serialize(last);
  EXPECT_EQ(last.at("exit_code"), json::value(0)) << json::serialize(last);
  EXPECT_EQ(last.at("run_id"), json::value(run_id));
  EXPECT_EQ(last.at("cluster"), json::value("local"));
  EXPECT_EQ(last.at("memory"), json::value(64));
  EXPECT_TRUE(last.as_object().contains("finished_at"));
  // The same run through API v1: SUCCEEDED.
  auto v1 = Call("GET", "/api/v1/runs/" + run_id);
  ASSERT_EQ(v1.status, 200) << v1.raw;
  EXPECT_EQ(v1.body.at("status"), json::value("SUCCEEDED"));

  // Logs by v6: 256 lines an answer, then on from last_seen until nothing is new.
  std::string log;
  std::string last_seen;
  int answers = 0;
  while (answers < 10) {
    auto r = Call("GET", "/api/v6/" + run_id + "/logs?last_seen=" + last_seen);
    ASSERT_EQ(r.status, 200) << r.raw;
    ++answers;
    std::string piece(r.body.at("log").as_string());
    last_seen = std::string(r.body.at("last_seen").as_string());
    if (piece.empty()) break;
    log += piece;
  }
  EXPECT_GE(answers, 3) << "300 lines and more take two pages, then an empty one";
  EXPECT_NE(log.find("hello from v6, greeting ahoy"), std::string::npos) << log;
  EXPECT_NE(log.find("run " + run_id + " for e2e@example.com"), std::string::npos) << log;
  EXPECT_NE(log.find("line 300\n"), std::string::npos);
  EXPECT_EQ(log.find("line 300\nline 300"), std::string::npos) << "a line came twice";

  // The run in the history, found by Flotilla's status filter.
  auto history = Call("GET", "/api/v6/history?status=STOPPED&sort_by=started_at&order=desc");
  ASSERT_EQ(history.status, 200) << history.raw;
  EXPECT_EQ(history.body.at("total"), json::value(1));
  EXPECT_EQ(history.body.at("history").at(0).at("run_id"), json::value(run_id));

  // A v7 template on the same server: the payload validated, rendered into the command (one
  // shell word per value, so the quote and the $(...) arrive as text), run by the local engine.
  auto tpl = Call("POST", "/api/v7/template",
                  R"({"template_name":"greet-v7","image":"debian:12","memory":64,)"
                  R"("command_template":"echo greeting {{.name}} times {{.times}}",)"
                  R"("schema":{"type":"object","properties":{"name":{"type":"string"},)"
                  R"("times":{"type":"integer","minimum":1}},"required":["name"]},)"
                  R"("defaults":{"times":3}})");
  ASSERT_EQ(tpl.status, 200) << tpl.raw;
  auto bad = Call("PUT", "/api/v7/template/greet-v7/execute",
                  R"({"owner_id":"e2e","template_payload":{"times":3}})");
  EXPECT_EQ(bad.status, 422) << bad.raw;
  auto trun = Call("PUT", "/api/v7/template/greet-v7/execute",
                   R"js({"owner_id":"e2e","template_payload":{"name":"it's $(id)"}})js");
  ASSERT_EQ(trun.status, 200) << trun.raw;
  const std::string trun_id(trun.body.at("run_id").as_string());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = Call("GET", "/api/v7/template/history/" + trun_id);
        last = r.body;
        return r.status == 200 && r.body.at("status") == json::value("STOPPED");
      },
      std::chrono::seconds(90)))
      << json::serialize(last);
  EXPECT_EQ(last.at("exit_code"), json::value(0)) << json::serialize(last);
  auto tlog = Call("GET", "/api/v6/" + trun_id + "/logs?last_seen=");
  ASSERT_EQ(tlog.status, 200) << tlog.raw;
  EXPECT_NE(tlog.body.at("log").as_string().find("greeting it's $(id) times 3"), json::string::npos)
      << tlog.raw;
}

TEST_F(FlotillaE2eTest, NotServedWithoutTheSetting) {
  Start(/*v6=*/false);
  EXPECT_EQ(Call("GET", "/api/v6/task?limit=5&offset=0").status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/definitions").status, 200);
}

}  // namespace
}  // namespace tug::testing
