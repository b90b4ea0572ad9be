// `tug sim` end to end: a small generated day through policies (a), (b) and (c) with the real
// binary; the report has all three, and (c) beats (a) on cost and terminal OOM failures.
// Also the trace round trip through `tug sim generate`, an Alibaba file as it circulates (header,
// CRLF, Waiting rows without requests) and the CLI's error paths.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "test_util.h"

namespace tug::testing {
namespace {

namespace json = boost::json;

const std::vector<std::string> kDay = {"--jobs",  "240", "--container-jobs", "60",
                                       "--users", "30",  "--seed",           "3"};

std::vector<std::string> Args(std::vector<std::string> head, const std::vector<std::string>& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

double Num(const json::value& v) { return v.to_number<double>(); }

TEST(SimDay, ReportComparesTheThreePoliciesAndTugboatWins) {
  TempDir dir;
  CommandResult r = RunCommand(Args({TugBinary(), "sim", "--generate", "--policy", "a,b,c", "-o",
                                     "json", "--svg-dir", dir.path()},
                                    kDay));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json::value v = json::parse(r.out);
  const json::array& p = v.at("policies").as_array();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].at("name").as_string(), "static");
  EXPECT_EQ(p[1].at("name").as_string(), "autoscaled");
  EXPECT_EQ(p[2].at("name").as_string(), "tugboat");
  for (const json::value& x : p) {
    EXPECT_EQ(x.at("runs").at("total").as_int64(), 300);
    EXPECT_EQ(x.at("runs").at("unfinished").as_int64(), 0);
    EXPECT_GT(Num(x.at("cost").at("total")), 0);
  }
  const json::value& a = p[0];
  const json::value& c = p[2];
  EXPECT_LT(Num(c.at("cost").at("total")), Num(a.at("cost").at("total")));
  auto oom = [](const json::value& x) {
    const json::object& f = x.at("runs").at("failed_by").as_object();
    return f.contains("oom") ? f.at("oom").as_int64() : 0;
  };
  EXPECT_GT(oom(a), 0);
  EXPECT_LT(oom(c), oom(a));
  // The decisions came from adapt itself.
  const json::object& rules = c.at("attempts").at("planner_rules").as_object();
  EXPECT_TRUE(rules.contains("first.as_requested"));
  EXPECT_GT(rules.size(), 3u);
  EXPECT_GT(c.at("scheduling_delay_seconds").at("count").as_int64(), 0);
  // The charts were written.
  EXPECT_TRUE(std::filesystem::file_size(dir.path() + "/nodes.svg") > 1000);
  EXPECT_TRUE(std::filesystem::file_size(dir.path() + "/pending.svg") > 1000);
}

TEST(SimDay, GeneratedTraceReplaysToTheSameReport) {
  TempDir dir;
  std::string trace = dir.path() + "/day.jsonl";
  CommandResult g = RunCommand(Args({TugBinary(), "sim", "generate", "-o", trace}, kDay));
  ASSERT_EQ(g.exit_code, 0) << g.err;
  CommandResult from_file =
      // --seed also drives spot interruptions: the same seed for the same report.
      RunCommand(
          {TugBinary(), "sim", "--trace", trace, "--seed", "3", "--policy", "c", "-o", "markdown"});
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  CommandResult generated =
      RunCommand(Args({TugBinary(), "sim", "--generate", "--policy", "c", "-o", "markdown"}, kDay));
  ASSERT_EQ(generated.exit_code, 0) << generated.err;
  EXPECT_EQ(from_file.out, generated.out);
  EXPECT_NE(from_file.out.find("| metric | (c) tugboat |"), std::string::npos) << from_file.out;
}

TEST(SimDay, AlibabaFileAsItCirculatesLoadsAndSaysWhatItSkipped) {
  // cluster-trace-v2017 batch_task.csv as the copy in circulation has it: a header row, CRLF,
  // Waiting rows with empty plan_cpu and plan_mem among finished tasks.
  TempDir dir;
  std::string csv =
      "task_create_time,task_end_time,job_id,task_id,number_of_instances,status,plan_cpu,"
      "plan_mem\r\n";
  int task = 0;
  for (int job = 1; job <= 60; ++job) {
    int start = 600 + job * 977;
    for (int t = 0; t < 5; ++t) {
      ++task;
      csv += std::to_string(start + t * 30) + "," + std::to_string(start + t * 30 + 400 + t * 97) +
             "," + std::to_string(job) + "," + std::to_string(task) + "," +
             std::to_string(t == 0 ? 1 : t * 7) + "," + (t == 4 ? "Failed" : "Terminated") +
             ",100,0.0118\r\n";
    }
    csv += std::to_string(start) + ",0," + std::to_string(job) + "," + std::to_string(++task) +
           ",12,Waiting,,\r\n";
  }
  csv += "0,900,99,9999,1,Terminated,50,0.0079\r\n";  // created before the trace
  std::string file = dir.Write("batch_task.csv", csv);
  std::vector<std::string> cmd = {TugBinary(), "sim",      "--trace", file, "--format",
                                  "alibaba",   "--policy", "a,b,c",   "-o", "json"};
  CommandResult r = RunCommand(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("loaded 300 jobs from 361 rows of '" + file + "'"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("skipped 1 header row"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("skipped 60 Waiting rows without requests"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("skipped 1 Terminated/Failed row without times"), std::string::npos)
      << r.err;
  json::value v = json::parse(r.out);
  const json::array& p = v.at("policies").as_array();
  ASSERT_EQ(p.size(), 3u);
  for (const json::value& x : p) EXPECT_EQ(x.at("runs").at("total").as_int64(), 300);
  // Policies run on one thread each by default; one thread gives the same report.
  cmd.insert(cmd.end(), {"--threads", "1"});
  CommandResult one = RunCommand(cmd);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.out, r.out);
  // A malformed row of a task that would be replayed still stops the load, with its line.
  std::string bad = dir.Write("bad.csv", csv + "100,200,7,7,2,Terminated,100,lots\r\n");
  CommandResult b = RunCommand({TugBinary(), "sim", "--trace", bad, "--format", "alibaba"});
  EXPECT_EQ(b.exit_code, 1);
  EXPECT_NE(b.err.find("alibaba line 363: plan_mem 'lots' is not a number"), std::string::npos)
      << b.err;
}

TEST(SimDay, ErrorsAreClearAndNonZero) {
  TempDir dir;
  std::string bad = dir.Write("bad.jsonl",
                              "{\"id\":\"x\",\"submit\":0,\"kind\":\"container\",\"cpu\":\"1\","
                              "\"memory\":\"1Gi\",\"peak\":{\"memory\":\"1Gi\"},\"duration\":5}\n"
                              "{\"id\":\"y\",\"submit\":0,\"kind\":\"container\"}\n");
  CommandResult r = RunCommand({TugBinary(), "sim", "--trace", bad});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("trace line 2:"), std::string::npos) << r.err;
  CommandResult p = RunCommand({TugBinary(), "sim", "--generate", "--policy", "z"});
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_NE(p.err.find("policy 'z' is not known"), std::string::npos) << p.err;
  CommandResult none = RunCommand({TugBinary(), "sim"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("--generate or --trace"), std::string::npos) << none.err;
  CommandResult set = RunCommand({TugBinary(), "sim", "--generate", "--set", "colour=1"});
  EXPECT_EQ(set.exit_code, 2);
  EXPECT_NE(set.err.find("unknown generator parameter 'colour'"), std::string::npos) << set.err;
}

TEST(SimDay, TeamQueuesReportWaitsByTeam) {
  std::vector<std::string> cmd = Args({TugBinary(),
                                       "sim",
                                       "--generate",
                                       "--policy",
                                       "c,c+queues=on",
                                       "-o",
                                       "json",
                                       "--set",
                                       "teams=3",
                                       "--set",
                                       "flood_teams=1",
                                       "--set",
                                       "flood_runs=200",
                                       "--set",
                                       "max_executors=8",
                                       "--queue",
                                       "a:cpu=200,memory=1Ti",
                                       "--queue",
                                       "b:cpu=200,memory=1Ti",
                                       "--queue",
                                       "c:cpu=200,memory=1Ti,weight=2"},
                                      kDay);
  CommandResult r = RunCommand(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json::value v = json::parse(r.out);
  const json::array& p = v.at("policies").as_array();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[1].at("policy").at("queues").as_string(), "on");
  EXPECT_EQ(v.at("config").at("queues").as_array().size(), 3u);
  for (const char* team : {"a", "b", "c"}) {
    const json::value& off = p[0].at("teams").at(team);
    const json::value& on = p[1].at("teams").at(team);
    EXPECT_EQ(off.at("runs").as_int64(), on.at("runs").as_int64()) << team;
    EXPECT_FALSE(off.as_object().contains("queued_seconds")) << team;
    EXPECT_GT(on.at("queued_seconds").at("count").as_int64(), 0) << team;
  }
  // a flooded: its 200 backfill runs on top of its ordinary ones, and it waited for its quota.
  const json::object& ok = p[1].at("runs").at("succeeded_by_class").as_object();
  const json::object& failed = p[1].at("runs").at("failed_by_class").as_object();
  int64_t backfill = (ok.contains("backfill") ? ok.at("backfill").as_int64() : 0) +
                     (failed.contains("backfill") ? failed.at("backfill").as_int64() : 0);
  EXPECT_EQ(backfill, 200);
  EXPECT_GT(p[1].at("teams").at("a").at("runs").as_int64(), 200);
  EXPECT_GT(Num(p[1].at("teams").at("a").at("queued_seconds").at("p99")), 0);

  CommandResult bad = RunCommand({TugBinary(), "sim", "--generate", "--queue", "a:cpu=lots"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--queue 'a': cpu takes cores such as 40 or 500m"), std::string::npos)
      << bad.err;
  CommandResult unknown = RunCommand(Args(
      {TugBinary(), "sim", "--generate", "--policy", "c+queues=on", "--set", "teams=2"}, kDay));
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("which no --queue defines"), std::string::npos) << unknown.err;
}

}  // namespace
}  // namespace tug::testing
