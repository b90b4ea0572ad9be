// The S3 client and S3LogStore against a real moto server (a separate process) that verifies
// every request's SigV4 signature once the IAM user is set up.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "aws/s3_client.h"
#include "core/clock.h"
#include "core/ids.h"
#include "logs/s3_log_store.h"
#include "moto_fixture.h"

namespace tug {
namespace {

constexpr char kBucket[] = "tug-logs";

class S3MotoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    moto_ = new testing::MotoServer();
    std::string error;
    if (!moto_->Start(&error)) {
      setup_error_ = new std::string(error);
      return;
    }
    auto creds = moto_->CreateUser("tug", R"(["s3:*"])");
    if (!creds.ok()) {
      setup_error_ = new std::string(creds.error().ToString() + "\n" + moto_->Log());
      return;
    }
    creds_ = new aws::Credentials(*creds);
    aws::S3Client s3(moto_->Client("s3", *creds_));
    if (auto st = s3.CreateBucket(kBucket); !st.ok()) {
      setup_error_ = new std::string(st.error().ToString() + "\n" + moto_->Log());
    }
  }
  static void TearDownTestSuite() {
    delete moto_;
    delete creds_;
    delete setup_error_;
    moto_ = nullptr;
    creds_ = nullptr;
    setup_error_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(setup_error_, nullptr) << *setup_error_;
    s3_ = std::make_unique<aws::S3Client>(moto_->Client("s3", *creds_));
    dir_ = std::filesystem::temp_directory_path() /
           ("tug-s3-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static void WriteLog(logs::LogStore& store, const std::string& run, const std::string& attempt,
                       const std::string& component, const std::string& text) {
    auto path = store.PathFor(run, attempt, component);
    ASSERT_TRUE(path.ok()) << path.error().ToString();
    std::ofstream(*path, std::ios::binary) << text;
  }

  static testing::MotoServer* moto_;
  static aws::Credentials* creds_;
  static std::string* setup_error_;
  std::unique_ptr<aws::S3Client> s3_;
  std::filesystem::path dir_;
  ManualClock clock_;
};

testing::MotoServer* S3MotoTest::moto_ = nullptr;
aws::Credentials* S3MotoTest::creds_ = nullptr;
std::string* S3MotoTest::setup_error_ = nullptr;

TEST_F(S3MotoTest, PutGetRangeAndList) {
  ASSERT_TRUE(s3_->PutObject(kBucket, "a/one.log", "0123456789").ok());
  ASSERT_TRUE(s3_->PutObject(kBucket, "a/two.log", "x").ok());
  ASSERT_TRUE(s3_->PutObject(kBucket, "b/three.log", "y").ok());
  auto whole = s3_->GetObject(kBucket, "a/one.log");
  ASSERT_TRUE(whole.ok()) << whole.error().ToString();
  EXPECT_EQ(whole->data, "0123456789");
  auto range = s3_->GetObject(kBucket, "a/one.log", 3, 4);
  ASSERT_TRUE(range.ok()) << range.error().ToString();
  EXPECT_EQ(range->data, "3456");
  EXPECT_EQ(range->total_size, 10);
  auto listed = s3_->ListObjectsV2(kBucket, "a/");
  ASSERT_TRUE(listed.ok()) << listed.error().ToString();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].key, "a/one.log");
  EXPECT_EQ((*listed)[0].size, 10);
  auto missing = s3_->GetObject(kBucket, "a/none.log");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
}

TEST_F(S3MotoTest, SignaturesAreVerified) {
  aws::Credentials wrong = *creds_;
  wrong.secret_access_key = "not-the-secret";
  aws::S3Client bad(moto_->Client("s3", wrong));
  Status put = bad.PutObject(kBucket, "forged.log", "x");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().code(), Code::kPermissionDenied);
  EXPECT_NE(put.error().detail().find("SignatureDoesNotMatch"), std::string::npos)
      << put.error().ToString();
  // The secret is in neither the message nor the detail.
  EXPECT_EQ(put.error().ToString().find(creds_->secret_access_key), std::string::npos);
  aws::Credentials unknown{"AKIAUNKNOWN000000000", "x", "", 0, "test"};
  aws::S3Client stranger(moto_->Client("s3", unknown));
  EXPECT_EQ(stranger.GetObject(kBucket, "a/one.log").error().code(), Code::kPermissionDenied);
}

