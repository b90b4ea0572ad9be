#include "diagnose/scanner.h"

#include <hs/hs.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace tug::diagnose {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdent(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '$' || c == '.';
}

std::string_view LTrim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  return s;
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

bool ContainsNoCase(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

// A leading timestamp: digits with separators, at least one ':' and six digits
// ("2020-09-04 11:43:51,536", "22/06/30 00:34:32", "02:13:07.175", "2021-11-23T14:17:12Z").
size_t TimestampLength(std::string_view s) {
  size_t i = 0, digits = 0, colons = 0;
  while (i < s.size()) {
    char c = s[i];
    if (IsDigit(c)) {
      ++digits;
    } else if (c == ':') {
      ++colons;
    } else if (c == '-' || c == '/' || c == '.' || c == ',' || c == 'T' || c == 'Z' ||
               c == '+') {
    } else if (c == ' ' && i + 1 < s.size() && IsDigit(s[i + 1]) && colons == 0) {
      // "2020-09-04 11:43" keeps going through the date/time space.
    } else {
      break;
    }
    ++i;
  }
  if (colons == 0 || digits < 6) return 0;
  while (i < s.size() && (s[i] == ':' || IsSpace(s[i]))) ++i;
  return i;
}

// "Apr 28 09:35:34.104: " (syslog-style month-name timestamps).
size_t MonthTimestampLength(std::string_view s) {
  if (s.size() < 8 || !std::isupper(static_cast<unsigned char>(s[0])) ||
      !std::islower(static_cast<unsigned char>(s[1])) ||
      !std::islower(static_cast<unsigned char>(s[2])) || s[3] != ' ') {
    return 0;
  }
  size_t i = 4;
  while (i < s.size() && (IsDigit(s[i]) || s[i] == ' ')) ++i;
  size_t t = TimestampLength(s.substr(i));
  return t == 0 ? 0 : i + t;
}

size_t LevelLength(std::string_view s) {
  static constexpr std::string_view kLevels[] = {"SPARK:WARN", "SPARK:ERROR", "SPARK:INFO",
                                                 "WARNING",    "ERROR",       "FATAL",
                                                 "SEVERE",     "CRITICAL",    "DEBUG",
                                                 "TRACE",      "INFO",        "WARN"};
  for (std::string_view lv : kLevels) {
    if (StartsWith(s, lv) && (s.size() == lv.size() || s[lv.size()] == ' ' ||
                              s[lv.size()] == ':' || s[lv.size()] == '\t')) {
      size_t i = lv.size();
      while (i < s.size() && (s[i] == ':' || IsSpace(s[i]) || s[i] == '-')) ++i;
      return i;
    }
  }
  return 0;
}

// After a log level: "TaskSchedulerImpl: ", "Executor:54 - ", "jobserver.python.PythonJob [] ".
size_t LoggerLength(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsIdent(s[i])) ++i;
  if (i == 0) return 0;
  std::string_view name = s.substr(0, i);
  // An exception class is content, not a logger name.
  if (name.find("Exception") != std::string_view::npos ||
      name.find("Error") != std::string_view::npos) {
    return 0;
  }
  size_t j = i;
  if (j < s.size() && s[j] == ':') {
    ++j;
    while (j < s.size() && IsDigit(s[j])) ++j;
  }
  size_t k = j;
  while (k < s.size() && IsSpace(s[k])) ++k;
  // "jobserver.python.PythonJob [] [akka://JobServer/user/ctx] - message"
  for (int groups = 0; groups < 4 && k < s.size() && s[k] == '['; ++groups) {
    size_t close = s.find(']', k);
    if (close == std::string_view::npos || close - k > 160) return 0;
    k = close + 1;
    while (k < s.size() && IsSpace(s[k])) ++k;
  }
  if (k < s.size() && s[k] == '-' && k + 1 < s.size() && s[k + 1] == ' ') return k + 2;
  if (j > i && j < s.size() && s[j] == ' ') return j + 1;  // "Logger: msg"
  return 0;
}

// "task 0.1 in stage 2.0" -> "0.1@2.0" (empty when the line names no task attempt).
std::string TaskAttemptKey(std::string_view text) {
  size_t at = text.find("task ");
  while (at != std::string_view::npos) {
    std::string_view rest = text.substr(at + 5);
    size_t sp = rest.find(" in stage ");
    if (sp != std::string_view::npos && sp > 0 && sp < 16 &&
        rest.substr(0, sp).find('.') != std::string_view::npos) {
      std::string_view stage = rest.substr(sp + 10);
      stage = stage.substr(0, std::min(stage.find(' '), stage.find(')')));
      return std::string(rest.substr(0, sp)) + "@" + std::string(stage);
    }
    at = text.find("task ", at + 5);
  }
  return {};
}

}  // namespace

