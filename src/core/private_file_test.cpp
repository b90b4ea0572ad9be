#include "core/private_file.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace tug {
namespace {

class PrivateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("tug-private-file-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::string Read(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static unsigned Mode(const std::filesystem::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0);
    return st.st_mode & 0777;
  }
  std::filesystem::path dir_;
};

TEST_F(PrivateFileTest, ReplaceWritesAndReplacesWithMode0600) {
  auto path = (dir_ / "config").string();
  {
    auto r = WritePrivateFile(path, "one\n", IfExists::kReplace);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(*r, true);
  }
  EXPECT_EQ(Read(path), "one\n");
  EXPECT_EQ(Mode(path), 0600u);
  {
    auto r = WritePrivateFile(path, "two\n", IfExists::kReplace);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(*r, true);
  }
  EXPECT_EQ(Read(path), "two\n");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1)
      << "no temporary file is left behind";
}

TEST_F(PrivateFileTest, KeepLeavesAnExistingFileAlone) {
  auto path = (dir_ / "token").string();
  {
    auto r = WritePrivateFile(path, "first\n", IfExists::kKeep);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(*r, true);
  }
  {
    auto r = WritePrivateFile(path, "second\n", IfExists::kKeep);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(*r, false);
  }
  EXPECT_EQ(Read(path), "first\n");
  EXPECT_EQ(Mode(path), 0600u);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), {}), 1);
}

TEST_F(PrivateFileTest, MissingDirectoryIsUnavailableAndNamesThePath) {
  auto path = (dir_ / "absent" / "token").string();
  auto r = WritePrivateFile(path, "x", IfExists::kReplace);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
  EXPECT_NE(r.error().message().find(path), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("No such file"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace tug
