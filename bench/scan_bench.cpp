// Log scanner throughput: `scan_bench gen FILE MB` writes a synthetic log (ordinary INFO lines
// with JVM/Python/OOM failure excerpts every few thousand lines), `scan_bench patterns FILE`
// writes the built-in catalog's regexes in grep -E syntax, `scan_bench scan FILE
// [literal|stream|reference] [file|read|memory]` feeds FILE to one LogScan on this thread,
// read as `tug diagnose` reads it (ReadLogFile, 256 KiB chunks), with fread in 64 KiB chunks
// (`read`, what scan_bench did before), or from a copy in memory, and prints GB/s (wall and CPU),
// peak RSS and the count of lines that matched a catalog pattern; `anchors` lists the prefilter's
// anchors and `prefilter FILE` times the prefilter alone. Run by hand through bench/scan_bench.sh.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "diagnose/diagnoser.h"
#include "diagnose/log_file.h"
#include "diagnose/scanner.h"

namespace {

using tug::diagnose::Diagnoser;

int Gen(const char* path, long mb) {
  std::ofstream out(path, std::ios::binary);
  if (!out) return 1;
  std::mt19937_64 rng(42);
  // The log templates stay one per line.
  // clang-format off
  const char* kInfo[] = {
      "INFO BlockManagerInfo: Added broadcast_%d_piece0 in memory on 10.0.%d.7:41235 (size: 5.2 KiB, free: 366.3 MiB)",
      "INFO TaskSchedulerImpl: Adding task set %d.0 with %d tasks resource profile 0",
      "INFO DAGScheduler: Submitting ResultStage %d (MapPartitionsRDD[%d] at collect at job.py:41), which has no missing parents",
      "INFO MemoryStore: Block broadcast_%d stored as values in memory (estimated size 12.1 KiB, free %d.0 MiB)",
      "INFO CodeGenerator: Code generated in %d.512 ms for stage %d",
      "INFO FileSourceScanExec: Planning scan with bin packing, max size: %d bytes, open cost is considered as scanning %d bytes.",
      "INFO ShuffleBlockFetcherIterator: Getting %d (%d.0 KiB) non-empty blocks including 4 local blocks",
      "INFO Executor: Running task %d.0 in stage %d.0 (TID 8812)",
  };
  const char* kExcerpts[] = {
      // JVM OOM with a stack trace
      "ERROR Executor: Exception in task 3.0 in stage 7.0 (TID 91)\n"
      "java.lang.OutOfMemoryError: Java heap space\n"
      "\tat java.util.Arrays.copyOf(Arrays.java:3236)\n"
      "\tat org.apache.spark.util.collection.PartitionedPairBuffer.growArray(PartitionedPairBuffer.scala:67)\n"
      "\tat org.apache.spark.scheduler.Task.run(Task.scala:131)\n"
      "\t... 3 more\n",
      // Python traceback
      "Traceback (most recent call last):\n"
      "  File \"/app/job.py\", line 12, in <module>\n"
      "    main()\n"
      "  File \"/app/job.py\", line 9, in main\n"
      "    raise KeyError(\"user_id\")\n"
      "KeyError: 'user_id'\n",
      // Container OOM lines
      "WARN TaskSetManager: Lost task 1.0 in stage 4.0 (TID 12) (10.0.0.3 executor 2): ExecutorLostFailure (executor 2 exited caused by one of the running tasks) Reason: Container killed by YARN for exceeding physical memory limits. 4.5 GB of 4.5 GB physical memory used.\n",
      "kernel: Memory cgroup out of memory: Killed process 4412 (java) total-vm:812MB\n",
      // Chained JVM exception
      "ERROR SparkContext: Error initializing SparkContext.\n"
      "org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 1.0 failed 4 times\n"
      "\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(DAGScheduler.scala:2454)\n"
      "Caused by: java.io.IOException: No space left on device\n"
      "\tat java.io.FileOutputStream.writeBytes(Native Method)\n"
      "\t... 12 more\n",
  };
  // clang-format on
  char buf[512];
  long target = mb * 1024 * 1024, written = 0, line = 0;
  std::string block;
  block.reserve(1 << 20);
  while (written < target) {
    block.clear();
    while (block.size() < (1 << 20) - 4096) {
      ++line;
      int n = std::snprintf(buf, sizeof buf, "2024-05-0%d 12:%02d:%02d,%03d ",
                            static_cast<int>(1 + line % 9), static_cast<int>(line / 3600 % 60),
                            static_cast<int>(line / 60 % 60), static_cast<int>(line % 1000));
      block.append(buf, static_cast<size_t>(n));
      if (rng() % 6000 == 0) {
        block += kExcerpts[rng() % (sizeof kExcerpts / sizeof *kExcerpts)];
        continue;
      }
      n = std::snprintf(buf, sizeof buf, kInfo[rng() % 8], static_cast<int>(rng() % 5000),
                        static_cast<int>(rng() % 300));
      block.append(buf, static_cast<size_t>(n));
      block.push_back('\n');
    }
    out.write(block.data(), static_cast<std::streamsize>(block.size()));
    written += static_cast<long>(block.size());
  }
  return out ? 0 : 1;
}

// grep -E has no \d; everything else the built-in catalog uses (\b, \s, \S, groups,
// alternation) means the same there.
std::string ToGrep(const std::string& re) {
  std::string out;
  for (size_t i = 0; i < re.size(); ++i) {
    if (re[i] == '\\' && i + 1 < re.size() && re[i + 1] == 'd') {
      out += "[0-9]";
      ++i;
    } else if (re[i] == '\\' && i + 1 < re.size()) {
      out += re.substr(i, 2);
      ++i;
    } else {
      out += re[i];
    }
  }
  return out;
}

int Patterns(const Diagnoser& d, const char* path) {
  std::ofstream out(path);
  for (const auto& p : d.catalog().patterns) out << ToGrep(p.regex) << '\n';
  std::cerr << d.catalog().patterns.size() << " patterns\n";
  return out ? 0 : 1;
}

// The prefilter alone over FILE (64 KiB chunks read into memory first): per matcher the
// seconds, fingerprint candidates per KB and lines with a hit.
int Prefilter(const Diagnoser& d, const char* path) {
  std::FILE* f = std::fopen(path, "rb");
  if (f == nullptr) return 1;
  std::string data;
  std::vector<char> buf(1 << 20);
  for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), f)) > 0;) data.append(buf.data(), n);
  std::fclose(f);
  const auto& pf = d.compiled().prefilter(false);
  std::vector<uint32_t> hits;
  // A file that fits the core's L2 is scanned again and again to 256 MB a round: the kernel
  // as LogScan runs it, on a chunk read() has just put there. A larger one streams from DRAM.
  const size_t repeat =
      data.size() <= (1 << 20) ? (256 << 20) / std::max<size_t>(data.size(), 1) : 1;
  // Thread CPU time, best of 5 rounds: the machine is shared, and this is a kernel figure.
  auto run = [&](const char* name, auto&& find) {
    uint64_t candidates = 0, lines = 0;
    double best = 1e30;
    for (int round = 0; round < 5; ++round) {
      candidates = lines = 0;
      timespec a{}, b{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
      for (size_t rep = 0; rep < repeat; ++rep) {
        for (size_t i = 0; i < data.size(); i += 65536) {
          hits.clear();
          size_t n = std::min<size_t>(65536, data.size() - i);
          find(data.data() + i, n, &hits, &candidates);
          lines += hits.size();
        }
      }
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
      best = std::min(best, static_cast<double>(b.tv_sec - a.tv_sec) +
                                static_cast<double>(b.tv_nsec - a.tv_nsec) / 1e9);
    }
    const double bytes = static_cast<double>(data.size()) * static_cast<double>(repeat);
    std::printf("%-11s cpu_seconds=%.4f cpu_GBps=%.2f candidates_per_KB=%.3f hit_lines=%llu\n",
                name, best, bytes / best / 1e9, static_cast<double>(candidates) * 1000.0 / bytes,
                static_cast<unsigned long long>(lines));
  };
  run("teddy", [&](const char* p, size_t n, std::vector<uint32_t>* h, uint64_t* c) {
    pf.teddy().Find(p, n, h, c);
  });
  run("grams", [&](const char* p, size_t n, std::vector<uint32_t>* h, uint64_t* c) {
    pf.grams().Find(p, n, h, c);
  });
  using Kernel = tug::diagnose::LiteralPrefilter::Kernel;
  for (Kernel k : {Kernel::kAvx2, Kernel::kAvx512}) {
    if (!tug::diagnose::LiteralPrefilter::Supported(k)) continue;
    const std::string name = std::string("both_") + tug::diagnose::LiteralPrefilter::KernelName(k);
    run(name.c_str(), [&](const char* p, size_t n, std::vector<uint32_t>* h, uint64_t* c) {
      pf.FindWith(k, p, n, h, c);
    });
  }
  return 0;
}