std::string_view StripRelayPrefix(std::string_view s) {
  // Progress bars and other carriage-return overwrites: the text after the last '\r' is what a
  // terminal shows.
  if (size_t cr = s.rfind('\r'); cr != std::string_view::npos) s = s.substr(cr + 1);
  for (int guard = 0; guard < 12; ++guard) {
    std::string_view before = s;
    s = LTrim(s);
    if (StartsWith(s, "**")) s.remove_prefix(2);
    if (StartsWith(s, "> ") || StartsWith(s, "`")) s.remove_prefix(1);
    if (!s.empty() && s.front() == '[') {
      size_t close = s.find(']');
      if (close != std::string_view::npos && close < 160) {
        std::string_view inner = s.substr(1, close - 1);
        // "[MALFORMED_RECORD...]" error classes are content; timestamps, levels, thread and
        // container tags, progress bars are relays.
        bool error_class = !inner.empty() && std::all_of(inner.begin(), inner.end(), [](char c) {
          return std::isupper(static_cast<unsigned char>(c)) || c == '_' || c == '.';
        }) && inner.find('_') != std::string_view::npos;
        if (!error_class) s.remove_prefix(close + 1);
      }
    } else if (!s.empty() && s.front() == '{') {
      size_t close = s.find('}');
      if (close != std::string_view::npos && close < 80 &&
          s.substr(0, close).find('"') == std::string_view::npos) {
        s.remove_prefix(close + 1);
      }
    }
    s = LTrim(s);
    if (size_t n = TimestampLength(s)) s.remove_prefix(n);
    if (size_t n = MonthTimestampLength(s)) s.remove_prefix(n);
    if (size_t n = LevelLength(s)) {
      s.remove_prefix(n);
      s = LTrim(s);
      if (!s.empty() && s.front() == '[') {  // "[Thread-6] ExecuteScript:58 - "
        size_t close = s.find(']');
        if (close != std::string_view::npos && close < 80) s = LTrim(s.substr(close + 1));
      }
      if (size_t m = LoggerLength(s)) s.remove_prefix(m);
    }
    for (std::string_view relay : {"From Python:", "stderr:", "stdout:", "STDERR:", "STDOUT:"}) {
      if (StartsWith(s, relay)) s.remove_prefix(relay.size());
    }
    // docker-compose "service-1  | message"
    if (size_t bar = s.find(" | "); bar != std::string_view::npos && bar < 64 &&
                                     std::all_of(s.begin(), s.begin() + bar, [](char c) {
                                       return IsIdent(c) || c == '-' || c == ' ';
                                     })) {
      s.remove_prefix(bar + 3);
    }
    if (s.size() == before.size()) break;
  }
  s = LTrim(s);
  if (StartsWith(s, "**")) s.remove_prefix(2);
  if (s.size() >= 2 && s.substr(s.size() - 2) == "**") s.remove_suffix(2);
  return s;
}

bool IsJvmFrame(std::string_view s) {
  if (StartsWith(s, "at ") && s.size() > 3 && s[3] != ' ') {
    return s.find('(') != std::string_view::npos || s.find('.') != std::string_view::npos;
  }
  if (StartsWith(s, "... ") && s.size() > 4 && IsDigit(s[4])) return true;
  return false;
}

bool IsJvmHeader(std::string_view s) {
  for (std::string_view p : {"Caused by: ", "Suppressed: ", ": ", "Error : ", "Error: "}) {
    if (StartsWith(s, p)) {
      s.remove_prefix(p.size());
      break;
    }
  }
  if (StartsWith(s, "Exception in thread \"")) {
    size_t q = s.find('"', 21);
    if (q == std::string_view::npos) return false;
    s = LTrim(s.substr(q + 1));
  }
  size_t i = 0;
  while (i < s.size() && IsIdent(s[i])) ++i;
  std::string_view name = s.substr(0, i);
  if (name.find('.') == std::string_view::npos) return false;
  if (i < s.size() && s[i] != ':') return false;
  size_t last = name.rfind('.');
  std::string_view simple = name.substr(last + 1);
  for (std::string_view suffix : {"Exception", "Error", "Throwable", "Failure"}) {
    if (simple.size() >= suffix.size() &&
        simple.substr(simple.size() - suffix.size()) == suffix) {
      return true;
    }
  }
  return false;
}

