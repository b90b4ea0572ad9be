#pragma once
/// Streaming log scanner: splits chunks into lines (1-based numbers, lines split across chunks
/// joined), strips relay prefixes (taxonomy rule 5), tracks exception blocks (JVM header /
/// `at` frames / `Caused by:` chain / `... N more`, Python tracebacks, Spark job-abort
/// wrappers) and matches each complete line against the whole catalog, compiled once into one
/// vectorscan block-mode database. Only matching lines are kept, each capped at kMaxLineBytes,
/// so memory stays bounded whatever the log size; binary bytes and megabyte lines are fine.
///
/// Fast path (ScanMode::kLiteral, the default): each fed chunk goes once through the literal
/// prefilter (literal_prefilter.h): the required literals of every catalog pattern plus the
/// markers the per-line logic inspects (exception words, `Traceback (most recent`,
/// `", line `, `Lost task `, `Executor task launch worker`, `spark` until seen), searched with
/// SIMD (Teddy for short literals, sampled 8-gram hashing for long ones). Patterns without a
/// required literal are matched over the chunk by a small vectorscan database of their own.
/// Newlines are counted in bulk; the per-line logic runs only on lines holding a hit, on every
/// line while an exception block or traceback is open or a noise line awaits its exception,
/// and on each line that completes a chunk-spanning partial if the prefilter flags the joined
/// line. Results equal the per-line reference path (ScanMode::kReference) and the issue-3
/// stream prefilter (ScanMode::kStreamPrefilter), which are kept for tests and benchmarks; the
/// stream prefilter is also the default on CPUs without AVX2.
///
/// Lifecycle: Diagnoser::Start() -> Feed()* -> Finish() -> read hits(). One LogScan per
/// stream; not thread-safe, but distinct scans may run on distinct threads (each owns its
/// vectorscan scratch; the compiled database is shared and immutable).
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "diagnose/catalog.h"
#include "diagnose/literal_prefilter.h"

struct hs_database;
struct hs_scratch;
struct hs_stream;

namespace tug::diagnose {

/// Bytes of a line kept for matching and reporting; the rest of a longer line is skipped.
inline constexpr size_t kMaxLineBytes = 8192;
/// At most this many matching lines are kept per scan.
inline constexpr size_t kMaxHits = 4096;
/// At most this many exception blocks are tracked per scan, each keeping its innermost
/// `Caused by:` line capped at kMaxCauseBytes.
inline constexpr size_t kMaxBlocks = 4096;
inline constexpr size_t kMaxCauseBytes = 4096;

/// The catalog compiled for scanning: one vectorscan block-mode database of every pattern (the
/// per-line match), the literal prefilter of the fast path and a database of the patterns that
/// have no required literal. Immutable (the issue-3 stream database is built on first use,
/// under a once flag); shared by scans on any thread.
class CompiledCatalog {
 public:
  [[nodiscard]] static Result<std::shared_ptr<const CompiledCatalog>> Compile(Catalog catalog);
  ~CompiledCatalog();
  CompiledCatalog(const CompiledCatalog&) = delete;
  CompiledCatalog& operator=(const CompiledCatalog&) = delete;

  const Catalog& catalog() const { return catalog_; }
  hs_database* database() const { return db_; }
  /// The fast path's first pass; `with_spark` adds the caseless `spark` marker (needed until a
  /// scan has seen a line mentioning Spark).
  const LiteralPrefilter& prefilter(bool with_spark) const {
    return with_spark ? prefilter_spark_ : prefilter_;
  }
  /// Block-mode database of the loosened patterns that have no required literal (ids are
  /// catalog indexes); nullptr when every pattern has one.
  hs_database* fallback_database() const { return fallback_db_; }
  /// Catalog indexes of the patterns on the fallback database (`fallback_database`).
  const std::vector<size_t>& fallback_patterns() const { return fallback_patterns_; }
  /// False when some pattern has no required literal and its loosened form does not compile
  /// (it matches the empty string): ScanMode::kLiteral then runs the per-line path.
  bool literal_path() const { return fallback_patterns_.empty() || fallback_db_ != nullptr; }
  /// Stream-mode prefilter of ScanMode::kStreamPrefilter (nullptr if it did not compile).
  /// Ids below catalog().patterns.size() are catalog patterns; spark_id() is `spark`.
  hs_database* stream_database() const;
  unsigned spark_id() const { return spark_id_; }

