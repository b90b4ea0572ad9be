#include "core/yaml.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "core/json.h"

namespace tug {
namespace {

TEST(YamlTest, DefinitionFromYaml) {
  auto docs = YamlToJson(R"(name: hello
command: echo hello from tugboat
env: {GREETING: hi, COUNT: 3, QUOTED: "007"}
resources: {cpu: 500m, memory: 64Mi}
timeout: 10m
retry: {max_attempts: 2}
)");
  ASSERT_TRUE(docs.ok()) << docs.error().message();
  ASSERT_EQ(docs->size(), 1u);
  auto d = DefinitionFromJson((*docs)[0]);
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ(d->command, "echo hello from tugboat");
  EXPECT_EQ(d->env.at("COUNT"), "3");
  EXPECT_EQ(d->env.at("QUOTED"), "007");
  EXPECT_EQ(d->resources.memory_bytes, 64 << 20);
  EXPECT_EQ(d->timeout_seconds, 600);
  EXPECT_EQ(d->retry.max_attempts, 2);
}

TEST(YamlTest, ScalarTyping) {
  auto docs = YamlToJson("a: 1\nb: 1.5\nc: true\nd: ~\ne: '1'\nf: 500m\ng: -3\n");
  ASSERT_TRUE(docs.ok());
  const auto& o = (*docs)[0].as_object();
  EXPECT_TRUE(o.at("a").is_int64());
  EXPECT_TRUE(o.at("b").is_double());
  EXPECT_TRUE(o.at("c").is_bool());
  EXPECT_TRUE(o.at("d").is_null());
  EXPECT_TRUE(o.at("e").is_string());
  EXPECT_TRUE(o.at("f").is_string());
  EXPECT_EQ(o.at("g").as_int64(), -3);
}

TEST(YamlTest, MultipleDocumentsAndErrors) {
  auto docs = YamlToJson("name: a\n---\nname: b\n");
  ASSERT_TRUE(docs.ok());
  EXPECT_EQ(docs->size(), 2u);
  auto bad = YamlToJson("name: [unclosed\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("YAML line"), std::string::npos);
}

}  // namespace
}  // namespace tug