bool IsPythonExceptionLine(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && (IsIdent(s[i]) && s[i] != '$')) ++i;
  if (i == 0 || (i < s.size() && s[i] != ':')) return false;
  std::string_view name = s.substr(0, i);
  size_t last = name.rfind('.');
  std::string_view simple = last == std::string_view::npos ? name : name.substr(last + 1);
  if (simple.empty() || !std::isupper(static_cast<unsigned char>(simple.front()))) return false;
  for (std::string_view suffix :
       {"Error", "Exception", "Exit", "Interrupt", "Warning", "Failure", "StopIteration"}) {
    if (simple.size() >= suffix.size() &&
        simple.substr(simple.size() - suffix.size()) == suffix) {
      return true;
    }
  }
  return false;
}

bool IsPythonUserFrame(std::string_view s) {
  if (!StartsWith(s, "File \"")) return false;
  size_t q = s.find('"', 6);
  std::string_view path = s.substr(6, q == std::string_view::npos ? std::string_view::npos : q - 6);
  for (std::string_view lib : {"pyspark.zip", "/pyspark/", "py4j", "site-packages/pyspark"}) {
    if (path.find(lib) != std::string_view::npos) return false;
  }
  return true;
}

// ------------------------------------------------------------------------------------------

Result<std::shared_ptr<const CompiledCatalog>> CompiledCatalog::Compile(Catalog catalog) {
  if (catalog.patterns.empty()) return InvalidArgument("catalog has no patterns");
  std::vector<const char*> exprs;
  std::vector<unsigned> flags;
  std::vector<unsigned> ids;
  for (size_t i = 0; i < catalog.patterns.size(); ++i) {
    exprs.push_back(catalog.patterns[i].regex.c_str());
    flags.push_back(HS_FLAG_SINGLEMATCH);
    ids.push_back(static_cast<unsigned>(i));
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                       static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &db,
                       &err) != HS_SUCCESS) {
    std::string why = err != nullptr && err->message != nullptr ? err->message : "unknown";
    int at = err != nullptr ? err->expression : -1;
    hs_free_compile_error(err);
    std::string where = at >= 0 && static_cast<size_t>(at) < catalog.patterns.size()
                            ? catalog.patterns[static_cast<size_t>(at)].origin + ": pattern '" +
                                  catalog.patterns[static_cast<size_t>(at)].id + "': "
                            : std::string();
    return InvalidArgument(where + "catalog does not compile: " + why);
  }
  std::shared_ptr<CompiledCatalog> out(new CompiledCatalog());
  out->catalog_ = std::move(catalog);
  out->db_ = db;
  return std::shared_ptr<const CompiledCatalog>(std::move(out));
}

CompiledCatalog::~CompiledCatalog() { hs_free_database(db_); }

LogScan::LogScan(std::shared_ptr<const CompiledCatalog> compiled, std::string component)
    : compiled_(std::move(compiled)), component_(std::move(component)) {
  // Allocation only fails on memory exhaustion; a scan without scratch matches nothing.
  if (hs_alloc_scratch(compiled_->database(), &scratch_) != HS_SUCCESS) scratch_ = nullptr;
  partial_.reserve(256);
}

LogScan::~LogScan() { hs_free_scratch(scratch_); }

void LogScan::Feed(std::string_view chunk) {
  if (finished_) return;
  while (!chunk.empty()) {
    const void* nl = std::memchr(chunk.data(), '\n', chunk.size());
    size_t n = nl == nullptr ? chunk.size()
                             : static_cast<size_t>(static_cast<const char*>(nl) - chunk.data());
    if (partial_.size() < kMaxLineBytes) {
      partial_.append(chunk.data(), std::min(n, kMaxLineBytes - partial_.size()));
    }
    if (nl == nullptr) return;
    ProcessLine(partial_);
    partial_.clear();
    chunk.remove_prefix(n + 1);
  }
}

void LogScan::Finish() {
  if (finished_) return;
  if (!partial_.empty()) ProcessLine(partial_);
  partial_.clear();
  finished_ = true;
}

int64_t LogScan::LastSuccessBefore(int64_t line) const {
  int64_t best = 0;
  for (int64_t s : successes_) {
    if (s < line) best = s;
  }
  return best;
}

