#include "cli/output.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace tug::cli {
namespace {

TEST(OutputTest, TableAligns) {
  EXPECT_EQ(Table({{"A", "BB"}, {"ccc", "d"}}), "A     BB\nccc   d\n");
}

TEST(OutputTest, YamlQuotesAmbiguousStrings) {
  auto v = boost::json::parse(R"({"a":"true","b":"123","c":"hello","d":null,"e":[1,2]})");
  std::string y = ToYaml(v);
  EXPECT_NE(y.find("a: \"true\""), std::string::npos) << y;
  EXPECT_NE(y.find("b: \"123\""), std::string::npos) << y;
  EXPECT_NE(y.find("c: hello"), std::string::npos) << y;
}

TEST(OutputTest, DoublesPrintInTheirShortestForm) {
  auto v = boost::json::parse(R"({"cost":1.6,"ratio":0.3,"whole":3.0,"n":7})");
  std::string j = ToPrettyJson(v);
  EXPECT_NE(j.find("\"cost\": 1.6,"), std::string::npos) << j;
  EXPECT_NE(j.find("\"ratio\": 0.3,"), std::string::npos) << j;
  EXPECT_NE(j.find("\"whole\": 3.0,"), std::string::npos) << j;
  EXPECT_EQ(j.find("E0"), std::string::npos) << j;
  EXPECT_EQ(boost::json::parse(j), v) << "the pretty form is not the same JSON";
  EXPECT_NE(ToYaml(v).find("cost: 1.6"), std::string::npos) << ToYaml(v);
}

TEST(OutputTest, RunDetailShowsAttempts) {
  auto v = boost::json::parse(R"({"id":"r1","definition":"hog","definition_version":1,
    "status":"FAILED","created_at":"2026-11-24T08:00:00.000000Z",
    "outcome":{"exit_code":137,"reason":"OOMKilled","message":"memory limit 64Mi reached"},
    "attempts":[{"number":1,"status":"FAILED","resources":{"memory":67108864},
      "peak_memory":67108864,"cpu_seconds":0.5,"started_at":"2026-11-24T08:00:00.000000Z",
      "ended_at":"2026-11-24T08:00:02.000000Z",
      "outcome":{"exit_code":137,"reason":"OOMKilled","message":""}}]})");
  std::string out = RunDetail(v, 0);
  EXPECT_NE(out.find("OOMKilled (exit 137)"), std::string::npos) << out;
  EXPECT_NE(out.find("64Mi"), std::string::npos) << out;
  EXPECT_NE(out.find("2.0s"), std::string::npos) << out;
}

TEST(OutputTest, RunDetailShowsCostAndRetriesApart) {
  auto v = boost::json::parse(R"({"id":"r1","definition":"flaky","definition_version":1,
    "status":"SUCCEEDED","cost":{"currency":"USD","total":0.42,"retries":0.1,"succeeded":0.32,
      "basis":"requested","estimated":false},
    "attempts":[{"number":1,"status":"FAILED","cost":{"usd":0.1,"retry":true}},
      {"number":2,"status":"SUCCEEDED","cost":{"usd":0.32,"retry":false}}]})");
  std::string out = RunDetail(v, 0);
  EXPECT_NE(out.find("Cost:       $0.42, retries cost $0.10 (requested)"), std::string::npos)
      << out;
  EXPECT_NE(out.find("COST"), std::string::npos) << out;
  EXPECT_NE(out.find("$0.32"), std::string::npos) << out;
}

TEST(OutputTest, RunsTableHasACostColumn) {
  auto v = boost::json::parse(R"([
    {"id":"r2","status":"SUCCEEDED","cost":{"currency":"EUR","total":1.5,"retries":0}},
    {"id":"r1","status":"RUNNING","cost":{"currency":"EUR","total":0,"retries":0}}])");
  std::string out = RunsTable(v, 0);
  EXPECT_NE(out.find("COST"), std::string::npos) << out;
  EXPECT_NE(out.find("1.50 EUR"), std::string::npos) << out;
  // An active run has no stored cost yet: "-", not "0 EUR".
  const std::string running = out.substr(out.find("r1 "));
  EXPECT_EQ(running.find("EUR"), std::string::npos) << out;
  EXPECT_NE(running.find(" -"), std::string::npos) << out;
}

TEST(OutputTest, QueuesTableAndAWaitingRun) {
  boost::json::value body = boost::json::parse(R"({"enabled": true, "queues": [
    {"name": "team-a", "weight": 2, "running": 2, "queued": 8, "share": 0.5,
     "limits": {"cpu_millis": 2000, "memory_bytes": null, "gpu": null, "max_running": null},
     "usage": {"cpu_millis": 2000, "memory_bytes": 134217728, "gpu": 0},
     "blocked": "team-a: 2 of 2 CPUs in use"},
    {"name": "default", "weight": 1, "running": 0, "queued": 0, "share": 0,
     "limits": {"cpu_millis": null, "memory_bytes": null, "gpu": null, "max_running": null},
     "usage": {"cpu_millis": 0, "memory_bytes": 0, "gpu": 0}, "blocked": null}]})");
  std::string out = QueuesTable(body);
  EXPECT_NE(out.find("team-a    2        2         8        2/2   128Mi    0     0.50    team-a: 2 "
                     "of 2 CPUs in use"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("default"), std::string::npos) << out;
  boost::json::value run =
      boost::json::parse(R"({"id": "r1", "definition": "d", "definition_version": 1,
    "status": "QUEUED", "queue": "team-a", "queue_position": 3,
    "queue_reason": "team-a: 2 of 2 CPUs in use", "attempts": []})");
  std::string detail = RunDetail(run, 0);
  EXPECT_NE(detail.find("Queue:      team-a (position 3)"), std::string::npos) << detail;
  EXPECT_NE(detail.find("Waiting:    team-a: 2 of 2 CPUs in use"), std::string::npos) << detail;
}

}  // namespace
}  // namespace tug::cli
