// The Alibaba cluster-trace-v2017 batch_task.csv loader: rows of every kind the published file
// and its circulating copies hold, and the malformed rows that must still stop the load.
//
// Columns (alibaba/clusterdata cluster-trace-v2017/schema.csv, batch_task.csv, fields 1-8):
// task create time, task end time, job id, task id, number of instances, status, cpus
// requested per instance (100 per core), normalised memory requested per instance.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "sim/alibaba.h"
#include "sim/trace.h"

namespace tug::sim {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;

/// A replayed row every table case starts with, so that a load with nothing else succeeds.
constexpr const char* kGood = "100,160,1,11,4,Terminated,100,0.0625\n";
constexpr std::string_view kHeader =
    "task_create_time,task_end_time,job_id,task_id,number_of_instances,status,plan_cpu,"
    "plan_mem\n";

size_t Index(std::string_view status) {
  for (size_t i = 0; i < kAlibabaUnfinished.size(); ++i) {
    if (kAlibabaUnfinished[i] == status) return i;
  }
  ADD_FAILURE() << "not an unfinished status: " << status;
  return 0;
}

TEST(Alibaba, LoadsFinishedTasks) {
  // create, modify, job, task, instances, status, plan_cpu, plan_mem
  std::string csv =
      "100,160,1,11,4,Terminated,100,0.0625\n"
      "120,150,1,12,1,Terminated,50,0.03125\n"
      "130,200,2,21,3,Failed,200,0.125\n"
      "140,0,3,31,2,Running,100,0.1\n"
      "0,50,4,41,1,Terminated,100,0.1\n";
  AlibabaOptions opts;
  AlibabaStats st;
  auto t = LoadAlibabaBatchTask(csv, opts, &st);
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  EXPECT_EQ(st.rows, 5);
  EXPECT_EQ(st.jobs, 3);
  EXPECT_EQ(st.unfinished[Index("Running")], 1);
  EXPECT_EQ(st.no_times, 1);
  EXPECT_EQ(st.skipped(), 2);
  ASSERT_EQ(t->jobs.size(), 3u);
  const TraceJob& a = t->jobs[0];
  EXPECT_EQ(a.id, "a1-11");
  EXPECT_EQ(a.kind, "spark");
  EXPECT_EQ(a.submit, 0);  // times start at the first submit
  EXPECT_EQ(a.instances, 4);
  EXPECT_EQ(a.executor.cpu_millis, 1000);
  EXPECT_EQ(a.executor.memory_bytes, 4 * kGiB);  // 0.0625 × 64Gi
  EXPECT_EQ(a.duration_s, 60);
  const TraceJob& b = t->jobs[1];
  EXPECT_EQ(b.kind, "container");
  EXPECT_EQ(b.container.cpu_millis, 500);
  EXPECT_EQ(b.submit, 20 * kMicrosPerSecond);
  const TraceJob& c = t->jobs[2];
  ASSERT_EQ(c.failures.size(), 1u);
  EXPECT_EQ(c.failures[0].kind, Injection::Kind::kUserError);
}

/// One row of each kind after kGood: what the load counts, or the error it stops with.
struct RowCase {
  const char* name;
  std::string rows;
  std::string error;         // empty: the load succeeds
  std::string skipped_line;  // DescribeLoad's line for it ("" when it is replayed)
  int64_t jobs = 1;          // jobs loaded, kGood's included
};

std::vector<RowCase> RowCases() {
  return {
      // Skipped and counted: tasks that did not run to an end, whatever their other fields.
      {"waiting_without_requests", "0,0,5,51,3,Waiting,,\n", "",
       "skipped 1 Waiting row without requests"},
      {"waiting_all_empty", ",,,,,Waiting,,\n", "", "skipped 1 Waiting row without requests"},
      {"waiting_with_requests", "100,0,5,52,3,Waiting,100,0.01\n", "", "skipped 1 Waiting row"},
      {"waiting_garbage", "x,y,,,z,Waiting,lots,much\n", "",
       "skipped 1 Waiting row without requests"},
      {"running", "140,0,3,31,2,Running,100,0.1\n", "", "skipped 1 Running row"},
      {"ready", "0,0,3,32,2,Ready,100,0.1\n", "", "skipped 1 Ready row"},
      {"cancelled", "150,170,3,33,2,Cancelled,,\n", "", "skipped 1 Cancelled row without requests"},
      {"no_status", "150,170,3,34,2,,100,0.1\n", "", "skipped 1 row without a status"},
      {"no_status_no_requests", "150,170,3,35,2,,,\n", "",
       "skipped 1 row without a status or requests"},
      // Skipped and counted: finished tasks the trace gives no lifetime or no size for.
      {"terminated_before_trace", "0,50,4,41,1,Terminated,100,0.1\n", "",
       "skipped 1 Terminated/Failed row without times"},
      {"terminated_no_end", "100,,4,42,1,Terminated,100,0.1\n", "",
       "skipped 1 Terminated/Failed row without times"},
      {"failed_no_duration", "100,100,4,43,1,Failed,100,0.1\n", "",
       "skipped 1 Terminated/Failed row without times"},
      {"terminated_no_cpu", "100,160,4,44,1,Terminated,,0.1\n", "",
       "skipped 1 Terminated/Failed row without requests"},
      {"failed_no_instances", "100,160,4,45,0,Failed,100,0.1\n", "",
       "skipped 1 Terminated/Failed row without requests"},
      {"terminated_zero_mem", "100,160,4,46,1,Terminated,100,0\n", "",
       "skipped 1 Terminated/Failed row without requests"},
      // Replayed.
      {"failed", "130,200,2,21,3,Failed,200,0.125\n", "", "", 2},
      {"spaces", " 130 , 200 ,2, 22 ,1, Terminated ,50, 0.01 \n", "", "", 2},
      // Malformed rows of replayed tasks: the load stops and names the line (kGood is line 1).
      {"terminated_bad_cpu", "100,160,1,12,4,Terminated,lots,0.06\n",
       "alibaba line 2: plan_cpu 'lots' is not a number", ""},
      {"failed_bad_create", "abc,160,1,12,4,Failed,100,0.06\n",
       "alibaba line 2: create_timestamp 'abc' is not a number", ""},
      {"fractional_instances", "100,160,1,12,2.5,Terminated,100,0.06\n",
       "alibaba line 2: instance_num '2.5' must be a whole number", ""},
      {"negative_mem", "100,160,1,12,2,Terminated,100,-0.06\n",
       "alibaba line 2: plan_cpu and plan_mem must not be negative", ""},
      {"no_task_id", "100,160,1,,2,Terminated,100,0.06\n",
       "alibaba line 2: job_id and task_id must be set for a Terminated task", ""},
      // Malformed whatever the status.
      {"header_not_first", std::string(kHeader), "alibaba line 2: status 'status' is not one of",
       ""},
      {"unknown_status", "100,160,1,12,2,Done,100,0.06\n",
       "alibaba line 2: status 'Done' is not one of Terminated, Failed, Ready, Waiting, Running, "
       "Cancelled",
       ""},
      {"seven_columns", "100,160,1,12,2,Waiting,100\n",
       "alibaba line 2: expected 8 columns (create_timestamp, modify_timestamp, job_id, task_id, "
       "instance_num, status, plan_cpu, plan_mem), found 7",
       ""},
      {"instance_table_row", "100,160,1,12,77,Terminated,1,1,0.5,0.4,0.01,0.01\n",
       "alibaba line 2: expected 8 columns", ""},
  };
}

TEST(Alibaba, EveryKindOfRow) {
  for (const RowCase& c : RowCases()) {
    SCOPED_TRACE(c.name);
    AlibabaStats st;
    auto t = LoadAlibabaBatchTask(std::string(kGood) + c.rows, AlibabaOptions(), &st);
    if (!c.error.empty()) {
      ASSERT_FALSE(t.ok());
      EXPECT_NE(t.error().message().find(c.error), std::string::npos) << t.error().message();
      continue;
    }
    ASSERT_TRUE(t.ok()) << t.error().ToString();
    EXPECT_EQ(st.rows, 2);
    EXPECT_EQ(st.jobs, c.jobs);
    EXPECT_EQ(st.skipped(), 2 - c.jobs);
    std::vector<std::string> lines = DescribeLoad(st, "t.csv");
    ASSERT_FALSE(lines.empty());
    EXPECT_EQ(lines[0], "loaded " + std::to_string(c.jobs) + " jobs from 2 rows of 't.csv'");
    if (c.skipped_line.empty()) {
      EXPECT_EQ(lines.size(), 1u);
    } else {
      ASSERT_EQ(lines.size(), 2u);
      EXPECT_EQ(lines[1], c.skipped_line);
    }
  }
}

TEST(Alibaba, HeaderCrlfAndByteOrderMarkLoadLikeThePublishedFile) {
  std::string plain =
      "100,160,1,11,4,Terminated,100,0.0625\n"
      "0,0,5,51,3,Waiting,,\n"
      "130,200,2,21,3,Failed,200,0.125\n";
  AlibabaStats plain_stats;
  auto want = LoadAlibabaBatchTask(plain, AlibabaOptions(), &plain_stats);
  ASSERT_TRUE(want.ok()) << want.error().ToString();
  auto crlf = [](const std::string& s) {
    std::string out;
    for (char ch : s) out += ch == '\n' ? std::string("\r\n") : std::string(1, ch);
    return out;
  };
  const std::vector<std::pair<const char*, std::string>> variants = {
      {"header", std::string(kHeader) + plain},
      {"header_crlf", crlf(std::string(kHeader) + plain)},
      {"crlf_no_final_newline", crlf(plain).substr(0, crlf(plain).size() - 2)},
      {"bom_header_crlf", "\xEF\xBB\xBF" + crlf(std::string(kHeader) + plain)},
      {"schema_header",
       "create_timestamp,modify_timestamp,job_id,task_id,instance_num,status,plan_cpu,plan_mem\n" +
           plain},
      {"blank_lines", "\n\r\n" + std::string(kHeader) + "\n" + plain + "\r\n"},
  };
  for (const auto& [name, csv] : variants) {
    SCOPED_TRACE(name);
    AlibabaStats st;
    auto got = LoadAlibabaBatchTask(csv, AlibabaOptions(), &st);
    ASSERT_TRUE(got.ok()) << got.error().ToString();
    EXPECT_EQ(ToJsonLines(*got), ToJsonLines(*want));
    EXPECT_EQ(st.rows, 3);
    EXPECT_EQ(st.jobs, 2);
    EXPECT_EQ(st.unfinished_without_requests[Index("Waiting")], 1);
    EXPECT_EQ(st.header_rows, std::string(name) == "crlf_no_final_newline" ? 0 : 1);
  }
}

TEST(Alibaba, DescribesWhatItSkipped) {
  // The shape of the published file: ~11 % Waiting rows with empty requests among finished
  // tasks, a header, CRLF.
  std::string csv = std::string(kHeader);
  for (int i = 0; i < 9017; ++i) csv += "0,0,7," + std::to_string(i) + ",1,Waiting,,\r\n";
  for (int i = 0; i < 1200; ++i) {
    csv += std::to_string(100 + i) + "," + std::to_string(400 + i) + ",8," + std::to_string(i) +
           ",3,Terminated,100,0.01\r\n";
  }
  csv += "50,0,9,1,2,Running,100,0.01\r\n";
  csv += "0,60,9,2,2,Terminated,100,0.01\r\n";
  AlibabaStats st;
  auto t = LoadAlibabaBatchTask(csv, AlibabaOptions(), &st);
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  EXPECT_EQ(DescribeLoad(st, "batch_task.csv"),
            (std::vector<std::string>{
                "loaded 1,200 jobs from 10,219 rows of 'batch_task.csv'", "skipped 1 header row",
                "skipped 9,017 Waiting rows without requests", "skipped 1 Running row",
                "skipped 1 Terminated/Failed row without times"}));
  EXPECT_EQ(st.skipped(), 9020);
}

TEST(Alibaba, NothingToReplayIsAnError) {
  auto t = LoadAlibabaBatchTask(
      std::string(kHeader) + "0,0,5,51,3,Waiting,,\n" + "140,0,3,31,2,Running,100,0.1\n",
      AlibabaOptions());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().message(),
            "the Alibaba file has no finished tasks to replay (2 rows; 1 header row, 1 Waiting "
            "row without requests, 1 Running row); it needs Terminated or Failed rows with times "
            "and requests");
  EXPECT_FALSE(LoadAlibabaBatchTask("", AlibabaOptions()).ok());
}