int LogScan::NewBlock(bool python, bool inherit_noise) {
  if (blocks_.size() >= kMaxBlocks) {
    // Bounded memory: past the cap lines are still matched, just without block context.
    cur_block_ = -1;
    last_block_ = -1;
    return -1;
  }
  Block b;
  b.first_line = line_no_;
  b.python = python;
  b.noise = inherit_noise && pending_noise_;
  b.executor_thread = line_no_ - executor_thread_line_ <= 3;
  blocks_.push_back(b);
  cur_block_ = static_cast<int>(blocks_.size()) - 1;
  last_block_ = cur_block_;
  return cur_block_;
}

void LogScan::TrackTask(std::string_view text) {
  // "Lost task 0.1 in stage 2.0 (TID 3) (host executor 1): <reason>": the same task index
  // failing again and again for the same reason is deterministic (taxonomy rule 6).
  size_t at = text.find("Lost task ");
  if (at == std::string_view::npos) return;
  std::string_view rest = text.substr(at + 10);
  size_t dot = rest.find('.');
  size_t stage = rest.find(" in stage ");
  if (dot == std::string_view::npos || stage == std::string_view::npos) return;
  std::string key(rest.substr(0, dot));
  std::string_view stage_id = rest.substr(stage + 10);
  stage_id = stage_id.substr(0, stage_id.find(' '));
  key += "@";
  key += stage_id;
  key += ":";
  size_t reason = rest.find("): ");
  if (reason != std::string_view::npos) {
    for (char c : rest.substr(reason + 3, 120)) {
      if (!IsDigit(c)) key.push_back(c);
    }
  }
  if (task_failures_.size() > 1024 && task_failures_.find(key) == task_failures_.end()) return;
  max_task_repeats_ = std::max(max_task_repeats_, ++task_failures_[key]);
}

