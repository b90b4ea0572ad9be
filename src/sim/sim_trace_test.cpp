// Traces: the JSON Lines format and the generator (alibaba_test.cpp: the Alibaba loader).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "sim/generator.h"
#include "sim/trace.h"

namespace tug::sim {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr int64_t kMiB = int64_t{1} << 20;

constexpr const char* kSpark =
    R"({"id":"s1","submit":60.5,"user":"u1","name":"etl","kind":"spark","class":"scheduled",)"
    R"("driver":{"cpu":"1","memory":"4Gi"},"executor":{"cpu":4,"memory":"8Gi","overhead":"1Gi"},)"
    R"("instances":6,"peak":{"driver":{"heap":"2Gi","offheap":"300Mi"},)"
    R"("executor":{"heap":"9Gi","offheap":"512Mi"}},"duration":"25m","peak_at":0.7,)"
    R"("critical":true,"failures":[{"kind":"transient","attempts":[1],"at":0.3},)"
    R"({"kind":"timeout","min_executors":9}]})";
constexpr const char* kContainer =
    R"({"id":"c1","submit":0,"kind":"container","cpu":"500m","memory":"2Gi",)"
    R"("peak":{"memory":1610612736},"duration":300})";

TEST(Trace, ParsesBothKinds) {
  auto t = ParseTrace(std::string("# a comment\n") + kSpark + "\n\n" + kContainer + "\n");
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  ASSERT_EQ(t->jobs.size(), 2u);
  const TraceJob& c = t->jobs[0];  // sorted by submit
  EXPECT_EQ(c.id, "c1");
  EXPECT_EQ(c.name, "c1");  // defaults to the id
  EXPECT_EQ(c.container.cpu_millis, 500);
  EXPECT_EQ(c.container_peak_bytes, 1536 * kMiB);
  const TraceJob& s = t->jobs[1];
  EXPECT_EQ(s.submit, 60'500'000);
  EXPECT_EQ(s.executor.cpu_millis, 4000);
  EXPECT_EQ(s.executor.overhead_bytes, kGiB);
  EXPECT_EQ(s.instances, 6);
  EXPECT_EQ(s.executor_peak.heap_bytes, 9 * kGiB);
  EXPECT_EQ(s.duration_s, 1500);
  EXPECT_DOUBLE_EQ(s.peak_at, 0.7);
  EXPECT_TRUE(s.critical);
  ASSERT_EQ(s.failures.size(), 2u);
  EXPECT_EQ(s.failures[0].attempts, std::vector<int>{1});
  EXPECT_EQ(s.failures[1].kind, Injection::Kind::kTimeout);
  EXPECT_EQ(s.failures[1].min_executors, 9);
  EXPECT_DOUBLE_EQ(s.failures[1].at, 0.5);
}

TEST(Trace, RoundTripsThroughJsonLines) {
  auto t = ParseTrace(std::string(kSpark) + "\n" + kContainer);
  ASSERT_TRUE(t.ok());
  std::string text = ToJsonLines(*t);
  auto back = ParseTrace(text);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->jobs, t->jobs);
  // Numbers as people write them, not 6.05E1.
  EXPECT_NE(text.find(R"("submit":60.5,)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("peak_at":0.7,)"), std::string::npos) << text;
  EXPECT_EQ(text.find("E-"), std::string::npos) << text;
}