TEST_F(S3MotoTest, ArchivedLogsAreReadFromS3ByAnotherReplica) {
  std::string run = NewId(clock_);
  std::string attempt = AttemptId(run, 1);
  logs::S3LogStoreOptions o{kBucket, "tug/logs", 16 << 20, 5 << 20};
  logs::S3LogStore writer(o, *s3_, (dir_ / "spool-a").string());
  WriteLog(writer, run, attempt, "driver", "line one\nline two\nline three\n");
  WriteLog(writer, run, attempt, "executor-1", "exec\n");
  ASSERT_TRUE(writer.Archive(run, attempt).ok());
  ASSERT_TRUE(writer.Archive(run, attempt).ok());  // idempotent
  EXPECT_TRUE(s3_->GetObject(kBucket, "tug/logs/" + run + "/" + attempt + "/driver.log").ok());

  // A second replica with an empty spool reads everything from S3.
  logs::S3LogStore reader(o, *s3_, (dir_ / "spool-b").string());
  auto components = reader.Components(run, attempt);
  ASSERT_TRUE(components.ok()) << components.error().ToString();
  EXPECT_EQ(*components, (std::vector<std::string>{"driver", "executor-1"}));
  // Whole lines only, paging by offset (a GetObject with Range each time).
  auto first = reader.Read(run, attempt, "driver", 0, 12);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_EQ(first->data, "line one\n");
  auto second = reader.Read(run, attempt, "driver", first->next_offset, 100);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->data, "line two\nline three\n");
  auto end = reader.Read(run, attempt, "driver", second->next_offset, 100);
  ASSERT_TRUE(end.ok()) << end.error().ToString();
  EXPECT_EQ(end->data, "");
  EXPECT_EQ(end->next_offset, second->next_offset);
  EXPECT_EQ(reader.Read(run, attempt, "controller", 0, 100).error().code(), Code::kNotFound);
  EXPECT_EQ(reader.Read(run, attempt, "../x", 0, 100).error().code(), Code::kInvalidArgument);
}

TEST_F(S3MotoTest, BigLogsGoUpInParts) {
  std::string run = NewId(clock_);
  std::string attempt = AttemptId(run, 1);
  logs::S3LogStoreOptions o{kBucket, "big/", 6 << 20, 5 << 20};
  logs::S3LogStore store(o, *s3_, (dir_ / "spool").string());
  std::string text;
  for (int i = 0; text.size() < (11u << 20); ++i) text += "line " + std::to_string(i) + "\n";
  WriteLog(store, run, attempt, "main", text);
  ASSERT_TRUE(store.Archive(run, attempt).ok());
  auto whole = s3_->GetObject(kBucket, store.Key(run, attempt, "main"));
  ASSERT_TRUE(whole.ok()) << whole.error().ToString();
  EXPECT_EQ(whole->data.size(), text.size());
  EXPECT_TRUE(whole->data == text);
  // The tail, as `tug logs` reads it: a ranged read near the end.
  logs::S3LogStore other(o, *s3_, (dir_ / "other").string());
  int64_t from = static_cast<int64_t>(text.rfind('\n', text.size() - 2)) + 1;
  auto tail = other.Read(run, attempt, "main", from, 4096);
  ASSERT_TRUE(tail.ok()) << tail.error().ToString();
  EXPECT_EQ(tail->data, text.substr(static_cast<size_t>(from)));
}

TEST_F(S3MotoTest, RemoveRunDeletesTheArchive) {
  std::string run = NewId(clock_);
  std::string attempt = AttemptId(run, 1);
  logs::S3LogStoreOptions o{kBucket, "rm/", 16 << 20, 5 << 20};
  logs::S3LogStore store(o, *s3_, (dir_ / "spool").string());
  WriteLog(store, run, attempt, "main", "bye\n");
  ASSERT_TRUE(store.Archive(run, attempt).ok());
  ASSERT_EQ(s3_->ListObjectsV2(kBucket, "rm/" + run + "/")->size(), 1u);
  ASSERT_TRUE(store.RemoveRun(run).ok());
  EXPECT_EQ(s3_->ListObjectsV2(kBucket, "rm/" + run + "/")->size(), 0u);
  EXPECT_EQ(store.Read(run, attempt, "main", 0, 100).error().code(), Code::kNotFound);
}

}  // namespace
}  // namespace tug
