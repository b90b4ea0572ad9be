// EMR on EKS's stdout.gz/stderr.gz under the monitoring prefix, imported into the run's log
// store, against a real moto S3 (signatures verified).
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>

#include "engine/emr/emr_logs.h"
#include "logs/fs_log_store.h"
#include "moto_fixture.h"

namespace tug {
namespace {

std::string Gzip(const std::string& text) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(compressBound(static_cast<uLong>(text.size())) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

TEST(EmrLogs, KeysToComponents) {
  using engine::emr::EmrLogComponent;
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(EmrLogComponent("000000030cp1c8aalj8-xkf9v/stdout.gz"), (P{"controller", "stdout"}));
  EXPECT_EQ(EmrLogComponent("spark-000000030cp1c8aalj8/spark-000000030cp1c8aalj8-driver/stderr.gz"),
            (P{"driver", "stderr"}));
  EXPECT_EQ(EmrLogComponent("spark-0000/nightly-etl-3b1a8f8e-exec-12/stdout.gz"),
            (P{"executor-12", "stdout"}));
  EXPECT_EQ(EmrLogComponent("spark-0000/something-else/stdout.gz"), (P{}));
  EXPECT_EQ(EmrLogComponent("spark-0000/x-driver/events.json"), (P{}));
  EXPECT_FALSE(engine::emr::Gunzip("not gzip").ok());
  EXPECT_EQ(*engine::emr::Gunzip(Gzip("hello\n")), "hello\n");
  EXPECT_EQ(engine::emr::SplitS3Uri("s3://b/p")->second, "p/");
  EXPECT_FALSE(engine::emr::SplitS3Uri("https://b/p").ok());
}

TEST(EmrLogs, ImportsTheMonitoringPrefixIntoTheLogStore) {
  testing::MotoServer moto;
  std::string error;
  ASSERT_TRUE(moto.Start(&error)) << error;
  auto creds = moto.CreateUser("tug-logs", R"(["s3:*"])");
  ASSERT_TRUE(creds.ok()) << creds.error().ToString();
  aws::S3Client s3(moto.Client("s3", *creds));
  ASSERT_TRUE(s3.CreateBucket("emr-logs").ok());
  const std::string base = "jobs-logs/vc1/jobs/job1/containers/";
  ASSERT_TRUE(
      s3.PutObject("emr-logs", base + "000000030cp1c8aalj8-xkf9v/stdout.gz", Gzip("submitting\n"))
          .ok());
  ASSERT_TRUE(s3.PutObject("emr-logs", base + "spark-123/spark-123-driver/stdout.gz",
                           Gzip("driver says hi\n"))
                  .ok());
  ASSERT_TRUE(
      s3.PutObject("emr-logs", base + "spark-123/spark-123-driver/stderr.gz",
                   Gzip("java.lang.OutOfMemoryError: Java heap space\n\tat x.y(Z.java:1)\n"))
          .ok());
  ASSERT_TRUE(s3.PutObject("emr-logs", base + "spark-123/etl-ab12-exec-2/stderr.gz",
                           Gzip("executor 2 lost\n"))
                  .ok());
  auto dir = std::filesystem::temp_directory_path() / ("tug-emr-logs-" + std::to_string(getpid()));
  logs::FsLogStore store(dir.string());
  const std::string run = "01hf7yat0009ca7jvkrtmknftn";
  const std::string attempt = run + "-1";
  auto written = engine::emr::ImportEmrLogs(s3, "s3://emr-logs/jobs-logs", "vc1", "job1", store,
                                            run, attempt, 1'700'000'000 * kMicrosPerSecond);
  ASSERT_TRUE(written.ok()) << written.error().ToString();
  EXPECT_EQ(*written, (std::vector<std::string>{"controller", "driver", "executor-2"}));
  auto driver = store.Read(run, attempt, "driver", 0, 1 << 20);
  ASSERT_TRUE(driver.ok());
  EXPECT_EQ(logs::StripLinePrefixes(driver->data),
            "driver says hi\njava.lang.OutOfMemoryError: Java heap space\n\tat x.y(Z.java:1)\n");
  EXPECT_NE(driver->data.find(" stderr java.lang.OutOfMemoryError"), std::string::npos);
  // A second import replaces, never duplicates.
  ASSERT_TRUE(engine::emr::ImportEmrLogs(s3, "s3://emr-logs/jobs-logs", "vc1", "job1", store, run,
                                         attempt, 1'700'000'000 * kMicrosPerSecond)
                  .ok());
  EXPECT_EQ(logs::StripLinePrefixes(store.Read(run, attempt, "executor-2", 0, 1 << 20)->data),
            "executor 2 lost\n");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tug
