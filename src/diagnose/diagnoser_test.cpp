// Reading-order rules of failure-taxonomy.md, each on a synthetic log.
#include "diagnose/diagnoser.h"

#include <gtest/gtest.h>

namespace tug::diagnose {
namespace {

class DiagnoserTest : public ::testing::Test {
 protected:
  // Compiling the catalog is the expensive part; one diagnoser serves every test.
  static void SetUpTestSuite() {
    auto d = Diagnoser::CreateBuiltin();
    ASSERT_TRUE(d.ok()) << d.error().ToString();
    diagnoser_ = new Diagnoser(std::move(d).value());
  }
  static void TearDownTestSuite() {
    delete diagnoser_;
    diagnoser_ = nullptr;
  }

  Diagnosis Run(std::string_view log, std::string component, Facts facts = {}) {
    auto scan = diagnoser_->Start(component);
    for (size_t i = 0; i < log.size(); i += 9) scan->Feed(log.substr(i, 9));
    scan->Finish();
    if (facts.component.empty()) facts.component = component;
    return diagnoser_->Decide({scan.get()}, facts);
  }

  static Diagnoser* diagnoser_;
};

Diagnoser* DiagnoserTest::diagnoser_ = nullptr;

TEST_F(DiagnoserTest, Rule1PlatformEvidenceBeatsLogText) {
  std::string log =
      "21/01/01 10:00:00 ERROR TaskSchedulerImpl: Lost executor 2 on 10.0.0.1: Executor lost for "
      "unknown reasons\n";
  EXPECT_EQ(Run(log, "driver").cls, "executor_lost_ambiguous");
  Facts facts;
  facts.reason = "OOMKilled";
  facts.exit_code = 137;
  facts.component = "executor";
  Diagnosis d = Run(log, "driver", facts);
  EXPECT_EQ(d.cls, "executor_container_oom");
  EXPECT_TRUE(d.retryable);
  EXPECT_EQ(d.root_cause.line, 0);  // nothing in the log agrees; the pod status is the cause
}

TEST_F(DiagnoserTest, Rule1SidecarExitZeroIsIgnored) {
  Facts facts;
  facts.exit_code = 0;
  facts.containers = {{"executor", "fluentd", 0, "Completed"},
                      {"executor", "spark-kubernetes-executor", 52, "Error"}};
  Diagnosis d = Run("INFO nothing to see\n", "executor", facts);
  EXPECT_EQ(d.cls, "executor_oom");
}

TEST_F(DiagnoserTest, Rule1BatchOomKilledAndExitCodes) {
  Facts oom;
  oom.reason = "OOMKilled";
  oom.exit_code = 137;
  EXPECT_EQ(Run("processing batch 7\n", "batch-container", oom).cls, "batch_container_oom");
  Facts not_found;
  not_found.exit_code = 127;
  Diagnosis d = Run("starting\n", "batch-container", not_found);
  EXPECT_EQ(d.cls, "config_error");
  EXPECT_FALSE(d.retryable);
}

TEST_F(DiagnoserTest, Rule1KubernetesPodReasons) {
  auto cls = [&](const char* reason) {
    Facts f;
    f.reason = reason;
    return Run("", "batch-container", f).cls;
  };
  EXPECT_EQ(cls("InvalidSpec"), "config_error");  // the API server refused the pod (422)
  EXPECT_EQ(cls("CreateContainerConfigError"), "config_error");
  EXPECT_EQ(cls("InvalidImageName"), "config_error");
  EXPECT_EQ(cls("Unschedulable"), "k8s_scheduling");
  EXPECT_EQ(cls("ErrImagePull"), "k8s_image_pull");
  EXPECT_EQ(cls("NodeLost"), "node_loss");
  EXPECT_EQ(cls("Deleted"), "node_loss");
  EXPECT_EQ(cls("Evicted"), "disk_full");
  EXPECT_EQ(cls("DeadlineExceeded"), "timeout");
}

TEST_F(DiagnoserTest, Rule2DeepestCausedByOfTheFirstFailingTask) {
  std::string log =
      "org.apache.spark.SparkException: Job aborted due to stage failure: Task 1 in stage 2.0 "
      "failed "
      "4 times, most recent failure: Lost task 1.3 in stage 2.0 (TID 9, h, executor 1): "
      "org.apache.parquet.io.ParquetDecodingException: Can not read value at 0 in block -1 in file "
      "f\n"
      "\tat org.apache.parquet.hadoop.InternalParquetRecordReader.nextKeyValue(I.java:1)\n"
      "Caused by: org.apache.parquet.io.ParquetDecodingException: could not read page in col a\n"
      "\tat org.apache.parquet.X.y(X.java:2)\n"
      "Caused by: org.apache.parquet.io.ParquetDecodingException: could not read bytes at offset "
      "9\n"
      "\tat org.apache.parquet.X.z(X.java:3)\n";
  Diagnosis d = Run(log, "driver");
  EXPECT_EQ(d.cls, "data_error");
  EXPECT_FALSE(d.retryable);
  EXPECT_EQ(d.root_cause.line, 5);
}

TEST_F(DiagnoserTest, Rule2InnermostCauseEvenWhenUnmatched) {
  std::string log =
      "org.apache.parquet.io.ParquetDecodingException: Can not read value at 0 in block -1 in file "
      "f\n"
      "\tat org.apache.parquet.hadoop.InternalParquetRecordReader.nextKeyValue(I.java:1)\n"
      "Caused by: java.lang.ClassCastException: class A cannot be cast to class B\n"
      "\tat org.apache.spark.sql.X.y(X.scala:2)\n";
  Diagnosis d = Run(log, "executor");
  EXPECT_EQ(d.cls, "data_error");
  EXPECT_EQ(d.root_cause.line, 3);
}

TEST_F(DiagnoserTest, Rule2PythonTracebackLastLineWithUserFrame) {
  std::string log =
      "Caused by: org.apache.spark.api.python.PythonException: Traceback (most recent call last):\n"
      "  File \"/opt/spark/python/lib/pyspark.zip/pyspark/worker.py\", line 1, in main\n"
      "  File \"/app/etl.py\", line 20, in parse\n"
      "    return int(v)\n"
      "ValueError: invalid literal for int() with base 10: 'x'\n"
      "\tat org.apache.spark.api.python.BasePythonRunner.handle(PythonRunner.scala:1)\n";
  Diagnosis d = Run(log, "executor");
  EXPECT_EQ(d.cls, "user_code_error");
  EXPECT_FALSE(d.retryable);
  EXPECT_EQ(d.root_cause.text, "ValueError: invalid literal for int() with base 10: 'x'");
}

TEST_F(DiagnoserTest, Rule3CauseOverSymptom) {
  std::string log =
      "23/01/01 10:00:00 ERROR TaskSchedulerImpl: Lost executor 4 on 10.0.0.9: The executor with "
      "id 4 "
      "exited with exit code 137 (SIGKILL, possible container OOM).\n"
      "23/01/01 10:00:05 WARN TaskSetManager: Lost task 3.0 in stage 5.0 (TID 40) (10.0.0.8 "
      "executor 2): FetchFailed(BlockManagerId(4, 10.0.0.9, 7337, None), shuffleId=1, message=\n"
      "org.apache.spark.shuffle.MetadataFetchFailedException: Missing an output location for "
      "shuffle 1 partition 3\n";
  Diagnosis d = Run(log, "driver");
  EXPECT_EQ(d.cls, "executor_container_oom");
  EXPECT_EQ(d.root_cause.line, 1);
  EXPECT_GE(d.highlights.size(), 2u);
}

TEST_F(DiagnoserTest, Rule3HeartbeatBeforeOomIsTheSymptom) {
  std::string log =
      "WARN HeartbeatReceiver: Removing executor 1 with no recent heartbeats: 160000 ms exceeds "
      "timeout 120000 ms\n"
      "ERROR Executor: Exception in task 2.0 in stage 3.0 (TID 7)\n"
      "java.lang.OutOfMemoryError: GC overhead limit exceeded\n";
  Diagnosis d = Run(log, "executor");
  EXPECT_EQ(d.cls, "executor_oom");
  EXPECT_EQ(d.root_cause.line, 3);
}

TEST_F(DiagnoserTest, Rule4NoiseIsNeverTheRootCause) {
  std::string log =
      "WARN NativeCodeLoader: Unable to load native-hadoop library for your platform...\n"
      "ERROR ContextCleaner: Error cleaning broadcast 3\n"
      "org.apache.spark.rpc.RpcTimeoutException: Futures timed out after [120 seconds]. This "
      "timeout "
      "is controlled by spark.rpc.askTimeout\n"
      "\tat org.apache.spark.rpc.RpcTimeout.x(RpcTimeout.scala:1)\n"
      "ERROR Executor: Exception in task 0.0 in stage 1.0 (TID 1)\n"
      "java.io.IOException: No space left on device\n";
  Diagnosis d = Run(log, "executor");
  EXPECT_EQ(d.cls, "disk_full");
  EXPECT_EQ(d.root_cause.line, 6);
  for (const auto& h : d.highlights) EXPECT_NE(h.line, 1);

  Diagnosis only_noise =
      Run("ERROR ContextCleaner: Error cleaning broadcast 3\n"
          "org.apache.spark.rpc.RpcTimeoutException: Cannot receive any reply in 120 seconds. This "
          "timeout is controlled by spark.rpc.askTimeout\n",
          "driver");
  EXPECT_EQ(only_noise.cls, "benign_noise");
  EXPECT_FALSE(only_noise.retryable);
}

TEST_F(DiagnoserTest, Rule4ErrorsOfSpeculativelyKilledTasksAreNoise) {
  std::string log =
      "INFO Executor: Executor is trying to kill task 0.1 in stage 1.0 (TID 5), reason: another "
      "attempt succeeded\n"
      "ERROR Executor: Exception in task 0.1 in stage 1.0 (TID 5)\n"
      "org.apache.spark.memory.SparkOutOfMemoryError: Unable to acquire 65536 bytes of memory, "
      "got 0\n"
      "\tat org.apache.spark.memory.MemoryConsumer.throwOom(MemoryConsumer.java:157)\n"
      "INFO Executor: Finished task 0.0 in stage 1.0 (TID 4). 2000 bytes result sent to driver\n";
  Diagnosis d = Run(log, "executor");
  EXPECT_EQ(d.cls, "benign_noise");
  EXPECT_NE(d.root_cause.line, 3);
  // A different task's real OOM is still found.
  Diagnosis real = Run(log +
                           "ERROR Executor: Exception in task 2.0 in stage 1.0 (TID 7)\n"
                           "org.apache.spark.memory.SparkOutOfMemoryError: Unable to acquire "
                           "100 bytes of memory, got 0\n",
                       "executor");
  EXPECT_EQ(real.cls, "spark_memory_acquire_oom");
  EXPECT_EQ(real.root_cause.line, 7);
}

TEST_F(DiagnoserTest, Rule4SigtermAfterFinishedTaskIsBenign) {
  std::string finished =
      "INFO Executor: Finished task 1.0 in stage 0.0 (TID 1). 1041 bytes result sent to driver\n"
      "ERROR CoarseGrainedExecutorBackend: RECEIVED SIGNAL TERM\n";
  EXPECT_EQ(Run(finished, "executor").cls, "benign_noise");
  EXPECT_EQ(
      Run("ERROR CoarseGrainedExecutorBackend: RECEIVED SIGNAL 15: SIGTERM\n", "executor").cls,
      "executor_lost_ambiguous");
}

TEST_F(DiagnoserTest, Rule5RelayPrefixesAreStripped) {
  std::string log =
      "[2024-01-01, 05:08:31 UTC] {pod_manager.py:472} INFO - [spark-kubernetes-driver] "
      "Exception in thread \"main\" org.apache.spark.sql.AnalysisException: Table or view not "
      "found: db.t; line 1 pos 14\n"
      "[2024-01-01, 05:08:31 UTC] {pod_manager.py:472} INFO - [spark-kubernetes-driver] \tat "
      "org.apache.spark.sql.catalyst.analysis.X.y(X.scala:1)\n";
  Diagnosis d = Run(log, "controller");
  EXPECT_EQ(d.cls, "user_code_error");
  EXPECT_EQ(d.root_cause.line, 1);
  EXPECT_EQ(d.highlights.size(), 1u);  // the relayed frame is not a second finding
}

TEST_F(DiagnoserTest, Rule6RepeatedIdenticalLossIsDeterministic) {
  std::string log;
  for (int attempt = 0; attempt < 4; ++attempt) {
    log += "WARN TaskSetManager: Lost task 0." + std::to_string(attempt) + " in stage 2.0 (TID " +
           std::to_string(10 + attempt) + ") (10.0.0.1 executor " + std::to_string(attempt) +
           "): ExecutorLostFailure (executor " + std::to_string(attempt) +
           " exited caused by one of the running tasks) Reason: Remote RPC client disassociated.\n";
  }
  Diagnosis d = Run(log, "driver");
  EXPECT_EQ(d.cls, "executor_lost_ambiguous");
  EXPECT_FALSE(d.retryable);
  EXPECT_NE(d.summary.find("deterministic"), std::string::npos);
}

TEST_F(DiagnoserTest, HeapOomDriverVersusExecutor) {
  EXPECT_EQ(Run("ERROR Utils: uncaught error in thread main\njava.lang.OutOfMemoryError: Java heap "
                "space\n\tat scala.collection.mutable.ArrayBuffer.x(A.scala:1)\n",
                "driver")
                .cls,
            "driver_oom");
  EXPECT_EQ(Run("WARN TaskSetManager: Lost task 1.1 in stage 8.0 (TID 14, h, executor 2): "
                "java.lang.OutOfMemoryError: Java heap space\n",
                "driver")
                .cls,
            "executor_oom");
  Diagnosis array =
      Run("java.lang.OutOfMemoryError: Requested array size exceeds VM limit\n", "driver");
  EXPECT_EQ(array.cls, "driver_oom");
  EXPECT_FALSE(array.retryable);
}

TEST_F(DiagnoserTest, BatchJobs) {
  Diagnosis tb =
      Run("Traceback (most recent call last):\n"
          "  File \"/app/main.py\", line 3, in <module>\n"
          "    main()\n"
          "TypeError: unsupported operand type(s) for +: 'int' and 'str'\n",
          "batch-container");
  EXPECT_EQ(tb.cls, "user_code_error");
  EXPECT_FALSE(tb.retryable);
  EXPECT_EQ(tb.root_cause.line, 4);

  Diagnosis http = Run(
      "Traceback (most recent call last):\n"
      "  File \"/app/main.py\", line 3, in <module>\n"
      "requests.exceptions.HTTPError: 503 Server Error: Service Unavailable for url: http://x\n",
      "batch-container");
  EXPECT_EQ(http.cls, "transient_dependency");
  EXPECT_TRUE(http.retryable);

  EXPECT_EQ(Run("/entrypoint.sh: line 4: etl-run: command not found\n", "batch-container").cls,
            "config_error");
  EXPECT_EQ(Run("[ 1234.5] Memory cgroup out of memory: Killed process 4242 (python)\n",
                "batch-container")
                .cls,
            "batch_container_oom");
}

TEST_F(DiagnoserTest, JsonMapping) {
  Diagnosis d = Run("java.io.IOException: No space left on device\n", "executor");
  boost::json::value v = ToJson(d);
  const auto& o = v.as_object();
  EXPECT_EQ(o.at("class").as_string(), "disk_full");
  EXPECT_TRUE(o.at("retryable").as_bool());
  EXPECT_EQ(o.at("root_cause").as_object().at("line").as_int64(), 1);
  EXPECT_EQ(o.at("root_cause").as_object().at("component").as_string(), "executor");
  EXPECT_EQ(o.at("root_cause").as_object().at("text").as_string(),
            "java.io.IOException: No space left on device");
  EXPECT_TRUE(o.at("highlights").is_array());
  EXPECT_FALSE(o.at("remediation").as_string().empty());
  EXPECT_FALSE(o.at("summary").as_string().empty());
}

TEST_F(DiagnoserTest, MultipleStreamsEarlierScanWinsTies) {
  auto a = diagnoser_->Start("executor");
  a->Feed("java.io.IOException: No space left on device\n");
  a->Finish();
  auto b = diagnoser_->Start("driver");
  b->Feed("x\ny\njava.io.IOException: No space left on device\n");
  b->Finish();
  Diagnosis d = diagnoser_->Decide({b.get(), a.get()}, Facts{});
  EXPECT_EQ(d.root_cause.component, "driver");
  EXPECT_EQ(d.root_cause.line, 3);
}

// Plain batch containers, Kubernetes API Status bodies and workflow controllers (issue 28).

TEST_F(DiagnoserTest, BatchPlatformEvidenceForPlainPods) {
  // Deadline from the platform: timeout, and not retried.
  Facts deadline;
  deadline.reason = "DeadlineExceeded";
  Diagnosis d = Run("working...\n", "batch-container", deadline);
  EXPECT_EQ(d.cls, "timeout");
  EXPECT_FALSE(d.retryable);
  // Rejected by the node before the container started: node loss, retried elsewhere.
  Facts rejected;
  rejected.reason = "OutOfmemory";
  d = Run("", "batch-container", rejected);
  EXPECT_EQ(d.cls, "node_loss");
  EXPECT_TRUE(d.retryable);
  // Exit codes when the logs say nothing: 124 (coreutils timeout) and 139 of a plain program.
  Facts t124;
  t124.exit_code = 124;
  d = Run("step 3 of 9\n", "batch-container", t124);
  EXPECT_EQ(d.cls, "timeout");
  EXPECT_FALSE(d.retryable);
  Facts t139;
  t139.exit_code = 139;
  d = Run("step 3 of 9\n", "batch-container", t139);
  EXPECT_EQ(d.cls, "user_code_error");
  EXPECT_FALSE(d.retryable);
}

TEST_F(DiagnoserTest, BatchOnlyNoiseIsUnknownCauseNotUserCode) {
  std::string log =
      "21/04/22 12:40:44 ERROR ShutdownHookManager: Exception while deleting Spark temp dir: "
      "/tmp/spark-1\n"
      "java.io.IOException: Failed to delete: /tmp/spark-1/userFiles-2/app.jar\n"
      "\tat org.apache.spark.network.util.JavaUtils.deleteRecursively(JavaUtils.java:118)\n";
  Diagnosis d = Run(log, "driver");
  EXPECT_EQ(d.cls, "benign_noise");
  EXPECT_EQ(d.root_cause.line, 1);
  EXPECT_FALSE(d.retryable);  // nothing says the attempt failed
  // The same logs from an attempt the platform reports as failed: the cause is not in the logs,
  // so neither the user is blamed nor the retry given up.
  Facts failed;
  failed.exit_code = 1;
  d = Run(log, "driver", failed);
  EXPECT_EQ(d.cls, "benign_noise");
  EXPECT_TRUE(d.retryable);
  EXPECT_NE(d.summary.find("unknown cause"), std::string::npos) << d.summary;
}

TEST_F(DiagnoserTest, BatchKubernetesStatusBodies) {
  // 404 for a pods object that vanished: node loss, retryable.
  Diagnosis d =
      Run("ERROR - Failed to execute job 1 for task t ((404)\n"
          "Reason: Not Found\n"
          "HTTP response body: {\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
          "\"status\":\"Failure\",\"message\":\"pods \\\"t-1\\\" not found\",\"reason\":"
          "\"NotFound\",\"details\":{\"name\":\"t-1\",\"kind\":\"pods\"},\"code\":404}\n",
          "controller");
  EXPECT_EQ(d.cls, "node_loss");
  EXPECT_TRUE(d.retryable);
  EXPECT_EQ(d.root_cause.line, 3);
  // Admission webhook denial and a 403 are configuration: never retried, even when a later
  // NotFound for the pod that was never created follows.
  d =
      Run("Error from server (Forbidden): error when creating \"p.yaml\": pods \"x\" is "
          "forbidden: error looking up service account ns/default: serviceaccount \"default\" "
          "not found\n"
          "Error from server (NotFound): pods \"x\" not found\n",
          "controller");
  EXPECT_EQ(d.cls, "config_error");
  EXPECT_FALSE(d.retryable);
  EXPECT_EQ(d.root_cause.line, 1);
  d =
      Run("Warning  FailedCreatePod  1m  ctl  Error creating: admission webhook \"v.x.io\" "
          "denied the request: replicas missing\n",
          "k8s-events");
  EXPECT_EQ(d.cls, "config_error");
  EXPECT_FALSE(d.retryable);
}

TEST_F(DiagnoserTest, BatchImagePullRateLimitBeatsGenericFailure) {
  std::string events =
      "  Warning  Failed   16s  kubelet  Failed to pull image \"a/b:1\": rpc error: code = "
      "Unknown desc = Error reading manifest 1 in docker.io/a/b: toomanyrequests: You have "
      "reached your pull rate limit.\n"
      "  Warning  Failed   16s  kubelet  Error: ErrImagePull\n"
      "  Warning  Failed   4s   kubelet  Error: ImagePullBackOff\n";
  Diagnosis d = Run(events, "k8s-events");
  EXPECT_EQ(d.cls, "k8s_image_pull");
  EXPECT_TRUE(d.retryable);
  EXPECT_EQ(d.root_cause.line, 1);
  d = Run("Error response from daemon: manifest for a/b:latest not found: manifest unknown\n",
          "batch-container");
  EXPECT_EQ(d.cls, "k8s_image_pull");
  EXPECT_FALSE(d.retryable);
}

TEST_F(DiagnoserTest, BatchEarliestDecisiveWarningWins) {
  std::string describe =
      "Status:               Failed\n"
      "Reason:               DeadlineExceeded\n"
      "Message:              Pod was active on the node longer than the specified deadline\n";
  Diagnosis d = Run(describe, "k8s-events");
  EXPECT_EQ(d.cls, "timeout");
  EXPECT_FALSE(d.retryable);
  EXPECT_EQ(d.root_cause.line, 2);
}

TEST_F(DiagnoserTest, BatchDataVersusCode) {
  // A value read from an input file that does not convert: data, not retryable.
  Diagnosis d =
      Run("Traceback (most recent call last):\n"
          "  File \"/app/load.py\", line 31, in load\n"
          "    rows.append(float(cols[1]))\n"
          "ValueError: could not convert string to float: 'BTCUSD'\n",
          "batch-container");
  EXPECT_EQ(d.cls, "data_error");
  EXPECT_FALSE(d.retryable);
  EXPECT_EQ(d.root_cause.line, 4);
  // An index bug in the program: user code.
  d =
      Run("Traceback (most recent call last):\n"
          "  File \"/app/load.py\", line 39, in load\n"
          "    x = float(pd[finish][4])\n"
          "IndexError: index 242 is out of bounds for axis 0 with size 242\n",
          "batch-container");
  EXPECT_EQ(d.cls, "user_code_error");
  EXPECT_FALSE(d.retryable);
  // The job's own configuration file: configuration, not data.
  d =
      Run("FATA[0000] Configuration file error: Failed to read configuration file: json: cannot "
          "unmarshal string into Go struct field rawConfig.ProxyBook of type []string\n",
          "batch-container");
  EXPECT_EQ(d.cls, "config_error");
  EXPECT_FALSE(d.retryable);
}

TEST_F(DiagnoserTest, BatchProgramCrashesOfGoNodeAndNative) {
  Diagnosis d =
      Run("panic: runtime error: invalid memory address or nil pointer dereference\n"
          "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x1c796c1]\n"
          "\n"
          "goroutine 1 [running]:\n"
          "main.run(0xc000)\n"
          "\t/app/main.go:12 +0x4a1\n",
          "batch-container");
  EXPECT_EQ(d.cls, "user_code_error");
  EXPECT_EQ(d.root_cause.line, 1);
  d = Run(
      "(node:3180) UnhandledPromiseRejectionWarning: TypeError: Cannot read property 'id' of "
      "undefined\n"
      "    at Worker.handle (file:///app/index.mjs:105:51)\n"
      "(node:3180) [DEP0018] DeprecationWarning: Unhandled promise rejections are deprecated.\n",
      "batch-container");
  EXPECT_EQ(d.cls, "user_code_error");
  EXPECT_EQ(d.root_cause.line, 1);
  // std::bad_alloc then abort (134): memory, retried with a larger limit.
  d =
      Run("terminate called after throwing an instance of 'std::bad_alloc'\n"
          "  what():  std::bad_alloc\n"
          "Aborted (core dumped)\n",
          "batch-container");
  EXPECT_EQ(d.cls, "batch_container_oom");
  EXPECT_TRUE(d.retryable);
  EXPECT_EQ(d.root_cause.line, 1);
}

}  // namespace
}  // namespace tug::diagnose
