// The fast paths against the per-line reference: for the dev corpus, mixed logs and random
// logs built from the catalog's own patterns, ScanMode::kLiteral (the default) and
// ScanMode::kStreamPrefilter must find exactly what ScanMode::kReference finds (the Describe
// texts are compared whole), whatever the chunking.
#include <hs/hs.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "diagnose/diagnoser.h"
#include "diagnose/log_file.h"
#include "diagnose/regex_literals.h"
#include "diagnose/regex_sample_testing.h"
#include "diagnose/scan_testing.h"
#include "diagnose/scanner.h"

namespace tug::diagnose {
namespace {

using testing::CorpusLogs;
using testing::Describe;
using testing::ScanRandomChunks;
using testing::ScanReference;

Diagnoser Builtin() {
  auto d = Diagnoser::CreateBuiltin();
  EXPECT_TRUE(d.ok()) << d.error().ToString();
  return std::move(d).value();
}

// Lines that exercise every piece of per-line state: frames outside blocks, noise followed by
// frames and exceptions, relays hiding "spark" in the logger name, CRLF, blank and
// whitespace-only lines, task tracking, executor threads, long tracebacks.
const std::vector<std::string>& TrickyLines() {
  static const std::vector<std::string> lines = {
      "2024-01-01 10:00:00,000 INFO BlockManagerInfo: Added broadcast_1_piece0 in memory",
      "24/01/01 10:00:00 INFO org.apache.spark.executor.Executor: Running task 1.0 in stage 2.0",
      "\tat org.apache.spark.rdd.RDD.iterator(RDD.scala:288)",
      "\t... 12 more",
      "",
      "   ",
      "\r",
      "INFO SparkContext: Running Spark version 3.5.0\r",
      "java.lang.OutOfMemoryError: Java heap space",
      "Caused by: java.io.IOException: No space left on device",
      "\tat org.apache.spark.network.client.TransportClient.send(TransportClient.java:1)",
      "22/06/30 00:34:32 ERROR ContextCleaner: Error cleaning broadcast 17",
      "org.apache.spark.shuffle.FetchFailedException: Failed to connect to host:7337",
      "Traceback (most recent call last):",
      "  File \"/app/job.py\", line 3, in f",
      "  File \"/opt/spark/python/lib/pyspark.zip/pyspark/worker.py\", line 1, in main",
      "    return f(*args)",
      "KeyError: 'x'",
      "EOFError",
      "MemoryError",
      "[x] MemoryError",
      "22/01/01 12:00:00 WARN TaskSetManager: Lost task 0.1 in stage 2.0 (TID 3) (h executor 1): "
      "ExecutorLostFailure (executor 1 exited caused by one of the running tasks) Reason: "
      "Container killed by YARN for exceeding physical memory limits",
      "22/01/01 12:00:00 INFO TaskSetManager: Finished task 1.0 in stage 2.0 (TID 4) in 20 ms",
      "22/01/01 12:00:00 INFO TaskSetManager: Killed task 0.1 in stage 2.0 (TID 3): another "
      "attempt succeeded",
      "22/01/01 12:00:00 ERROR Executor: Exception in task 0.1 in stage 2.0 (TID 3)",
      "org.apache.spark.memory.SparkOutOfMemoryError: Unable to acquire 65536 bytes of memory",
      "22/01/01 12:00:00 ERROR [Executor task launch worker for task 1.0] Executor: failed",
      "org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 1.0 "
      "failed 4 times, most recent failure: Lost task 0.3 in stage 1.0: java.lang.Exception",
      "py4j.protocol.Py4JJavaError: An error occurred while calling o1.save.",
      "Exception in thread \"main\" org.apache.spark.SparkException: boom",
      "RECEIVED SIGNAL 15: SIGTERM",
      "22/01/01 12:00:01 WARN TaskSetManager: Lost task 3.0 in stage 5.0 (TID 9) (h executor 2): "
      "boom",
      "22/01/01 12:00:01 INFO Worker: Executor task launch worker for task 7.0 started",
      "at least one line that mentions at but is no frame",
      "Error: something",
      "spark-hudi-1  | java.net.ConnectException: refused",
      "  0/12 Pending  ",
      "Reason:",
      "  OOMKilled",
      "2024-01-01T10:00:00ZEvicted",
      "binary \x01\x02\xff\xfe bytes Error",
      "**org.apache.spark.SparkException: [MALFORMED_RECORD_IN_PARSING] x**",
  };
  return lines;
}
std::string MixedLog(uint64_t seed, size_t lines, const std::vector<std::string>& corpus) {
  std::mt19937_64 rng(seed);
  const auto& tricky = TrickyLines();
  std::string log;
  for (size_t i = 0; i < lines; ++i) {
    uint64_t r = rng() % 100;
    if (r < 55) {
      log += "2024-01-01 10:00:" + std::to_string(i % 60) + ",000 INFO Filler: ordinary line " +
             std::to_string(rng());
    } else if (r < 93) {
      log += tricky[rng() % tricky.size()];
    } else if (r < 98 && !corpus.empty()) {
      log += corpus[rng() % corpus.size()];
    } else if (r < 99) {
      log +=
          std::string(9000 + rng() % 70000, 'x') + " java.lang.OutOfMemoryError: Java heap space";
    } else {
      log += "java.lang.IllegalStateException: " + std::string(rng() % 10000, 'y');
    }
    log += (rng() % 10 == 0) ? "\r\n" : "\n";
  }
  if (rng() % 2 == 0) log += "trailing line without newline Exception";
  return log;
}

TEST(FastPathTest, CorpusLogsMatchReferenceInRandomChunks) {
  Diagnoser d = Builtin();
  std::vector<std::string> corpus = CorpusLogs();
  ASSERT_FALSE(corpus.empty());
  uint64_t seed = 1;
  for (const std::string& log : corpus) {
    std::string want = Describe(*ScanReference(d, log));
    for (size_t max_chunk : {1, 7, 64, 4096, 1 << 20}) {
      ASSERT_EQ(Describe(*ScanRandomChunks(d, log, ++seed, max_chunk)), want)
          << "seed " << seed << " max_chunk " << max_chunk;
    }
    ASSERT_EQ(Describe(*ScanRandomChunks(d, log, ++seed, 4096, ScanMode::kStreamPrefilter)), want)
        << "stream prefilter, seed " << seed;
  }
}

TEST(FastPathTest, MixedLogsMatchReferenceInRandomChunks) {
  Diagnoser d = Builtin();
  std::vector<std::string> corpus = CorpusLogs();
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    std::string log = MixedLog(seed, 3000, corpus);
    std::string want = Describe(*ScanReference(d, log));
    for (size_t max_chunk : {13, 300, 65536, 300000, 3 << 20}) {
      ASSERT_EQ(Describe(*ScanRandomChunks(d, log, seed * 31 + max_chunk, max_chunk)), want)
          << "seed " << seed << " max_chunk " << max_chunk;
    }
  }
}

// `tug diagnose`'s way in: the file read by ReadLogFile (log_file.h), in small chunks so that
// lines and literals cross many chunk boundaries, and in the size offline.cpp uses.
TEST(FastPathTest, LogFileReadMatchesReference) {
  Diagnoser d = Builtin();
  std::vector<std::string> corpus = CorpusLogs();
  auto dir =
      std::filesystem::temp_directory_path() / ("tug-fastpath-file-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (uint64_t seed = 1; seed <= 2; ++seed) {
    std::string log = MixedLog(seed * 101, 800, corpus);
    std::string path = (dir / ("log" + std::to_string(seed))).string();
    std::ofstream(path, std::ios::binary) << log;
    std::string want = Describe(*ScanReference(d, log));
    for (size_t slice : {size_t{4093}, size_t{256} << 10}) {
      auto scan = d.Start("driver");
      Status st = ReadLogFile(
          path, [&](std::string_view c) { scan->Feed(c); }, slice);
      ASSERT_TRUE(st.ok()) << st.error().ToString();
      scan->Finish();
      ASSERT_EQ(Describe(*scan), want) << "seed " << seed << " slice " << slice;
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(FastPathTest, ManyHitsAndBlocksPastTheCapsMatchReference) {
  Diagnoser d = Builtin();
  std::string log;
  for (int i = 0; i < 6000; ++i) {
    log += "INFO Filler: line " + std::to_string(i) + "\n";
    log +=
        "java.lang.IllegalStateException: boom\nCaused by: java.io.IOException: No space "
        "left on device\n\tat a.B.c(B.java:1)\n";
  }
  std::string want = Describe(*ScanReference(d, log));
  EXPECT_EQ(Describe(*ScanRandomChunks(d, log, 5, 65536)), want);
}

// ---- Random logs built from the catalog ------------------------------------------------------

// A line around `core`: a relay prefix (timestamp, level, logger, tags, docker-compose,
// Airflow) or none, and noise after it.
std::string Dress(std::mt19937_64& rng, const std::string& core) {
  static const char* kPrefixes[] = {
      "",
      "2024-05-01 12:00:01,123 ",
      "24/05/01 12:00:01 ERROR TaskSetManager: ",
      "2024-05-01T12:00:01Z ",
      "[2024-05-01, 12:00:01 UTC] {pod_manager.py:472} INFO - [spark-kubernetes-driver] ",
      "spark-hudi-1  | ",
      "From Python: ",
      "**",
      "  ",
      "INFO ",
      "WARN org.apache.spark.scheduler.TaskSetManager: ",
  };
  static const char* kSuffixes[] = {"", " (TID 12)", ".", " ...", "\r", " and more text"};
  return kPrefixes[rng() % (sizeof kPrefixes / sizeof *kPrefixes)] + core +
         kSuffixes[rng() % (sizeof kSuffixes / sizeof *kSuffixes)];
}

// Ordinary text with near misses of the anchors: truncated or case-changed literals,
// numbers that hold "429" or "137", words like rate and limit.
std::string Noise(std::mt19937_64& rng, const std::vector<std::string>& anchors) {
  static const char* kWords[] = {"INFO",  "Added",  "broadcast_1429_piece0",
                                 "rate",  "limit",  "task",
                                 "stage", "memory", "Spark",
                                 "SPARK", "exit",   "137ms",
                                 "code",  "Error",  "error",
                                 "Exce",  "Failed", "Pending",
                                 "line",  "File"};
  std::string out;
  for (size_t n = 1 + rng() % 12; n > 0; --n) {
    if (rng() % 5 == 0 && !anchors.empty()) {
      const std::string& a = anchors[rng() % anchors.size()];
      std::string t = a.substr(0, a.size() - 1 - rng() % std::max<size_t>(a.size() / 2, 1));
      if (rng() % 2 == 0 && !t.empty()) t[0] = static_cast<char>(t[0] ^ 0x20);
      out += t;
    } else {
      out += kWords[rng() % (sizeof kWords / sizeof *kWords)];
    }
    out += rng() % 4 == 0 ? ", " : " ";
  }
  return out;
}

// A random log: catalog matches (sampled from the patterns' own regexes) dressed as log
// lines, noise with near misses, JVM and Python blocks, the tricky lines, occasional lines
// over kMaxLineBytes with the match past the cut, and CRLF.
std::string CatalogLog(std::mt19937_64& rng, size_t lines, const std::vector<RegexNode>& patterns,
                       const std::vector<std::string>& anchors) {
  const auto& tricky = TrickyLines();
  std::string log;
  for (size_t i = 0; i < lines; ++i) {
    uint64_t r = rng() % 100;
    if (r < 30) {
      log += Dress(rng, testing::SampleRegex(patterns[rng() % patterns.size()], rng));
    } else if (r < 75) {
      log += Dress(rng, Noise(rng, anchors));
    } else if (r < 85) {
      log += tricky[rng() % tricky.size()];
    } else if (r < 90) {
      log += "java.lang.RuntimeException: " + Noise(rng, anchors) +
             "\n\tat a.b.C.d(C.java:" + std::to_string(rng() % 99) +
             ")\nCaused by: " + testing::SampleRegex(patterns[rng() % patterns.size()], rng) +
             "\n\t... 3 more";
    } else if (r < 94) {
      log += "Traceback (most recent call last):\n  File \"/app/x.py\", line 1, in f\n    " +
             Noise(rng, anchors) + "\n" +
             (rng() % 2 == 0 ? "KeyError: 'k'"
                             : testing::SampleRegex(patterns[rng() % patterns.size()], rng));
    } else if (r < 95) {
      log += std::string(kMaxLineBytes - 20 + rng() % 40, 'y') +
             testing::SampleRegex(patterns[rng() % patterns.size()], rng);
    } else {
      log += "";
    }
    log += rng() % 10 == 0 ? "\r\n" : "\n";
  }
  if (rng() % 2 == 0) log += Dress(rng, testing::SampleRegex(patterns[0], rng));
  return log;
}

// Found by fuzz_scanner: lines of carriage returns, NULs and bytes above 0x7f, the last one
// flagged ("Error: "), read in chunks of 66 bytes. The fast path and the reference must name
// the same last non-empty line.
TEST(FastPathTest, CarriageReturnsAndNulsKeepTheLastLineOfTheReference) {
  const Diagnoser d = Builtin();
  static constexpr char kLog[] =
      "TA*\xa8\r\r\n\xa8\r\r\n\r\r\0\xa8\r\r\n\xa8\r\r\n\r\r\0\xa8\r\r\n\xa8\r\rT\n\r\r\0\xa8\r\r\n"
      "Error: \xa8\r\r\n";
  const std::string log(kLog, sizeof kLog - 1);
  auto reference = ScanReference(d, log);
  for (size_t chunk : {1, 7, 51, 52}) {
    auto scan = d.Start("driver");
    for (size_t i = 0; i < log.size(); i += chunk)
      scan->Feed(std::string_view(log).substr(i, chunk));
    scan->Finish();
    EXPECT_EQ(Describe(*scan), Describe(*reference)) << "chunks of " << chunk;
  }
}

TEST(FastPathTest, RandomCatalogLogsMatchReferenceInEveryMode) {
  Diagnoser d = Builtin();
  std::vector<RegexNode> patterns;
  for (const Pattern& p : d.catalog().patterns) {
    std::optional<RegexNode> node = ParseRegex(p.regex);
    ASSERT_TRUE(node.has_value()) << p.id;
    patterns.push_back(std::move(*node));
  }
  std::vector<std::string> anchors = d.compiled().prefilter(false).long_anchors();
  for (const std::string& a : d.compiled().prefilter(false).short_anchors()) {
    anchors.push_back(a.substr(0, a.find(" if ")));
  }
  size_t hits = 0;
  constexpr uint64_t kLogs = 10;
  for (uint64_t seed = 1; seed <= kLogs; ++seed) {
    std::mt19937_64 rng(seed);
    std::string log = CatalogLog(rng, 1500, patterns, anchors);
    auto reference = ScanReference(d, log);
    hits += reference->hits().size();
    std::string want = Describe(*reference);
    for (size_t max_chunk : {1, 97, 4096, 70000, 2 << 20}) {
      ASSERT_EQ(Describe(*ScanRandomChunks(d, log, seed * 7 + max_chunk, max_chunk)), want)
          << "literal path, seed " << seed << " max_chunk " << max_chunk;
    }
    ASSERT_EQ(Describe(*ScanRandomChunks(d, log, seed, 65536, ScanMode::kStreamPrefilter)), want)
        << "stream prefilter, seed " << seed;
  }
  // The logs are not trivially clean: the catalog's samples are found.
  EXPECT_GT(hits, kLogs * 300u);
}

}  // namespace
}  // namespace tug::diagnose
