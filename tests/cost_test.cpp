// Cost per run through a real server (local engine, built-in prices) and the real CLI: a run
// whose first attempt fails and is retried has a cost with every attempt's cost and the retry's
// apart (issue 23's check: `tug get run ID -o json`), the table says "retries cost", runs sort by
// cost, and /metrics counts cost by definition and owner.
#include <cmath>

#include "e2e_fixture.h"
#include "net/http_client.h"

namespace json = boost::json;

namespace tug::testing {
namespace {

double Num(const json::value& v) { return v.to_number<double>(); }

TEST_F(E2eTest, RetriedRunCostsEachAttemptAndShowsTheRetriesApart) {
  std::string marker = dir_.path() + "/flaky.count";
  // Fails the first time with a throttling error (retried after a 1-2 s back-off), then works.
  std::string yaml = R"y(name: flaky
command: |
  echo run >> MARKER
  sleep 0.3
  if [ "$(wc -l < MARKER)" -lt 2 ]; then
    echo "Status Code: 503, AWS Service: Amazon S3, Error Code: SlowDown, 503 Slow Down" >&2
    exit 1
  fi
  echo done
resources: {memory: 1Gi, cpu: 1}
retry: {max_attempts: 3, backoff: {initial: 2s, max: 10s}}
)y";
  yaml.replace(yaml.find("MARKER"), 6, marker);
  yaml.replace(yaml.find("MARKER"), 6, marker);
  Apply(yaml);
  Apply("name: cheap\ncommand: \"true\"\nresources: {memory: 64Mi, cpu: 250m}\n");

  auto r = server_->Tug({"run", "flaky", "--wait", "-o", "json"}, std::chrono::seconds(120));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string id(json::parse(r.out).at("id").as_string());
  auto cheap = server_->Tug({"run", "cheap", "--wait", "-o", "json"});
  ASSERT_EQ(cheap.exit_code, 0) << cheap.out << cheap.err;
  const std::string cheap_id(json::parse(cheap.out).at("id").as_string());

  json::object run = GetRun(id);
  ASSERT_EQ(run["status"], "SUCCEEDED") << json::serialize(run);
  ASSERT_TRUE(run["cost"].is_object()) << json::serialize(run);
  const json::object& cost = run["cost"].as_object();
  EXPECT_EQ(cost.at("currency"), "USD");
  EXPECT_EQ(cost.at("basis"), "requested");
  EXPECT_EQ(cost.at("estimated"), false);
  const json::array& attempts = run["attempts"].as_array();
  ASSERT_EQ(attempts.size(), 2u) << json::serialize(run);
  const json::value& failed = attempts[0].at("cost");
  const json::value& ok = attempts[1].at("cost");
  EXPECT_EQ(failed.at("retry"), true);
  EXPECT_EQ(ok.at("retry"), false);
  // Each ran at least its 0.3 s sleep on 1 cpu and 1Gi at the local engine's rates.
  const double floor = 0.3 * (0.04048 + 0.004445) / 3600;
  EXPECT_GE(Num(failed.at("usd")), floor) << json::serialize(failed);
  EXPECT_GE(Num(ok.at("usd")), floor) << json::serialize(ok);
  EXPECT_NE(std::string(failed.at("basis").as_string()).find("requested 1 cpu / 1Gi"),
            std::string::npos)
      << json::serialize(failed);
  const double total = Num(cost.at("total"));
  EXPECT_NEAR(total, Num(failed.at("usd")) + Num(ok.at("usd")), 1e-9);
  EXPECT_NEAR(Num(cost.at("retries")), Num(failed.at("usd")), 1e-9);
  EXPECT_NEAR(Num(cost.at("succeeded")), Num(ok.at("usd")), 1e-9);

  // The table: the cost, the retries' apart, and each attempt's.
  auto shown = server_->Tug({"get", "run", id});
  EXPECT_NE(shown.out.find("Cost:"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("retries cost $"), std::string::npos) << shown.out;

  // Sorted by cost: the retried 1-cpu run before the 250m one that ran `true`.
  auto listed = server_->Tug({"get", "runs", "--sort", "cost", "-o", "json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const json::value page = json::parse(listed.out);
  const json::array& runs = page.at("runs").as_array();
  ASSERT_EQ(runs.size(), 2u) << listed.out;
  EXPECT_EQ(runs[0].at("id").as_string(), id);
  EXPECT_EQ(runs[1].at("id").as_string(), cheap_id);
  EXPECT_NEAR(Num(runs[0].at("cost").at("total")), total, 1e-9);
  auto table = server_->Tug({"get", "runs", "--sort", "cost"});
  EXPECT_NE(table.out.find("COST"), std::string::npos) << table.out;
  auto bad = server_->Tug({"get", "runs", "--sort", "price"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("use newest (the default) or cost"), std::string::npos) << bad.err;

  // /metrics: cost counters by definition and owner.
  auto client = net::HttpClient::Create(server_->url());
  ASSERT_TRUE(client.ok());
  auto metrics = client->Send("GET", "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("tug_run_cost_usd_total{definition=\"flaky\""), std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("tug_run_retries_cost_usd_total{definition=\"flaky\""),
            std::string::npos)
      << metrics->body;
}

}  // namespace
}  // namespace tug::testing
