#include "server/config.h"

#include <gtest/gtest.h>

namespace tug::server {
namespace {

TEST(ConfigTest, PrecedenceFileThenEnv) {
  Config c = DefaultConfig();
  ASSERT_TRUE(
      ApplyYaml(c, "listen: 127.0.0.1:9000\nengine: {cgroup: none}\nlimits: {max_memory: 2Gi}\n",
                "tug.yaml")
          .ok());
  EXPECT_EQ(c.port(), 9000);
  EXPECT_EQ(c.cgroup_mode, "none");
  EXPECT_EQ(c.limits.max_memory_bytes, 2LL << 30);
  ASSERT_TRUE(ApplyEnv(c, {{"TUG_LISTEN", "127.0.0.1:9100"}, {"UNRELATED", "x"}}).ok());
  EXPECT_EQ(c.port(), 9100);
  ASSERT_TRUE(ValidateConfig(c).ok());
  EXPECT_EQ(c.database_path, ".tug/tug.db");
}

TEST(ConfigTest, PlannerLimits) {
  Config c = DefaultConfig();
  ASSERT_TRUE(
      ApplyYaml(c, "limits: {max_executors: 50}\nadapt: {climate_threshold: 0.35}\n", "tug.yaml")
          .ok());
  EXPECT_EQ(c.limits.max_executors, 50);
  EXPECT_DOUBLE_EQ(c.climate_threshold, 0.35);
  auto st = ApplyEnv(c, {{"TUG_MAX_EXECUTORS", "many"}});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("TUG_MAX_EXECUTORS"), std::string::npos);
  EXPECT_FALSE(ApplyEnv(c, {{"TUG_CLIMATE_THRESHOLD", "1.5"}}).ok());
}

TEST(ConfigTest, ErrorsNameTheKey) {
  Config c = DefaultConfig();
  auto st = ApplyYaml(c, "engine: {colour: red}\n", "tug.yaml");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("unknown key 'engine.colour'"), std::string::npos);
  st = ApplyEnv(c, {{"TUG_MAX_MEMORY", "lots"}});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("TUG_MAX_MEMORY"), std::string::npos);
  c.listen = "0.0.0.0:8080";
  EXPECT_NE(ValidateConfig(c).error().message().find("loopback"), std::string::npos);
  c.listen = "127.0.0.1";
  EXPECT_FALSE(ValidateConfig(c).ok());
}

}  // namespace
}  // namespace tug::server
