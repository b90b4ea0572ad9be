#include "core/yaml.h"

#include <gtest/gtest.h>

#include <fmt/format.h>
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

TEST(YamlTest, AnchorsAndAliasesAreCopied) {
  auto docs = YamlToJson(
      "env: &e {A: '1', B: 2}\nlabels: *e\nk: &k team\nm: {*k : ds}\n---\n---\nname: b\n");
  ASSERT_TRUE(docs.ok()) << docs.error().message();
  ASSERT_EQ(docs->size(), 2u) << "empty documents are skipped";
  const auto& o = (*docs)[0].as_object();
  EXPECT_EQ(o.at("labels"), o.at("env"));
  EXPECT_EQ(o.at("m").at("team"), boost::json::value("ds"));
}

// Found by fuzz_yaml_definition: yaml-cpp 0.7's LoadAll never returned on a stray ',' (it
// reported an empty document without consuming the token, allocating each time until the
// process ran out of memory; jbeder/yaml-cpp#1040).
TEST(YamlTest, AStrayCommaIsAnErrorNotAHang) {
  for (const char* text : {",", "- a\n,", "[a],", "name: x\n---\n,\n", "# comment\n,\"a\":1}"}) {
    auto docs = YamlToJson(text);
    ASSERT_FALSE(docs.ok()) << text;
    EXPECT_NE(docs.error().message().find("unexpected character"), std::string::npos)
        << docs.error().message();
  }
}

TEST(YamlTest, AliasesCannotExpandExponentially) {
  // Each level doubles: 2^40 values from a few hundred bytes.
  std::string text = "a0: &a0 [x, x]\n";
  for (int i = 1; i <= 40; ++i) {
    text += fmt::format("a{}: &a{} [*a{}, *a{}]\n", i, i, i - 1, i - 1);
  }
  auto docs = YamlToJson(text);
  ASSERT_FALSE(docs.ok());
  EXPECT_NE(docs.error().message().find("too many values"), std::string::npos)
      << docs.error().message();

  auto self = YamlToJson("a: &a [*a, *a]\n");
  ASSERT_FALSE(self.ok());
  EXPECT_NE(self.error().message().find("contains it"), std::string::npos)
      << self.error().message();
}

TEST(YamlTest, DeepNestingIsRefusedWithoutOverflowingTheStack) {
  for (const std::string& text : {std::string(100'000, '['), std::string(100'000, '{'), [] {
                                    std::string s;
                                    for (int i = 0; i < 3000; ++i)
                                      s += std::string(static_cast<size_t>(i) * 2, ' ') + "-\n";
                                    return s + "x\n";
                                  }()}) {
    auto docs = YamlToJson(text);
    ASSERT_FALSE(docs.ok());
    EXPECT_FALSE(docs.error().message().empty());
  }
  auto deep = YamlToJson(std::string(65, '[') + std::string(65, ']'));
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.error().message().find("nested more than 64 levels"), std::string::npos)
      << deep.error().message();
  EXPECT_TRUE(YamlToJson(std::string(64, '[') + std::string(64, ']')).ok());
}

TEST(YamlTest, TextThatIsNotUtf8IsRefusedWithItsLine) {
  auto docs = YamlToJson("name: x\ncommand: echo \xff\n");
  ASSERT_FALSE(docs.ok());
  EXPECT_NE(docs.error().message().find("YAML line 2: byte 0xFF is not valid UTF-8"),
            std::string::npos)
      << docs.error().message();
  EXPECT_TRUE(YamlToJson("name: größe\n").ok());
}

}  // namespace
}  // namespace tug