int Anchors(const Diagnoser& d) {
  const auto& c = d.compiled();
  const auto& pf = c.prefilter(false);
  std::printf("short (Teddy):");
  for (const auto& a : c.prefilter(true).short_anchors()) std::printf(" [%s]", a.c_str());
  std::printf(
      "\n%zu short anchors, %d set(s) of 8 buckets, estimated false candidates per KB %.3f\n",
      pf.teddy().literals().size(), pf.teddy().sets(), pf.teddy().estimated_false_rate() * 1000);
  int bucket = 0;
  for (const auto& windows : pf.teddy().bucket_windows()) {
    std::printf("  bucket %d:", bucket++);
    for (const auto& w : windows) std::printf(" [%s]", w.c_str());
    std::printf("\n");
  }
  std::printf("long (sampled 8-grams): %zu\n", pf.long_anchors().size());
  for (const auto& a : pf.long_anchors()) std::printf("  [%s]\n", a.c_str());
  std::printf("patterns without a required literal (full path): %zu\n",
              c.fallback_patterns().size());
  using tug::diagnose::LiteralPrefilter;
  std::printf("prefilter kernel: %s%s\n", LiteralPrefilter::KernelName(LiteralPrefilter::Best()),
              LiteralPrefilter::Vectorized() ? "" : " (LogScan uses the stream prefilter)");
  return 0;
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// How Scan reads the file: as `tug diagnose` does (ReadLogFile, in SLICE_KB (256) KiB
// chunks), with fread in CHUNK_KB (64) KiB chunks, or whole before the clock starts and then fed in
// CHUNK_KB slices of that buffer (the scanner without reading).
enum class Source { kFile, kRead, kMemory };

int Scan(const Diagnoser& d, const char* path, tug::diagnose::ScanMode mode, Source source) {
  const bool in_memory = source == Source::kMemory;
  std::FILE* f = std::fopen(path, "rb");
  if (f == nullptr) return 1;
  const char* chunk_env = std::getenv("CHUNK_KB");
  std::vector<char> buf(static_cast<size_t>(chunk_env != nullptr ? std::atol(chunk_env) : 64) *
                        1024);
  std::string whole;
  if (in_memory) {
    for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), f)) > 0;) whole.append(buf.data(), n);
  }
  auto scan = d.Start("driver");
  scan->SetMode(mode);
  size_t total = 0;
  double cpu0 = CpuSeconds();
  auto t0 = std::chrono::steady_clock::now();
  if (in_memory) {
    for (size_t i = 0; i < whole.size(); i += buf.size()) {
      std::string_view chunk = std::string_view(whole).substr(i, buf.size());
      total += chunk.size();
      scan->Feed(chunk);
    }
  }
  if (source == Source::kFile) {
    const char* slice_env = std::getenv("SLICE_KB");
    tug::Status st = tug::diagnose::ReadLogFile(
        path,
        [&](std::string_view chunk) {
          total += chunk.size();
          scan->Feed(chunk);
        },
        static_cast<size_t>(slice_env != nullptr ? std::atol(slice_env) : 256) * 1024);
    if (!st.ok()) {
      std::cerr << st.error().ToString() << "\n";
      return 1;
    }
  }
  for (; source == Source::kRead;) {
    size_t n = std::fread(buf.data(), 1, buf.size(), f);
    if (n == 0) break;
    total += n;
    scan->Feed(std::string_view(buf.data(), n));
  }
  scan->Finish();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu = CpuSeconds() - cpu0;
  std::fclose(f);
  std::set<std::string> ids;
  for (const auto& p : d.catalog().patterns) ids.insert(p.id);
  size_t matching = 0;
  for (const auto& h : scan->hits()) {
    for (const auto& s : h.signals) {
      if (ids.count(s.id) != 0) {
        ++matching;
        break;
      }
    }
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf(
      "bytes=%zu lines=%lld examined=%lld seconds=%.3f GBps=%.3f cpu_seconds=%.3f "
      "cpu_GBps=%.3f peak_rss_kb=%ld matching_lines=%zu%s\n",
      total, static_cast<long long>(scan->lines()), static_cast<long long>(scan->lines_examined()),
      secs, total / secs / 1e9, cpu, total / cpu / 1e9, ru.ru_maxrss, matching,
      scan->hits().size() >= tug::diagnose::kMaxHits ? " (hit cap reached)" : "");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && std::strcmp(argv[1], "gen") == 0) return Gen(argv[2], std::atol(argv[3]));
  auto d = Diagnoser::CreateBuiltin();
  if (!d.ok()) {
    std::cerr << d.error().ToString() << "\n";
    return 1;
  }
  if (argc >= 3 && std::strcmp(argv[1], "patterns") == 0) return Patterns(d.value(), argv[2]);
  if (argc >= 2 && std::strcmp(argv[1], "anchors") == 0) return Anchors(d.value());
  if (argc >= 3 && std::strcmp(argv[1], "prefilter") == 0) return Prefilter(d.value(), argv[2]);
  if (argc >= 3 && std::strcmp(argv[1], "scan") == 0) {
    using tug::diagnose::ScanMode;
    std::string mode = argc >= 4 ? argv[3] : "literal";
    if (mode != "literal" && mode != "stream" && mode != "reference") {
      std::cerr << "unknown mode '" << mode << "'; use literal, stream or reference\n";
      return 2;
    }
    std::string source = argc >= 5 ? argv[4] : "file";
    if (source != "file" && source != "read" && source != "memory") {
      std::cerr << "unknown source '" << source << "'; use file, read or memory\n";
      return 2;
    }
    return Scan(d.value(), argv[2],
                mode == "literal"  ? ScanMode::kLiteral
                : mode == "stream" ? ScanMode::kStreamPrefilter
                                   : ScanMode::kReference,
                source == "file"   ? Source::kFile
                : source == "read" ? Source::kRead
                                   : Source::kMemory);
  }
  std::cerr << "usage: scan_bench gen FILE MB | patterns FILE | anchors | prefilter FILE | "
               "scan FILE [literal|stream|reference] [file|read|memory]\n";
  return 2;
}
