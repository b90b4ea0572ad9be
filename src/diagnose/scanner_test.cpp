#include "diagnose/scanner.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "diagnose/diagnoser.h"

namespace tug::diagnose {
namespace {

Diagnoser Builtin() {
  auto d = Diagnoser::CreateBuiltin();
  EXPECT_TRUE(d.ok()) << d.error().ToString();
  return std::move(d).value();
}

std::unique_ptr<LogScan> ScanAll(const Diagnoser& d, std::string_view log, size_t chunk,
                                 std::string component = "driver") {
  auto scan = d.Start(std::move(component));
  for (size_t i = 0; i < log.size(); i += chunk) scan->Feed(log.substr(i, chunk));
  scan->Finish();
  return scan;
}

const Hit* HitAt(const LogScan& scan, int64_t line) {
  for (const Hit& h : scan.hits()) {
    if (h.line == line) return &h;
  }
  return nullptr;
}

TEST(StripRelayPrefixTest, RemovesTimestampsLevelsAndRelays) {
  EXPECT_EQ(StripRelayPrefix("22/06/30 00:34:32 ERROR ContextCleaner: Error cleaning broadcast 17"),
            "Error cleaning broadcast 17");
  EXPECT_EQ(StripRelayPrefix("2017-03-27 03:11:05 INFO  Executor:54 - Running task 1.0"),
            "Running task 1.0");
  EXPECT_EQ(StripRelayPrefix("[2024-11-27, 05:08:31 CET] {pod_manager.py:472} INFO - "
                             "[spark-kubernetes-driver] org.apache.spark.SparkException: boom"),
            "org.apache.spark.SparkException: boom");
  EXPECT_EQ(StripRelayPrefix("[2017-10-03 17:35:49,716] ERROR jobserver.python.PythonJob [] "
                             "[akka://x/y] - From Python: ImportError: No module named foo"),
            "ImportError: No module named foo");
  EXPECT_EQ(StripRelayPrefix("spark-hudi-1  | java.net.ConnectException: refused"),
            "java.net.ConnectException: refused");
  EXPECT_EQ(StripRelayPrefix("01:39:43,347  INFO [Thread-6] ExecuteScript:58 -        at a.B.c(B.java:1)"),
            "at a.B.c(B.java:1)");
  EXPECT_EQ(StripRelayPrefix("[Stage 1:=>      (2 + 58) / 60]\r22/01/01 12:00:00 WARN TaskSetManager: Lost task"),
            "Lost task");
  EXPECT_EQ(StripRelayPrefix("**org.apache.spark.SparkException: [MALFORMED_RECORD_IN_PARSING] x**"),
            "org.apache.spark.SparkException: [MALFORMED_RECORD_IN_PARSING] x");
  EXPECT_EQ(StripRelayPrefix("stderr: bash: foo: command not found"), "bash: foo: command not found");
  // Content that merely looks like a prefix stays.
  EXPECT_EQ(StripRelayPrefix("0/12 nodes are available: 3 Insufficient memory"),
            "0/12 nodes are available: 3 Insufficient memory");
}

TEST(ExtractorTest, JvmFramesAndHeaders) {
  EXPECT_TRUE(IsJvmFrame("at org.apache.spark.rdd.RDD.iterator(RDD.scala:288)"));
  EXPECT_TRUE(IsJvmFrame("... 36 more"));
  EXPECT_FALSE(IsJvmFrame("at least one executor failed"));
  EXPECT_TRUE(IsJvmHeader("java.lang.OutOfMemoryError: Java heap space"));
  EXPECT_TRUE(IsJvmHeader("Caused by: java.io.IOException: No space left on device"));
  EXPECT_TRUE(IsJvmHeader("Exception in thread \"main\" org.apache.spark.SparkException: Job aborted"));
  EXPECT_TRUE(IsJvmHeader(": java.io.FileNotFoundException: /mnt/secrets/k.json"));
  EXPECT_TRUE(IsJvmHeader("org.apache.spark.rpc.RpcTimeoutException:"));
  EXPECT_FALSE(IsJvmHeader("Lost task 1.0 in stage 2.0: java.lang.OutOfMemoryError"));
  EXPECT_FALSE(IsJvmHeader("KeyError: 1"));  // Python, not JVM
}

TEST(ExtractorTest, PythonTracebackLines) {
  EXPECT_TRUE(IsPythonExceptionLine("KeyError: 1"));
  EXPECT_TRUE(IsPythonExceptionLine("requests.exceptions.HTTPError: 502 Server Error"));
  EXPECT_TRUE(IsPythonExceptionLine("EOFError"));
  EXPECT_FALSE(IsPythonExceptionLine("get_return_value"));
  EXPECT_FALSE(IsPythonExceptionLine("return f(*args)"));
  EXPECT_TRUE(IsPythonUserFrame("File \"/app/job.py\", line 3, in f"));
  EXPECT_FALSE(IsPythonUserFrame("File \"/opt/spark/python/lib/pyspark.zip/pyspark/worker.py\", line 1, in main"));
  EXPECT_FALSE(IsPythonUserFrame("File \"/x/py4j-0.10.9-src.zip/py4j/protocol.py\", line 1, in g"));
}

TEST(ScannerTest, JvmCausedByChainIsOneBlockWithDepth) {
  Diagnoser d = Builtin();
  std::string log =
      "24/01/01 10:00:00 ERROR Executor: Exception in task 0.0 in stage 1.0 (TID 1)\n"
      "org.apache.parquet.io.ParquetDecodingException: Can not read value at 0 in block -1\n"
      "\tat org.apache.parquet.hadoop.InternalParquetRecordReader.nextKeyValue(I.java:1)\n"
      "\t... 12 more\n"
      "Caused by: org.apache.spark.sql.execution.datasources.SchemaColumnConvertNotSupportedException: col\n"
      "\tat org.apache.spark.sql.X.y(X.scala:1)\n";
  auto scan = ScanAll(*&d, log, 5, "executor");
  const Hit* head = HitAt(*scan, 2);
  const Hit* cause = HitAt(*scan, 5);
  ASSERT_NE(head, nullptr);
  ASSERT_NE(cause, nullptr);
  EXPECT_EQ(head->block, cause->block);
  EXPECT_EQ(head->depth, 0);
  EXPECT_EQ(cause->depth, 1);
  EXPECT_TRUE(cause->header);
  EXPECT_EQ(scan->lines(), 6);
}

TEST(ScannerTest, PythonTracebackFinalLineAndUserFrame) {
  Diagnoser d = Builtin();
  std::string log =
      "Traceback (most recent call last):\n"
      "  File \"/opt/spark/python/lib/pyspark.zip/pyspark/worker.py\", line 372, in main\n"
      "    process()\n"
      "  File \"/app/etl.py\", line 11, in f\n"
      "    return row['x']\n"
      "KeyError: 'x'\n";
  auto scan = ScanAll(d, log, 3, "executor");
  const Hit* last = HitAt(*scan, 6);
  ASSERT_NE(last, nullptr);
  EXPECT_TRUE(last->python_final);
  EXPECT_TRUE(last->python_user_frame);
  EXPECT_EQ(last->text, "KeyError: 'x'");

  std::string internal =
      "Traceback (most recent call last):\n"
      "  File \"/opt/spark/python/lib/pyspark.zip/pyspark/serializers.py\", line 1, in read_int\n"
      "    raise EOFError\n"
      "EOFError\n";
  auto scan2 = ScanAll(d, internal, 4, "executor");
  const Hit* eof = HitAt(*scan2, 4);
  ASSERT_NE(eof, nullptr);
  EXPECT_TRUE(eof->python_final);
  EXPECT_FALSE(eof->python_user_frame);
}

TEST(ScannerTest, SparkJobAbortWrapperStartsABlock) {
  Diagnoser d = Builtin();
  std::string log =
      "org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 0.0 "
      "failed 4 times, most recent failure: Lost task 0.3 in stage 0.0 (TID 3, h, executor 0): "
      "java.lang.NoSuchMethodError: com.google.common.base.Stopwatch.createUnstarted()\n"
      "\tat io.grpc.internal.GrpcUtil$4.get(GrpcUtil.java:566)\n";
  auto scan = ScanAll(d, log, 11);
  const Hit* h = HitAt(*scan, 1);
  ASSERT_NE(h, nullptr);
  EXPECT_GE(h->block, 0);
  EXPECT_TRUE(h->executor_context);
  bool linkage = false;
  for (const auto& s : h->signals) linkage = linkage || s.id == "jvm.linkage";
  EXPECT_TRUE(linkage);
}

TEST(ScannerTest, ChunkBoundariesAndCrlfDoNotChangeResults) {
  Diagnoser d = Builtin();
  std::string log =
      "INFO start\r\n"
      "java.lang.OutOfMemoryError: Java heap space\r\n"
      "\tat a.B.c(B.java:1)\r\n"
      "WARN later: No space left on device";  // no final newline
  auto whole = ScanAll(d, log, log.size());
  for (size_t chunk : {1, 2, 7, 13}) {
    auto part = ScanAll(d, log, chunk);
    ASSERT_EQ(part->hits().size(), whole->hits().size()) << chunk;
    for (size_t i = 0; i < part->hits().size(); ++i) {
      EXPECT_EQ(part->hits()[i].line, whole->hits()[i].line);
      EXPECT_EQ(part->hits()[i].text, whole->hits()[i].text);
    }
  }
  ASSERT_EQ(whole->hits().size(), 2u);
  EXPECT_EQ(whole->hits()[0].line, 2);
  EXPECT_EQ(whole->hits()[0].text, "java.lang.OutOfMemoryError: Java heap space");
  EXPECT_EQ(whole->hits()[1].line, 4);
  EXPECT_EQ(whole->lines(), 4);
}

TEST(HostileInputTest, BinaryBytesLongLinesAndNoNewlines) {
  Diagnoser d = Builtin();
  auto start = std::chrono::steady_clock::now();
  std::mt19937 rng(42);
  std::string binary(2 << 20, '\0');
  for (char& c : binary) c = static_cast<char>(rng() & 0xff);
  auto scan = d.Start("executor");
  for (size_t i = 0; i < binary.size(); i += 4096) {
    scan->Feed(std::string_view(binary).substr(i, 4096));
  }
  // A 1 MB line followed by a real failure: the failure is still found on the right line.
  std::string huge(1 << 20, 'x');
  huge.replace(100, 24, "No space left on device ");
  scan->Feed("\n");
  scan->Feed(huge);
  scan->Feed("\njava.lang.OutOfMemoryError: Java heap space\n");
  // 4 MB without any newline.
  std::string flat(4 << 20, 'a');
  scan->Feed(flat);
  scan->Finish();
  for (const Hit& h : scan->hits()) EXPECT_LE(h.text.size(), kMaxLineBytes);
  Diagnosis diag = d.Decide({scan.get()}, Facts{});
  EXPECT_FALSE(diag.cls.empty());
  bool found_oom = false;
  for (const Hit& h : scan->hits()) {
    if (h.text == "java.lang.OutOfMemoryError: Java heap space") found_oom = true;
  }
  EXPECT_TRUE(found_oom);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count(), 60);
}

TEST(HostileInputTest, ManyExceptionsStayBounded) {
  Diagnoser d = Builtin();
  auto scan = d.Start("driver");
  for (int i = 0; i < 20000; ++i) {
    scan->Feed("java.lang.IllegalStateException: boom " + std::to_string(i) +
               "\nCaused by: java.io.IOException: No space left on device\n");
  }
  scan->Finish();
  EXPECT_LE(scan->hits().size(), kMaxHits);
  EXPECT_LE(scan->blocks().size(), kMaxBlocks);
  EXPECT_EQ(scan->lines(), 40000);
  EXPECT_EQ(d.Decide({scan.get()}, Facts{}).cls, "disk_full");
}

TEST(HostileInputTest, EmptyInputAndFeedAfterFinish) {
  Diagnoser d = Builtin();
  auto scan = d.Start("driver");
  scan->Finish();
  scan->Feed("java.lang.OutOfMemoryError: Java heap space\n");
  EXPECT_EQ(scan->lines(), 0);
  Diagnosis diag = d.Decide({scan.get()}, Facts{});
  EXPECT_FALSE(diag.cls.empty());
}


// ---- Fast path (stream prefilter + skipped lines) against the per-line reference path ----

std::unique_ptr<LogScan> ScanReference(const Diagnoser& d, std::string_view log,
                                       std::string component = "driver") {
  auto scan = d.Start(std::move(component));
  scan->SetReferenceMode(true);
  for (size_t i = 0; i < log.size(); i += 7) scan->Feed(log.substr(i, 7));
  scan->Finish();
  return scan;
}

std::unique_ptr<LogScan> ScanRandomChunks(const Diagnoser& d, std::string_view log, uint64_t seed,
                                          size_t max_chunk, std::string component = "driver") {
  std::mt19937_64 rng(seed);
  auto scan = d.Start(std::move(component));
  for (size_t i = 0; i < log.size();) {
    size_t n = 1 + rng() % max_chunk;
    scan->Feed(log.substr(i, n));
    i += n;
  }
  scan->Finish();
  return scan;
}

std::string Describe(const LogScan& s) {
  std::ostringstream o;
  o << "lines=" << s.lines() << " spark=" << s.spark_seen() << " repeats=" << s.max_task_repeats()
    << " last=" << s.last_text_line() << ":" << s.last_text() << " first_exc="
    << s.first_exception_line() << ":" << s.first_exception_text() << "\n";
  for (const Hit& h : s.hits()) {
    o << "hit " << h.line << " b" << h.block << " d" << h.depth << " h" << h.header << " n"
      << h.noise << " e" << h.executor_context << " pf" << h.python_final << " pu"
      << h.python_user_frame << " succ" << s.LastSuccessBefore(h.line) << " [";
    for (const Signal& sig : h.signals) o << sig.id << "/" << sig.severity << ",";
    o << "] " << h.text << "\n";
  }
  for (const Block& b : s.blocks()) {
    o << "block " << b.first_line << " py" << b.python << " net" << b.spark_network << " sh"
      << b.shuffle << " ex" << b.executor_thread << " n" << b.noise << " d" << b.depth << " "
      << b.deepest_line << ":" << b.deepest_text << "\n";
  }
  o << "succ_end=" << s.LastSuccessBefore(s.lines() + 1) << "\n";
  return o.str();
}

std::vector<std::string> CorpusLogs() {
  std::vector<std::string> logs;
  std::string path = "/work/shared/corpus/failures-dev.jsonl";
  if (const char* src = std::getenv("TUG_SOURCE_DIR"); src != nullptr && *src != '\0') {
    std::string p = std::string(src) + "/../shared/corpus/failures-dev.jsonl";
    if (std::ifstream(p).good()) path = p;
  }
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(line, ec);
    if (ec || !v.is_object()) continue;
    logs.emplace_back(v.as_object().at("log").as_string());
  }
  return logs;
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
      log += std::string(9000 + rng() % 70000, 'x') + " java.lang.OutOfMemoryError: Java heap space";
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

TEST(FastPathTest, ManyHitsAndBlocksPastTheCapsMatchReference) {
  Diagnoser d = Builtin();
  std::string log;
  for (int i = 0; i < 6000; ++i) {
    log += "INFO Filler: line " + std::to_string(i) + "\n";
    log += "java.lang.IllegalStateException: boom\nCaused by: java.io.IOException: No space "
           "left on device\n\tat a.B.c(B.java:1)\n";
  }
  std::string want = Describe(*ScanReference(d, log));
  EXPECT_EQ(Describe(*ScanRandomChunks(d, log, 5, 65536)), want);
}

}  // namespace
}  // namespace tug::diagnose