void LogScan::ProcessLine(std::string_view raw) {
  ++line_no_;
  if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  std::string_view text = StripRelayPrefix(raw);
  if (!text.empty()) {
    last_text_.assign(raw.data(), std::min(raw.size(), kMaxLineBytes));
    last_text_line_ = line_no_;
  }
  if (!spark_seen_ && ContainsNoCase(text, "spark")) spark_seen_ = true;
  if (text.find("Executor task launch worker") != std::string_view::npos) {
    executor_thread_line_ = line_no_;
  }

  if (IsJvmFrame(text)) {
    if (cur_block_ >= 0) {
      Block& b = blocks_[static_cast<size_t>(cur_block_)];
      if (text.find("org.apache.spark.network") != std::string_view::npos ||
          text.find("org.apache.spark.rpc") != std::string_view::npos ||
          text.find("ShuffleBlockFetcherIterator") != std::string_view::npos ||
          text.find("spark.shuffle.") != std::string_view::npos) {
        b.spark_network = true;
      }
      last_block_line_ = line_no_;
    }
    return;
  }

  // Python traceback extraction.
  bool python_final = false;
  if (text.find("Traceback (most recent call last)") != std::string_view::npos) {
    in_traceback_ = true;
    traceback_user_frame_ = false;
    traceback_lines_ = 0;
    NewBlock(true, true);
  } else if (StartsWith(text, "File \"") && text.find("\", line ") != std::string_view::npos) {
    if (!in_traceback_) {
      in_traceback_ = true;
      traceback_user_frame_ = false;
      traceback_lines_ = 0;
      NewBlock(true, true);
    }
    if (IsPythonUserFrame(text)) traceback_user_frame_ = true;
  } else if (in_traceback_) {
    if (IsPythonExceptionLine(text)) {
      python_final = true;
      in_traceback_ = false;
    } else if (++traceback_lines_ > 400) {
      in_traceback_ = false;
    }
  }

  bool header = python_final || IsJvmHeader(text);
  bool wrapper_start = text.find("most recent failure:") != std::string_view::npos;
  if (!python_final && !in_traceback_) {
    if (header && StartsWith(text, "Caused by:") && last_block_ >= 0 &&
        line_no_ - last_block_line_ <= 200) {
      cur_block_ = last_block_;
      Block& b = blocks_[static_cast<size_t>(cur_block_)];
      ++b.depth;
      b.deepest_line = line_no_;
      b.deepest_text.assign(raw.data(), std::min(raw.size(), kMaxCauseBytes));
    } else if (header || wrapper_start) {
      // Only an exception thrown right after a noise line belongs to it; a wrapped
      // continuation naming the real failure ("most recent failure: ...") does not.
      NewBlock(false, header);
    } else if (text.find("Traceback (most recent") == std::string_view::npos) {
      cur_block_ = -1;
    }
  }
  pending_noise_ = false;
  if (cur_block_ >= 0) last_block_line_ = line_no_;
  if (header && !python_final && cur_block_ >= 0 &&
      (first_exception_block_ < 0 || first_exception_block_ == cur_block_)) {
    first_exception_block_ = cur_block_;
    first_exception_line_ = line_no_;
    first_exception_text_.assign(raw.data(), std::min(raw.size(), kMaxLineBytes));
  }

  TrackTask(text);

  match_ids_.clear();
  if (scratch_ != nullptr && !text.empty()) {
    auto on_match = [](unsigned id, unsigned long long, unsigned long long, unsigned,
                       void* ctx) -> int {
      static_cast<std::vector<unsigned>*>(ctx)->push_back(id);
      return 0;
    };
    hs_scan(compiled_->database(), text.data(), static_cast<unsigned>(text.size()), 0, scratch_,
            on_match, &match_ids_);
  }
  if (match_ids_.empty() && !python_final) return;

  Hit hit;
  hit.line = line_no_;
  hit.header = header;
  hit.python_final = python_final;
  hit.python_user_frame = python_final && traceback_user_frame_;
  hit.block = cur_block_;
  if (cur_block_ >= 0) {
    const Block& b = blocks_[static_cast<size_t>(cur_block_)];
    hit.depth = b.depth;
    hit.noise = b.noise;
    hit.executor_context = b.executor_thread;
  }
  if (text.find("Lost task ") != std::string_view::npos ||
      text.find("most recent failure") != std::string_view::npos ||
      text.find("Exception in task") != std::string_view::npos) {
    hit.executor_context = true;
  }
  std::sort(match_ids_.begin(), match_ids_.end());
  const auto& patterns = compiled_->catalog().patterns;
  for (unsigned id : match_ids_) {
    const Pattern& p = patterns[id];
    if (p.kind == PatternKind::kNoise) {
      hit.noise = true;
      pending_noise_ = true;
    }
    if (p.kind == PatternKind::kSuccess && successes_.size() < kMaxHits) {
      successes_.push_back(line_no_);
    }
    if (p.cls == "shuffle_fetch_failure" && cur_block_ >= 0) {
      blocks_[static_cast<size_t>(cur_block_)].shuffle = true;
    }
    hit.signals.push_back(
        Signal{p.id, p.cls, p.severity, p.retryable, p.remediation, p.kind, p.resolve});
  }
  if (python_final) {
    bool wrapper = text.find("Py4JJavaError") != std::string_view::npos;
    bool matched_cause = std::any_of(hit.signals.begin(), hit.signals.end(), [](const Signal& s) {
      return s.kind == PatternKind::kCause;
    });
    if (wrapper) {
      hit.signals.push_back(Signal{"python.py4j_wrapper", "", 10, false, "",
                                   PatternKind::kWrapper, Resolve::kNone});
    } else if (!matched_cause) {
      // The last traceback line is the exception (rule 2). With a user frame it is the user's
      // bug; inside pyspark's own worker only (EOFError on the pipe) it is a symptom.
      hit.signals.push_back(Signal{"python.exception", "user_code_error",
                                   traceback_user_frame_ ? 66 : 25, false, "user_code",
                                   PatternKind::kCause, Resolve::kNone});
    }
  }
  // Errors of a task attempt that was killed as noise (speculation: "another attempt
  // succeeded") are noise too, including the false SparkOutOfMemoryError (SPARK-48642).
  if (!killed_tasks_.empty() && !hit.noise) {
    std::string key = TaskAttemptKey(text);
    if (!key.empty() &&
        std::find(killed_tasks_.begin(), killed_tasks_.end(), key) != killed_tasks_.end()) {
      hit.noise = true;
      pending_noise_ = true;
    }
  }
  if (hit.noise && killed_tasks_.size() < 256) {
    std::string key = TaskAttemptKey(text);
    if (!key.empty()) killed_tasks_.push_back(std::move(key));
  }
  if (hits_.size() >= kMaxHits) return;
  hit.text.assign(raw.data(), std::min(raw.size(), kMaxLineBytes));
  hits_.push_back(std::move(hit));
}

}  // namespace tug::diagnose
