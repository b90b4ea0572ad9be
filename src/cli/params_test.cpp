#include "cli/params.h"

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace json = boost::json;

namespace tug::cli {
namespace {

const json::value kSchema = json::parse(R"({"type":"object","properties":{
  "count":{"type":"integer"},"ratio":{"type":"number"},"loud":{"type":"boolean"},
  "tags":{"type":"array"},"opts":{"type":"object"},"name":{"type":"string"},"any":{}}})");

TEST(TypedParameters, FollowsTheSchemasTypes) {
  auto p = TypedParameters({"count=3", "ratio=0.5", "loud=true", R"(tags=["a","b"])",
                            R"(opts={"k":1})", "name=42", "any=x=y", "unknown=7"},
                           &kSchema);
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ(json::value(*p), json::parse(R"({"count":3,"ratio":0.5,"loud":true,"tags":["a","b"],
    "opts":{"k":1},"name":"42","any":"x=y","unknown":"7"})"));
}

TEST(TypedParameters, WithoutASchemaEveryValueIsText) {
  auto p = TypedParameters({"count=3", "count=4", "e="}, nullptr);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(json::value(*p), json::parse(R"({"count":"4","e":""})"));
}

TEST(TypedParameters, TextThatIsNotTheTypeIsRefused) {
  for (const char* bad : {"count=three", "count=", "count=1.5", "ratio=fast", "loud=yes",
                          "tags={}", "opts=[1]", "novalue", "=3"}) {
    auto p = TypedParameters({bad}, &kSchema);
    EXPECT_FALSE(p.ok()) << bad;
  }
  auto p = TypedParameters({"count=three"}, &kSchema);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.error().message(), ::testing::HasSubstr("-p count: 'three' is not an integer"));
}

}  // namespace
}  // namespace tug::cli
