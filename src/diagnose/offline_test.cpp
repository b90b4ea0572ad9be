// `tug diagnose` on gzip'd logs: the same diagnosis as on the plain file, streamed in chunks,
// concatenated members, and errors for truncated or corrupt data. Plain files through memory
// maps (mapped_file.h): across windows, truncated while they are read (between slices and
// under a slice, where a page access would raise SIGBUS), and FIFOs through read().
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <csignal>
#include <thread>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "diagnose/log_file.h"
#include "diagnose/mapped_file.h"
#include "diagnose/offline.h"

namespace tug::diagnose {
namespace {

std::filesystem::path TempDir() {
  auto dir = std::filesystem::temp_directory_path() /
             ("tug-offline-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::create_directories(dir);
  return dir;
}

// One gzip member holding `data`.
std::string Gzip(const std::string& data) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

void Write(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

std::string DriverLog() {
  std::string log = "24/01/01 10:00:00 INFO SparkContext: Running Spark version 3.5.0\n";
  for (int i = 0; i < 30000; ++i) {
    log += "24/01/01 10:00:01 INFO Filler: line " + std::to_string(i) + "\n";
  }
  log += "java.io.IOException: boom\nCaused by: java.io.IOException: No space left on device\n";
  log += "\tat java.io.FileOutputStream.writeBytes(Native Method)\n";
  return log;
}

std::string Diagnose(const std::string& path, int* rc, std::string* err) {
  OfflineOptions opts;
  opts.files = {path};
  opts.component = "executor";
  opts.json = true;
  std::ostringstream out, errs;
  *rc = DiagnoseFiles(opts, out, errs);
  *err = errs.str();
  return out.str();
}

TEST(OfflineGzipTest, GzipLogGivesTheSameDiagnosisAsThePlainOne) {
  auto dir = TempDir();
  std::string log = DriverLog();
  Write(dir / "driver.log", log);
  Write(dir / "driver.log.gz", Gzip(log));
  // Two members, as `cat a.gz b.gz` makes: one log, line numbers running on.
  size_t half = log.size() / 2 + 17;  // mid-line on purpose
  Write(dir / "two.gz", Gzip(log.substr(0, half)) + Gzip(log.substr(half)));
  int rc = 0;
  std::string err;
  std::string plain = Diagnose((dir / "driver.log").string(), &rc, &err);
  ASSERT_EQ(rc, 0) << err;
  EXPECT_NE(plain.find("\"line\":30003"), std::string::npos) << plain;
  EXPECT_EQ(Diagnose((dir / "driver.log.gz").string(), &rc, &err), plain);
  EXPECT_EQ(rc, 0) << err;
  EXPECT_EQ(Diagnose((dir / "two.gz").string(), &rc, &err), plain);
  EXPECT_EQ(rc, 0) << err;
  std::filesystem::remove_all(dir);
}

TEST(OfflineGzipTest, ReadLogFileStreamsBoundedChunks) {
  auto dir = TempDir();
  std::string log = DriverLog();
  Write(dir / "a.gz", Gzip(log));
  Write(dir / "a.log", log);
  Write(dir / "empty.gz", Gzip(""));
  Write(dir / "empty.log", "");
  for (const char* name : {"a.gz", "a.log", "empty.gz", "empty.log"}) {
    std::string got;
    size_t chunks = 0, largest = 0;
    Status st = ReadLogFile((dir / name).string(),
                            [&](std::string_view c) {
                              got.append(c);
                              ++chunks;
                              largest = std::max(largest, c.size());
                            },
                            4096);
    ASSERT_TRUE(st.ok()) << name << ": " << st.error().ToString();
    EXPECT_EQ(got, std::string(name).starts_with("a.") ? log : "") << name;
    EXPECT_LE(largest, 4096u) << name;
    if (!got.empty()) {
      EXPECT_GE(chunks, log.size() / 4096) << name;  // streamed, not whole
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(OfflineGzipTest, TruncatedOrCorruptGzipIsAnError) {
  auto dir = TempDir();
  std::string gz = Gzip(DriverLog());
  Write(dir / "cut.gz", gz.substr(0, gz.size() - 100));
  std::string bad = gz;
  for (size_t i = 100; i < 140; ++i) bad[i] = static_cast<char>(bad[i] ^ 0x5a);
  Write(dir / "bad.gz", bad);
  int rc = 0;
  std::string err;
  Diagnose((dir / "cut.gz").string(), &rc, &err);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("cut.gz"), std::string::npos) << err;
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;
  Diagnose((dir / "bad.gz").string(), &rc, &err);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(err.find("not valid gzip data"), std::string::npos) << err;
  Status missing = ReadLogFile((dir / "missing.gz").string(), [](std::string_view) {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  std::filesystem::remove_all(dir);
}

// Bytes that differ from position to position, so a slice out of place would show.
std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i % 251 == 0 ? '\n' : 'a' + i % 23);
  return s;
}

// MapFile over `path` in 64 KiB slices, with `change` run on the file as the first slice
// arrives: what it returned and the bytes it handed on.
std::pair<Result<MappedRead>, std::string> MapChanging(const std::string& path,
                                                       const std::function<void()>& change) {
  int fd = ::open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0);
  std::string got;
  auto read = MapFile(fd, 65536, [&](std::string_view c) {
    if (got.empty()) change();
    got.append(c);
  });
  ::close(fd);
  return {std::move(read), std::move(got)};
}

TEST(MappedLogTest, PlainFileIsReadAcrossWindowsInBoundedSlices) {
  auto dir = TempDir();
  std::string data = Pattern(kMapWindow + kMapWindow / 2 + 12345);  // two windows, odd tail
  Write(dir / "big.log", data);
  std::string got;
  size_t largest = 0;
  Status st = ReadLogFile((dir / "big.log").string(),
                          [&](std::string_view c) {
                            got.append(c);
                            largest = std::max(largest, c.size());
                          },
                          size_t{1} << 20);
  ASSERT_TRUE(st.ok()) << st.error().ToString();
  EXPECT_TRUE(got == data) << got.size() << " of " << data.size() << " bytes";
  EXPECT_LE(largest, size_t{1} << 20);
  std::filesystem::remove_all(dir);
}

TEST(MappedLogTest, FileGrowingWhileItIsReadIsReadToItsNewEnd) {
  auto dir = TempDir();
  std::string data = Pattern(300000);  // not a whole number of pages
  std::string more = Pattern(kMapWindow + 777).substr(5);
  std::string path = (dir / "live.log").string();
  Write(path, data);
  auto [read, got] = MapChanging(path, [&] {
    std::ofstream f(path, std::ios::binary | std::ios::app);  // the job logs on
    f << more;
  });
  ASSERT_TRUE(read.ok()) << read.error().ToString();
  EXPECT_TRUE(read->complete);  // mapped to the end: the next window starts inside a page
  EXPECT_FALSE(read->truncated);
  EXPECT_EQ(read->bytes, data.size() + more.size());
  EXPECT_TRUE(got == data + more) << got.size() << " of " << data.size() + more.size();
  std::filesystem::remove_all(dir);
}

TEST(MappedLogTest, FileTruncatedBetweenSlicesEndsTheReadThere) {
  auto dir = TempDir();
  std::string data = Pattern(300000);
  std::string path = (dir / "rotated.log").string();
  Write(path, data);
  auto [read, got] = MapChanging(path, [&] {
    EXPECT_EQ(::truncate(path.c_str(), 65536 + 1000), 0);  // copytruncate
  });
  ASSERT_TRUE(read.ok()) << read.error().ToString();
  EXPECT_TRUE(read->truncated);
  EXPECT_TRUE(read->complete);
  EXPECT_EQ(read->bytes, 65536u + 1000u);
  EXPECT_TRUE(got == data.substr(0, 65536 + 1000));
  std::filesystem::remove_all(dir);
}

TEST(MappedLogTest, PagesCutAwayUnderASliceReadAsZerosNotSigbus) {
  auto dir = TempDir();
  const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::string data = Pattern(8 * page);
  std::string path = (dir / "cut.log").string();
  Write(path, data);
  int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  size_t slices = 0, nonzero_past_cut = 0;
  auto read = MapFile(fd, 4 * page, [&](std::string_view c) {
    if (++slices > 1) return;
    // Cut the file under the slice being read: its pages past the first one are gone, and
    // touching them would raise SIGBUS without the guard.
    ASSERT_EQ(::truncate(path.c_str(), 100), 0);
    for (size_t i = 100; i < c.size(); ++i) nonzero_past_cut += c[i] != '\0';
  });
  ::close(fd);
  ASSERT_TRUE(read.ok()) << read.error().ToString();
  EXPECT_EQ(slices, 1u);  // the read ends after the slice that saw the cut
  EXPECT_TRUE(read->truncated);
  EXPECT_EQ(nonzero_past_cut, 0u);
  std::filesystem::remove_all(dir);
}

// The guard takes only faults inside a window being read: any other SIGBUS still ends the
// process (a bug elsewhere must not be swallowed), a fault and a signal sent alike.
TEST(MappedLogDeathTest, SigbusOutsideAWindowStillEndsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto dir = TempDir();
  const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::string path = (dir / "other.log").string();
  Write(path, Pattern(4 * page));
  auto touch_cut_page = [&] {
    std::string got;
    ASSERT_TRUE(ReadLogFile(path, [&](std::string_view c) { got.append(c); }).ok());  // guard on
    int fd = ::open(path.c_str(), O_RDONLY);
    void* p = ::mmap(nullptr, 4 * page, PROT_READ, MAP_PRIVATE, fd, 0);
    ASSERT_NE(p, MAP_FAILED);
    ASSERT_EQ(::ftruncate(::open(path.c_str(), O_WRONLY), 10), 0);
    volatile char c = static_cast<const char*>(p)[3 * page];  // past the end: SIGBUS
    (void)c;
  };
  EXPECT_DEATH(touch_cut_page(), "");
  auto sent = [&] {
    std::string got;
    ASSERT_TRUE(ReadLogFile(path, [&](std::string_view c) { got.append(c); }).ok());
    ::raise(SIGBUS);
  };
  EXPECT_DEATH(sent(), "");
  std::filesystem::remove_all(dir);
}

TEST(LogFileTest, FifoIsReadToItsEnd) {
  auto dir = TempDir();
  std::string path = (dir / "pipe").string();
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  std::string data = Pattern(200000);
  std::thread writer([&] {
    std::ofstream f(path, std::ios::binary);  // blocks until the reader opens
    f << data;
  });
  std::string got;
  Status st = ReadLogFile(path, [&](std::string_view c) { got.append(c); });
  writer.join();
  ASSERT_TRUE(st.ok()) << st.error().ToString();
  EXPECT_TRUE(got == data) << got.size();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tug::diagnose
