// Team queues through a real `tug server` (SQLite, local engine): issue 26's check. Two queues
// of 2 CPUs each, ten 1-CPU runs submitted to each: at no sample do more than 2 run per queue,
// a waiting run says which limit holds it, and both queues run to the end.
#include <gtest/gtest.h>

#include <map>

#include <boost/json.hpp>

#include "net/http_client.h"
#include "test_util.h"

namespace json = boost::json;

namespace tug::testing {
namespace {

constexpr int kRunsPerQueue = 10;

// A 1-CPU job of queue team-<team> that takes a second.
std::string JobDefinition(const std::string& team) {
  return R"({"name":"job-)" + team + R"(","command":"sleep 1","queue":"team-)" + team +
         R"(","resources":{"cpu":"1","memory":"64Mi"}})";
}

class QueuesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string config = dir_.Write("tug.yaml", R"(
queues:
  - name: team-a
    cpu: 2
  - name: team-b
    cpu: 2
)");
    server_ = std::make_unique<ServerProcess>(dir_.path() + "/data",
                                              std::vector<std::string>{"--config", config});
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
    auto c = net::HttpClient::Create(server_->url());
    ASSERT_TRUE(c.ok());
    client_ = std::make_unique<net::HttpClient>(std::move(*c));
  }
  void TearDown() override {
    if (HasFailure() && server_) std::cerr << "server log:\n" << server_->Log() << "\n";
  }

  std::pair<int, json::value> Call(const std::string& method, const std::string& target,
                                   const std::string& body = "") {
    auto r = client_->Send(method, target, body);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
    if (!r.ok()) return {0, nullptr};
    boost::system::error_code ec;
    return {r->status, json::parse(r->body, ec)};
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<net::HttpClient> client_;
};

TEST_F(QueuesTest, AtMostTwoRunPerQueueAndBothQueuesFinish) {
  for (const char* team : {"a", "b"}) {
    const std::string def = JobDefinition(team);
    auto [status, body] = Call("PUT", std::string("/api/v1/definitions/job-") + team, def);
    ASSERT_TRUE(status == 200 || status == 201) << json::serialize(body);
  }
  std::vector<std::string> ids;
  for (int i = 0; i < kRunsPerQueue; ++i) {
    for (const char* team : {"a", "b"}) {
      auto [status, body] =
          Call("POST", "/api/v1/runs", std::string(R"({"definition":"job-)") + team + R"("})");
      ASSERT_EQ(status, 201) << json::serialize(body);
      EXPECT_EQ(body.at("queue"), json::value(std::string("team-") + team));
      ids.emplace_back(body.at("id").as_string());
    }
  }
  int max_running[2] = {0, 0};
  bool saw_reason = false;
  const bool done = WaitFor(
      [&] {
        auto [status, body] = Call("GET", "/api/v1/runs?limit=500");
        if (status != 200) return false;
        std::map<std::string, int> running;
        int finished = 0;
        for (const auto& r : body.at("runs").as_array()) {
          const std::string st(r.at("status").as_string());
          const std::string queue(r.at("queue").as_string());
          if (st == "RUNNING") ++running[queue];
          if (st == "SUCCEEDED") ++finished;
          if (st == "FAILED" || st == "LOST" || st == "STOPPED") {
            ADD_FAILURE() << "a run ended " << st << ": " << json::serialize(r);
            return true;
          }
          if (st == "QUEUED" && r.as_object().contains("queue_reason")) {
            EXPECT_EQ(r.at("queue_reason"), json::value(queue + ": 2 of 2 CPUs in use"));
            saw_reason = true;
          }
        }
        max_running[0] = std::max(max_running[0], running["team-a"]);
        max_running[1] = std::max(max_running[1], running["team-b"]);
        EXPECT_LE(running["team-a"], 2);
        EXPECT_LE(running["team-b"], 2);
        return finished == 2 * kRunsPerQueue;
      },
      std::chrono::seconds(240));
  ASSERT_TRUE(done) << "the queues did not run to the end";
  EXPECT_GE(max_running[0], 1);
  EXPECT_GE(max_running[1], 1);
  EXPECT_TRUE(saw_reason) << "no waiting run said which limit held it";
}

}  // namespace
}  // namespace tug::testing