TEST(Alibaba, BadRowsNameTheLine) {
  AlibabaOptions opts;
  auto cols = LoadAlibabaBatchTask("100,160,1,11,4,Terminated,100,0.06\n1,2,3\n", opts);
  ASSERT_FALSE(cols.ok());
  EXPECT_NE(cols.error().message().find("alibaba line 2: expected 8 columns"), std::string::npos);
  auto num = LoadAlibabaBatchTask("\n\n100,160,1,11,4,Terminated,lots,0.06\n", opts);
  ASSERT_FALSE(num.ok());
  EXPECT_NE(num.error().message().find("alibaba line 3: plan_cpu 'lots' is not a number"),
            std::string::npos);
  // A malformed replayed row after many good ones, in a CRLF file with a header.
  std::string csv = std::string(kHeader);
  for (int i = 0; i < 10; ++i)
    csv += "100,160,1," + std::to_string(i) + ",1,Terminated,50,0.01\r\n";
  csv += "100,160,1,99,1,Terminated,50,0.01x\r\n";
  auto late = LoadAlibabaBatchTask(csv, opts);
  ASSERT_FALSE(late.ok());
  EXPECT_NE(late.error().message().find("alibaba line 12: plan_mem '0.01x' is not a number"),
            std::string::npos)
      << late.error().message();
}

}  // namespace
}  // namespace tug::sim