 private:
  CompiledCatalog() = default;
  Catalog catalog_;
  hs_database* db_ = nullptr;
  LiteralPrefilter prefilter_;
  LiteralPrefilter prefilter_spark_;
  hs_database* fallback_db_ = nullptr;
  std::vector<size_t> fallback_patterns_;
  mutable std::once_flag stream_once_;
  mutable hs_database* stream_db_ = nullptr;
  mutable unsigned spark_id_ = 0;
};

/// How a LogScan finds the lines worth the per-line logic (see the file comment).
enum class ScanMode { kLiteral, kStreamPrefilter, kReference };

/// One reason a line matters: a catalog pattern, or the built-in Python exception rule.
struct Signal {
  std::string id;
  std::string cls;
  int severity = 0;
  bool retryable = false;
  std::string remediation;
  PatternKind kind = PatternKind::kCause;
  Resolve resolve = Resolve::kNone;
};

struct Hit {
  int64_t line = 0;
  std::string text;  // the line as in the input (without the newline), capped
  std::vector<Signal> signals;
  int block = -1;       // exception block index, -1 outside blocks
  int depth = 0;        // position in the block's `Caused by:` chain (0 = header)
  bool header = false;  // the line names the thrown exception (JVM header, Caused by, Python)
  bool noise = false;   // a known-noise line, or inside a block introduced by one
  bool executor_context = false;   // the line or its block is an executor task failure
  bool python_final = false;       // last line of a Python traceback
  bool python_user_frame = false;  // ...and the traceback has a user frame
};

struct Block {
  int64_t first_line = 0;
  bool python = false;
  bool spark_network = false;  // frames in Spark's block-transfer/shuffle/RPC code
  bool shuffle = false;        // a fetch-failure signature heads or wraps the block
  bool executor_thread = false;
  bool noise = false;
  int depth = 0;
  int64_t deepest_line = 0;  // the last `Caused by:` of the chain (the innermost cause)
  std::string deepest_text;
};

class LogScan {
 public:
  LogScan(std::shared_ptr<const CompiledCatalog> compiled, std::string component);
  ~LogScan();
  LogScan(const LogScan&) = delete;
  LogScan& operator=(const LogScan&) = delete;

  /// Consumes any number of bytes; lines may span chunks.
  void Feed(std::string_view chunk);
  /// Flushes a last line without a newline. Feed after Finish is ignored.
  void Finish();

  /// kReference: every line goes through the per-line logic and a block-mode scan;
  /// kStreamPrefilter: the issue-3 fast path. Same results as kLiteral (the default), slower;
  /// for tests and benchmarks. Call before Feed.
  void SetMode(ScanMode mode);
  void SetReferenceMode(bool on) { SetMode(on ? ScanMode::kReference : ScanMode::kLiteral); }

  const std::string& component() const { return component_; }
  const std::vector<Hit>& hits() const { return hits_; }
  const std::vector<Block>& blocks() const { return blocks_; }
  int64_t lines() const { return line_no_; }
  /// Lines that went through the per-line logic (all of them on the reference path).
  int64_t lines_examined() const { return lines_examined_; }
  bool spark_seen() const { return spark_seen_; }
  /// Most failures of one task index in one stage with the same (digit-free) reason.
  int max_task_repeats() const { return max_task_repeats_; }
  /// Line of the last "Finished task" seen before `line` (0 if none).
  int64_t LastSuccessBefore(int64_t line) const;
  /// The last non-empty line (capped) and its number, for logs where nothing matched.
  const std::string& last_text() const { return last_text_; }
  /// The first exception block's deepest cause (JVM header/`Caused by:`), for logs where no
  /// signature matched; line 0 if there was none.
  int64_t first_exception_line() const { return first_exception_line_; }
  const std::string& first_exception_text() const { return first_exception_text_; }
  int64_t last_text_line() const { return last_text_line_; }

