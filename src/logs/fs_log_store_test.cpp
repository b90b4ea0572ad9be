#include "logs/fs_log_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/ids.h"

namespace tug::logs {
namespace {

class FsLogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            ("tug-logs-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::filesystem::path root_;
};

TEST_F(FsLogStoreTest, ReadsWholeLinesByOffset) {
  FsLogStore store(root_.string());
  std::string run = NewId(SystemClock::Instance());
  std::string attempt = run + "-1";
  auto path = store.PathFor(run, attempt, "main");
  ASSERT_TRUE(path.ok()) << path.error().message();
  {
    std::ofstream out(*path);
    out << "line one\nline two\npartial";
  }
  auto c = store.Read(run, attempt, "main", 0, 1 << 20);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->data, "line one\nline two\n");
  auto c2 = store.Read(run, attempt, "main", c->next_offset, 1 << 20);
  EXPECT_EQ(c2->data, "");
  EXPECT_EQ(c2->next_offset, c->next_offset);
  {
    std::ofstream out(*path, std::ios::app);
    out << " done\n";
  }
  auto c3 = store.Read(run, attempt, "main", c->next_offset, 1 << 20);
  EXPECT_EQ(c3->data, "partial done\n");
  auto small = store.Read(run, attempt, "main", 0, 12);
  EXPECT_EQ(small->data, "line one\n");
  EXPECT_EQ(*store.Components(run, attempt), std::vector<std::string>{"main"});
}

TEST_F(FsLogStoreTest, RejectsPathsOutsideTheRoot) {
  FsLogStore store(root_.string());
  std::string run = NewId(SystemClock::Instance());
  EXPECT_FALSE(store.PathFor("../../etc", run + "-1", "main").ok());
  EXPECT_FALSE(store.PathFor(run, run + "-1/../x", "main").ok());
  EXPECT_FALSE(store.PathFor(run, "other-1", "main").ok());
  EXPECT_FALSE(store.PathFor(run, run + "-1", "../passwd").ok());
  EXPECT_EQ(store.Read(run, run + "-1", "main", 0, 10).error().code(), Code::kNotFound);
}

TEST_F(FsLogStoreTest, RemoveRunDeletesOnlyThatRunsLogs) {
  FsLogStore store(root_.string());
  std::string gone = NewId(SystemClock::Instance());
  std::string kept = NewId(SystemClock::Instance());
  for (const auto& run : {gone, kept}) {
    for (const char* component : {"main", "driver"}) {
      auto path = store.PathFor(run, run + "-1", component);
      ASSERT_TRUE(path.ok());
      std::ofstream(*path) << "a line\n";
    }
  }
  ASSERT_TRUE(store.RemoveRun(gone).ok());
  EXPECT_EQ(store.Read(gone, gone + "-1", "main", 0, 100).error().code(), Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(root_ / gone));
  EXPECT_TRUE(store.Read(kept, kept + "-1", "main", 0, 100).ok());
  EXPECT_TRUE(store.RemoveRun(gone).ok()) << "removing twice is fine";
  EXPECT_EQ(store.RemoveRun("../x").error().code(), Code::kInvalidArgument);
  EXPECT_TRUE(std::filesystem::exists(root_));
}

TEST(StripLinePrefixesTest, StripsTimeAndStream) {
  EXPECT_EQ(StripLinePrefixes("2026-11-24T08:00:00.000001Z stdout hello world\n"
                              "2026-11-24T08:00:00.000002Z stderr oops\n"
                              "2026-11-24T08:00:00.000003Z stdout \n"
                              "2026-11-24T08:00:00.000004Z tugboat exited with code 0\n"),
            "hello world\noops\n\n[tugboat] exited with code 0\n");
  EXPECT_EQ(StripLinePrefixes("garbage\n"), "garbage\n");
}

}  // namespace
}  // namespace tug::logs
