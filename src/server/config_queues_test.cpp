// The `queues:` and `queue_capacity:` sections of the server config.
#include <gtest/gtest.h>

#include "server/config.h"

namespace tug::server {
namespace {

TEST(ConfigQueues, ParsesEveryKey) {
  Config c = DefaultConfig();
  ASSERT_TRUE(ApplyYaml(c, R"(
queue_capacity: {cpu: 64, memory: 256Gi, gpu: 8}
queues:
  - name: team-a
    weight: 2
    priority: 1
    max_running: 10
    cpu: 40
    memory: 160Gi
    gpu: 2
    per_user: {max_running: 3, cpu: 8, memory: 32Gi}
    cohort: research
    borrowing_limit: {cpu: 8}
  - name: team-b
    cpu: 500m
)",
                        "tug.yaml")
                  .ok());
  ASSERT_EQ(c.queues.size(), 2u);
  const queue::QueueSpec& a = c.queues[0];
  EXPECT_EQ(a.name, "team-a");
  EXPECT_EQ(a.weight, 2);
  EXPECT_EQ(a.priority, 1);
  EXPECT_EQ(a.limits.max_running, 10);
  EXPECT_EQ(a.limits.quota, (queue::Vec{40000, int64_t{160} << 30, 2}));
  EXPECT_EQ(a.user_limits.max_running, 3);
  EXPECT_EQ(a.user_limits.quota, (queue::Vec{8000, int64_t{32} << 30, queue::kUnlimited}));
  EXPECT_EQ(a.cohort, "research");
  EXPECT_EQ(a.borrowing_limit.cpu_millis, 8000);
  EXPECT_EQ(a.borrowing_limit.memory_bytes, queue::kUnlimited);
  EXPECT_EQ(c.queues[1].limits.quota.cpu_millis, 500);
  EXPECT_EQ(c.queues[1].limits.quota.memory_bytes, queue::kUnlimited);
  EXPECT_EQ(c.queue_capacity, (queue::Vec{64000, int64_t{256} << 30, 8}));
}

TEST(ConfigQueues, BadInputSaysWhatToFix) {
  struct Case {
    std::string yaml;
    std::string message;
  };
  std::vector<Case> cases = {
      {"queues: {name: a}", "t.yaml: queues must be a list"},
      {"queues: [{cpu: 4}]", "t.yaml: queues[0] needs a name"},
      {"queues: [{name: a, cpu: lots}]", "t.yaml: queues[0].cpu 'lots' must be CPUs"},
      {"queues: [{name: a, memory: 3 apples}]",
       "t.yaml: queues[0].memory '3 apples' must be a size"},
      {"queues: [{name: a, weight: 0}]", "t.yaml: queues[0].weight '0' must be a number above 0"},
      {"queues: [{name: a, colour: red}]", "t.yaml: queues[0]: unknown key 'colour'"},
      {"queues: [{name: a, per_user: {pets: 1}}]",
       "t.yaml: queues[0].per_user: unknown key 'pets'"},
      {"queues: [{name: a}, {name: a}]", "t.yaml: queues: queue 'a' is defined twice"},
      {"queues: [{name: a, borrowing_limit: {cpu: 1}}]",
       "t.yaml: queues: queue 'a': borrowing_limit needs a cohort"},
      {"queues: [{name: a, max_running: -1}]",
       "t.yaml: queues[0].max_running '-1' must be a whole"},
  };
  for (const Case& c : cases) {
    Config config = DefaultConfig();
    Status st = ApplyYaml(config, c.yaml, "t.yaml");
    ASSERT_FALSE(st.ok()) << c.yaml;
    EXPECT_EQ(st.error().code(), Code::kInvalidArgument);
    EXPECT_EQ(st.error().message().rfind(c.message, 0), 0u) << st.error().message();
    EXPECT_TRUE(config.queues.empty()) << "a bad section was half applied";
  }
}

}  // namespace
}  // namespace tug::server