 private:
  void ProcessLine(std::string_view raw);
  void FeedReference(std::string_view chunk);
  void FeedLiteral(std::string_view chunk);
  void FeedStream(std::string_view chunk);
  // Runs the per-line logic on the lines of `chunk` that flags_ (ascending chunk offsets)
  // point into, and on those the open-block rules require; counts the others.
  void WalkFlagged(std::string_view chunk);
  // Whether the literal path must look at `line` (a whole line): a prefilter hit or a
  // fallback-pattern match.
  bool LineMayMatter(std::string_view line);
  // Counts a line the per-line logic would not change anything for (but the last text).
  void SkipLine(std::string_view raw);
  void TrackTask(std::string_view text);
  int NewBlock(bool python, bool inherit_noise);

  std::shared_ptr<const CompiledCatalog> compiled_;
  std::string component_;
  hs_scratch* scratch_ = nullptr;
  hs_stream* stream_ = nullptr;
  ScanMode mode_ = ScanMode::kLiteral;
  uint64_t stream_offset_ = 0;   // bytes fed to stream_ before the current chunk
  std::vector<uint32_t> flags_;  // chunk offsets inside lines the prefilter flagged
  std::vector<uint32_t> line_flags_;
  std::string partial_;
  bool finished_ = false;
  int64_t line_no_ = 0;
  int64_t lines_examined_ = 0;
  std::vector<Hit> hits_;
  std::vector<Block> blocks_;
  std::vector<int64_t> successes_;
  int cur_block_ = -1;
  int last_block_ = -1;
  int64_t last_block_line_ = 0;
  bool pending_noise_ = false;
  int64_t executor_thread_line_ = -100;
  bool in_traceback_ = false;
  bool traceback_user_frame_ = false;
  int traceback_lines_ = 0;
  bool spark_seen_ = false;
  std::map<std::string, int> task_failures_;
  std::vector<std::string> killed_tasks_;  // "1.1@3.0": tasks killed as noise (speculation)
  int max_task_repeats_ = 0;
  std::vector<unsigned> match_ids_;
  std::string last_text_;
  int64_t last_text_line_ = 0;
  int first_exception_block_ = -1;
  int64_t first_exception_line_ = 0;
  std::string first_exception_text_;
};

/// Removes relay prefixes: timestamps, [bracketed] tags, {file.py:N} markers, log levels and
/// the logger name after them, `stderr:`/`From Python:` relays, docker-compose `svc |`,
/// markdown `**`/`>` and console progress bars. Returns a view into `line`.
std::string_view StripRelayPrefix(std::string_view line);
/// A line the platform itself wrote into a job's log (`[tugboat] started process ...`,
/// `[tugboat] exited with code 1`): never the job's last words.
inline bool IsPlatformLine(std::string_view raw) { return raw.starts_with("[tugboat] "); }
/// `at pkg.Class.method(File.java:1)` or `... 12 more` (after StripRelayPrefix).
bool IsJvmFrame(std::string_view stripped);
/// A line naming a thrown JVM exception: `pkg.FooException: msg`, `Caused by: ...`,
/// `Exception in thread "main" ...`.
bool IsJvmHeader(std::string_view stripped);
/// `KeyError: 1`, `requests.exceptions.HTTPError: ...`, `EOFError`.
bool IsPythonExceptionLine(std::string_view stripped);
/// A Python frame path not under pyspark/py4j (the user's own code).
bool IsPythonUserFrame(std::string_view stripped);

}  // namespace tug::diagnose