TEST(Trace, BadRowsNameTheLine) {
  struct Case {
    std::string line;
    std::string want;
  };
  std::vector<Case> cases = {
      {"{not json", "trace line 3: not valid JSON"},
      {"[1,2]", "trace line 3: must be a JSON object"},
      {R"({"id":"x","submit":0,"kind":"batch","peak":{},"duration":1})",
       "trace line 3: 'kind' is 'batch'; use spark or container"},
      {R"({"id":"x","submit":0,"kind":"container","cpu":"1","memory":"lots","peak":{"memory":"1Gi"},"duration":1})",
       "trace line 3: 'memory' must be a memory quantity"},
      {R"({"id":"x","submit":0,"kind":"container","cpu":"1","memory":"1Gi","peak":{"memory":"1Gi"},"duration":-5})",
       "trace line 3: 'duration' must be a positive number of seconds"},
      {R"({"id":"x","submit":0,"kind":"container","cpu":"1","memory":"1Gi","peak":{"memory":"1Gi"},"duration":5,"colour":"red"})",
       "trace line 3: unknown field 'colour'"},
      {R"({"id":"x","submit":0,"kind":"container","cpu":"1","memory":"1Gi","duration":5})",
       "trace line 3: 'peak' is required"},
      {R"({"id":"x","submit":0,"kind":"container","cpu":"1","memory":"1Gi","peak":{"memory":"1Gi"},"duration":5,"failures":[{"kind":"gremlins"}]})",
       "trace line 3: failures[0]: 'kind' is 'gremlins'"},
      {R"({"id":"x","submit":"soon","kind":"container","cpu":"1","memory":"1Gi","peak":{"memory":"1Gi"},"duration":5})",
       "trace line 3: 'submit' must be a number"},
      {std::string(kSpark).replace(std::string(kSpark).find("\"instances\":6"), 13,
                                   "\"instances\":0"),
       "trace line 3: 'instances' must be a whole number of executors >= 1"},
  };
  for (const Case& c : cases) {
    auto t = ParseTrace(std::string(kContainer) + "\n# fine so far\n" + c.line + "\n");
    ASSERT_FALSE(t.ok()) << c.line;
    EXPECT_NE(t.error().message().find(c.want), std::string::npos)
        << "got: " << t.error().message() << "\nwant: " << c.want;
  }
  auto dup = ParseTrace(std::string(kContainer) + "\n" + kContainer);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.error().message().find("'c1' appears twice"), std::string::npos);
  EXPECT_FALSE(ParseTrace("# only comments\n").ok());
}

TEST(Generator, MakesTheDayItIsAskedFor) {
  GeneratorParams p;
  p.spark_jobs = 2000;
  p.container_jobs = 500;
  p.users = 40;
  auto t = Generate(p);
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  ASSERT_EQ(t->jobs.size(), 2500u);
  std::map<std::string, int> kinds, classes;
  std::set<std::string> users;
  int undersized = 0, with_failures = 0, night = 0, top_of_hour = 0;
  Micros last = 0;
  for (const TraceJob& j : t->jobs) {
    ++kinds[j.kind];
    ++classes[j.klass];
    users.insert(j.user);
    EXPECT_GE(j.submit, last);
    last = j.submit;
    EXPECT_LT(j.submit, 86400 * kMicrosPerSecond);
    EXPECT_TRUE(ValidateJob(j, j.id).ok());
    if (j.spark() && j.executor_peak.heap_bytes > j.executor.memory_bytes) ++undersized;
    if (!j.failures.empty()) ++with_failures;
    Micros of_hour = j.submit % (3600 * kMicrosPerSecond);
    if (j.klass == "scheduled" && of_hour < 30 * kMicrosPerSecond) ++top_of_hour;
    if (j.submit < Micros{6} * 3600 * kMicrosPerSecond) ++night;
  }
  EXPECT_EQ(kinds["spark"], 2000);
  EXPECT_EQ(kinds["container"], 500);
  EXPECT_EQ(classes["scheduled"], 1500);
  EXPECT_GT(users.size(), 30u);
  // About 8 % of Spark pipelines are under-sized (runs repeat pipelines, so loosely).
  EXPECT_GT(undersized, 2000 * 0.03);
  EXPECT_LT(undersized, 2000 * 0.2);
  EXPECT_GT(with_failures, 2500 * 0.03);
  EXPECT_GT(top_of_hour, 1500 / 4);  // cron bursts
  EXPECT_GT(night, 2500 / 10);       // the ETL window
}

TEST(Generator, IsDeterministicForASeed) {
  GeneratorParams p;
  p.spark_jobs = 300;
  p.container_jobs = 50;
  auto a = Generate(p);
  auto b = Generate(p);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(ToJsonLines(*a), ToJsonLines(*b));
  p.seed = 2;
  auto c = Generate(p);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(ToJsonLines(*a), ToJsonLines(*c));
}

TEST(Generator, ParametersAreSetByName) {
  GeneratorParams p;
  ASSERT_TRUE(SetParam(p, "spark_jobs", "12").ok());
  EXPECT_EQ(p.spark_jobs, 12);
  ASSERT_TRUE(SetParam(p, "undersized_share", "0.5").ok());
  EXPECT_DOUBLE_EQ(p.undersized_share, 0.5);
  EXPECT_FALSE(SetParam(p, "spark_jobs", "1.5").ok());
  EXPECT_FALSE(SetParam(p, "undersized_share", "2").ok());
  auto bad = SetParam(p, "colour", "1");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("unknown generator parameter 'colour'"), std::string::npos);
  auto docs = DescribeParams(p);
  EXPECT_GT(docs.size(), 30u);
  EXPECT_EQ(docs[1].name, "spark_jobs");
  EXPECT_EQ(docs[1].value, "12");
}

}  // namespace
}  // namespace tug::sim
