#include "diagnose/scanner.h"

#include <chrono>
#include <random>

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
  EXPECT_EQ(StripRelayPrefix(
                "01:39:43,347  INFO [Thread-6] ExecuteScript:58 -        at a.B.c(B.java:1)"),
            "at a.B.c(B.java:1)");
  EXPECT_EQ(
      StripRelayPrefix(
          "[Stage 1:=>      (2 + 58) / 60]\r22/01/01 12:00:00 WARN TaskSetManager: Lost task"),
      "Lost task");
  EXPECT_EQ(
      StripRelayPrefix("**org.apache.spark.SparkException: [MALFORMED_RECORD_IN_PARSING] x**"),
      "org.apache.spark.SparkException: [MALFORMED_RECORD_IN_PARSING] x");
  EXPECT_EQ(StripRelayPrefix("stderr: bash: foo: command not found"),
            "bash: foo: command not found");
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
  EXPECT_TRUE(
      IsJvmHeader("Exception in thread \"main\" org.apache.spark.SparkException: Job aborted"));
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
  EXPECT_FALSE(IsPythonUserFrame(
      "File \"/opt/spark/python/lib/pyspark.zip/pyspark/worker.py\", line 1, in main"));
  EXPECT_FALSE(IsPythonUserFrame("File \"/x/py4j-0.10.9-src.zip/py4j/protocol.py\", line 1, in g"));
}

TEST(ScannerTest, JvmCausedByChainIsOneBlockWithDepth) {
  Diagnoser d = Builtin();
  std::string log =
      "24/01/01 10:00:00 ERROR Executor: Exception in task 0.0 in stage 1.0 (TID 1)\n"
      "org.apache.parquet.io.ParquetDecodingException: Can not read value at 0 in block -1\n"
      "\tat org.apache.parquet.hadoop.InternalParquetRecordReader.nextKeyValue(I.java:1)\n"
      "\t... 12 more\n"
      "Caused by: "
      "org.apache.spark.sql.execution.datasources.SchemaColumnConvertNotSupportedException: col\n"
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

}  // namespace
}  // namespace tug::diagnose
