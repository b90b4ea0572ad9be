#include "diagnose/catalog.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "diagnose/diagnoser.h"
#include "diagnose/offline.h"

namespace tug::diagnose {
namespace {

std::filesystem::path TempDir() {
  auto dir = std::filesystem::temp_directory_path() /
             ("tug-diag-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::create_directories(dir);
  return dir;
}

// Taxonomy retry policy: user code, data and configuration errors are never retried, and
// noise is never a reason to retry; no pattern of the built-in catalog may say otherwise.
TEST(CatalogTest, NoUserDataConfigOrNoisePatternIsRetryable) {
  auto cat = BuiltinCatalog();
  ASSERT_TRUE(cat.ok()) << cat.error().ToString();
  for (const Pattern& p : cat->patterns) {
    if (p.cls == "user_code_error" || p.cls == "data_error" || p.cls == "config_error" ||
        p.cls == "benign_noise") {
      EXPECT_FALSE(p.retryable) << p.id << " (" << p.cls << ") is marked retryable at " << p.origin;
    }
  }
}

TEST(CatalogTest, BuiltinIsLargeAndUsesTaxonomyLabels) {
  auto cat = BuiltinCatalog();
  ASSERT_TRUE(cat.ok()) << cat.error().ToString();
  EXPECT_GE(cat->patterns.size(), 40u);
  std::set<std::string> ids, classes;
  for (const Pattern& p : cat->patterns) {
    EXPECT_TRUE(ids.insert(p.id).second) << "duplicate id " << p.id;
    if (!p.cls.empty()) classes.insert(p.cls);
  }
  for (const std::string& label : TaxonomyLabels()) {
    EXPECT_TRUE(classes.count(label) > 0) << "no pattern for " << label;
  }
}

TEST(CatalogTest, BadRegexIsRejectedWithFileLineAndReason) {
  std::string text =
      "patterns:\n"
      "  - id: ok\n"
      "    regex: 'fine'\n"
      "    class: data_error\n"
      "  - id: broken\n"
      "    regex: 'unbalanced (paren'\n"
      "    class: data_error\n";
  auto cat = ParseCatalog(text, "ops.yaml");
  ASSERT_FALSE(cat.ok());
  EXPECT_EQ(cat.error().code(), Code::kInvalidArgument);
  const std::string& msg = cat.error().message();
  EXPECT_NE(msg.find("ops.yaml:6"), std::string::npos) << msg;
  EXPECT_NE(msg.find("broken"), std::string::npos) << msg;
  EXPECT_NE(msg.find("regex does not compile"), std::string::npos) << msg;
}

TEST(CatalogTest, UnsupportedConstructAndUnknownClassAreRejected) {
  auto lookbehind =
      ParseCatalog("patterns:\n  - {id: lb, regex: '(?<!x)y', class: timeout}\n", "f");
  EXPECT_FALSE(lookbehind.ok());
  auto bad_class = ParseCatalog("patterns:\n  - {id: c, regex: 'y', class: oom}\n", "f.yaml");
  ASSERT_FALSE(bad_class.ok());
  EXPECT_NE(bad_class.error().message().find("f.yaml:2"), std::string::npos);
  EXPECT_NE(bad_class.error().message().find("not a taxonomy label"), std::string::npos);
  auto bad_yaml = ParseCatalog("patterns: [\n", "y.yaml");
  EXPECT_FALSE(bad_yaml.ok());
}

TEST(CatalogTest, OperatorFileOverridesAndDefinitionListsMerge) {
  auto dir = TempDir();
  auto path = dir / "ops.yaml";
  std::ofstream(path) << "patterns:\n"
                         "  - {id: ops.vendor, regex: 'VendorQuotaHit', class: "
                         "transient_dependency, severity: 90, retryable: true}\n";
  auto extra = LoadCatalogFile(path.string());
  ASSERT_TRUE(extra.ok()) << extra.error().ToString();
  auto missing = LoadCatalogFile((dir / "nope.yaml").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Code::kNotFound);

  auto cat = BuiltinCatalog();
  ASSERT_TRUE(cat.ok());
  MergeCatalog(*cat, std::move(extra).value());
  Status bad = MergeDefinitionPatterns(*cat, {"ok", "bad("}, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("retry_on[1]"), std::string::npos);
  ASSERT_TRUE(MergeDefinitionPatterns(*cat, {"flaky upstream"}, {"SchemaDrift"}).ok());

  auto d = Diagnoser::Create(std::move(cat).value());
  ASSERT_TRUE(d.ok()) << d.error().ToString();
  auto scan = d->Start("batch-container");
  scan->Feed("ERROR VendorQuotaHit while writing\nSchemaDrift: column a\n");
  scan->Finish();
  Diagnosis diag = d->Decide({scan.get()}, Facts{});
  EXPECT_EQ(diag.cls, "user_code_error");  // fatal_on (severity 95) beats the operator pattern
  EXPECT_FALSE(diag.retryable);
  std::filesystem::remove_all(dir);
}

TEST(OfflineTest, JsonOutputAndIoErrors) {
  auto dir = TempDir();
  auto path = dir / "driver.log";
  {
    std::ofstream f(path, std::ios::binary);
    f << "24/01/01 10:00:00 INFO SparkContext: Running Spark version 3.5.0\n";
    for (int i = 0; i < 20000; ++i) f << "24/01/01 10:00:01 INFO Filler: line " << i << "\n";
    f << "Caused by: java.io.IOException: No space left on device\n";
  }
  std::ostringstream out, err;
  OfflineOptions opts;
  opts.files = {path.string()};
  opts.component = "executor";
  opts.json = true;
  ASSERT_EQ(DiagnoseFiles(opts, out, err), 0) << err.str();
  boost::system::error_code ec;
  auto v = boost::json::parse(out.str(), ec);
  ASSERT_FALSE(ec) << out.str();
  EXPECT_EQ(v.at("class").as_string(), "disk_full");
  EXPECT_EQ(v.at("root_cause").at("line").as_int64(), 20002);
  EXPECT_EQ(v.at("root_cause").at("text").as_string(),
            "Caused by: java.io.IOException: No space left on device");
  EXPECT_EQ(v.at("root_cause").at("component").as_string(), "executor");

  std::ostringstream human;
  opts.json = false;
  ASSERT_EQ(DiagnoseFiles(opts, human, err), 0);
  EXPECT_NE(human.str().find("class:       disk_full"), std::string::npos);

  opts.files = {(dir / "missing.log").string()};
  std::ostringstream out2, err2;
  EXPECT_EQ(DiagnoseFiles(opts, out2, err2), 1);
  EXPECT_NE(err2.str().find("missing.log"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tug::diagnose
