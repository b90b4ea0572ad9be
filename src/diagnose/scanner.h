#pragma once
/// Streaming log scanner: splits chunks into lines (1-based numbers, lines split across chunks
/// joined), strips relay prefixes (taxonomy rule 5), tracks exception blocks (JVM header /
/// `at` frames / `Caused by:` chain / `... N more`, Python tracebacks, Spark job-abort
/// wrappers) and matches each complete line against the whole catalog, compiled once into one
/// vectorscan block-mode database. Only matching lines are kept, each capped at kMaxLineBytes,
/// so memory stays bounded whatever the log size; binary bytes and megabyte lines are fine.
///
/// Fast path: each fed chunk is scanned once as a whole by a second, stream-mode database (the
/// catalog with anchors and word boundaries dropped, so it matches a superset of lines, plus
/// prefilter literals for everything the per-line logic inspects: exception words, `Traceback`,
/// `", line `, `Lost task `, `Executor task launch worker`, `spark`). Newlines are counted in
/// bulk; the per-line logic runs only on flagged lines, on every line while an exception block
/// or traceback is open or a noise line awaits its exception, and on each line that completes a
/// chunk-spanning partial. Results equal the per-line reference path (SetReferenceMode).
///
/// Lifecycle: Diagnoser::Start() -> Feed()* -> Finish() -> read hits(). One LogScan per
/// stream; not thread-safe, but distinct scans may run on distinct threads (each owns its
/// vectorscan scratch; the compiled database is shared and immutable).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "diagnose/catalog.h"

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

/// The catalog compiled into one vectorscan database. Immutable; shared by scans.
class CompiledCatalog {
 public:
  [[nodiscard]] static Result<std::shared_ptr<const CompiledCatalog>> Compile(Catalog catalog);
  ~CompiledCatalog();
  CompiledCatalog(const CompiledCatalog&) = delete;
  CompiledCatalog& operator=(const CompiledCatalog&) = delete;

  const Catalog& catalog() const { return catalog_; }
  hs_database* database() const { return db_; }
  /// Stream-mode prefilter database (nullptr if it did not compile: scans use the per-line
  /// path). Ids below catalog().patterns.size() are catalog patterns; see kPrefilter* ids.
  hs_database* stream_database() const { return stream_db_; }
  unsigned spark_id() const { return spark_id_; }

 private:
  CompiledCatalog() = default;
  Catalog catalog_;
  hs_database* db_ = nullptr;
  hs_database* stream_db_ = nullptr;
  unsigned spark_id_ = 0;
};

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

  /// Reference (pre-fast-path) behaviour: every line goes through the per-line logic and a
  /// block-mode scan. Same results, much slower; for tests and benchmarks. Call before Feed.
  void SetReferenceMode(bool on) { reference_ = on; }

  const std::string& component() const { return component_; }
  const std::vector<Hit>& hits() const { return hits_; }
  const std::vector<Block>& blocks() const { return blocks_; }
  int64_t lines() const { return line_no_; }
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
  void FeedFast(std::string_view chunk);
  void TrackTask(std::string_view text);
  int NewBlock(bool python, bool inherit_noise);

  std::shared_ptr<const CompiledCatalog> compiled_;
  std::string component_;
  hs_scratch* scratch_ = nullptr;
  hs_stream* stream_ = nullptr;
  bool reference_ = false;
  uint64_t stream_offset_ = 0;   // bytes fed to stream_ before the current chunk
  std::vector<uint64_t> flags_;  // stream offsets of the last byte of prefilter matches
  std::string partial_;
  bool finished_ = false;
  int64_t line_no_ = 0;
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
