#include "diagnose/scanner.h"

#include <hs/hs.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tug::diagnose {

namespace {

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool ContainsNoCase(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
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

#if defined(__x86_64__)
// 32 bytes at a time; the byte counters are drained every 255 blocks.
__attribute__((target("avx2"))) size_t CountNewlinesAvx2(const char* p, size_t n) {
  size_t count = 0, i = 0;
  const __m256i nl = _mm256_set1_epi8('\n');
  while (i + 32 <= n) {
    __m256i acc = _mm256_setzero_si256();
    size_t blocks = std::min<size_t>((n - i) / 32, 255);
    for (size_t b = 0; b < blocks; ++b, i += 32) {
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
      acc = _mm256_sub_epi8(acc, _mm256_cmpeq_epi8(v, nl));  // +1 per newline byte
    }
    __m256i sums = _mm256_sad_epu8(acc, _mm256_setzero_si256());
    count += static_cast<size_t>(_mm256_extract_epi64(sums, 0) + _mm256_extract_epi64(sums, 1) +
                                 _mm256_extract_epi64(sums, 2) + _mm256_extract_epi64(sums, 3));
  }
  for (; i < n; ++i) count += p[i] == '\n';
  return count;
}

// 64 bytes at a time: a compare into a mask register and a popcount.
__attribute__((target("avx512f,avx512bw,popcnt"))) size_t CountNewlinesAvx512(const char* p,
                                                                               size_t n) {
  size_t count = 0, i = 0;
  const __m512i nl = _mm512_set1_epi8('\n');
  for (; i + 64 <= n; i += 64) {
    count += static_cast<size_t>(
        __builtin_popcountll(_mm512_cmpeq_epi8_mask(_mm512_loadu_si512(p + i), nl)));
  }
  for (; i < n; ++i) count += p[i] == '\n';
  return count;
}
#endif

// Newlines in [p, p + n): with AVX-512 or AVX2 as the prefilter's kernel (LiteralPrefilter::
// Best: what the CPU has, capped by TUG_SCAN_KERNEL), else 16 bytes at a time with SSE2 (byte
// counters drained every 255 blocks), else eight at a time (SWAR zero-byte count).
size_t CountNewlines(const char* p, size_t n) {
#if defined(__x86_64__)
  static const LiteralPrefilter::Kernel kernel = LiteralPrefilter::Best();
  if (kernel == LiteralPrefilter::Kernel::kAvx512) return CountNewlinesAvx512(p, n);
  if (kernel == LiteralPrefilter::Kernel::kAvx2) return CountNewlinesAvx2(p, n);
#endif
  size_t count = 0, i = 0;
#if defined(__SSE2__)
  const __m128i nl = _mm_set1_epi8('\n');
  while (i + 16 <= n) {
    __m128i acc = _mm_setzero_si128();
    size_t blocks = std::min<size_t>((n - i) / 16, 255);
    for (size_t b = 0; b < blocks; ++b, i += 16) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(v, nl));  // +1 per newline byte
    }
    __m128i sums = _mm_sad_epu8(acc, _mm_setzero_si128());
    count += static_cast<size_t>(_mm_cvtsi128_si64(sums)) +
             static_cast<size_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums)));
  }
#else
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kNl = kOnes * '\n';
  constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7fULL;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    uint64_t x = w ^ kNl;
    // High bit of each byte set iff the byte is zero (exact, no borrow across bytes).
    uint64_t z = ~(((x & kLow7) + kLow7) | x | kLow7);
    count += static_cast<size_t>(((z >> 7) * kOnes) >> 56);  // sum of the 0/1 bytes
  }
#endif
  for (; i < n; ++i) count += p[i] == '\n';
  return count;
}

}  // namespace

// ------------------------------------------------------------------------------------------

LogScan::LogScan(std::shared_ptr<const CompiledCatalog> compiled, std::string component)
    : compiled_(std::move(compiled)), component_(std::move(component)) {
  // Allocation only fails on memory exhaustion; a scan without scratch matches nothing.
  if (hs_alloc_scratch(compiled_->database(), &scratch_) != HS_SUCCESS) scratch_ = nullptr;
  if (scratch_ != nullptr && compiled_->fallback_database() != nullptr &&
      hs_alloc_scratch(compiled_->fallback_database(), &scratch_) != HS_SUCCESS) {
    scratch_ = nullptr;
  }
  if (!compiled_->literal_path()) {
    mode_ = ScanMode::kReference;
  } else if (!LiteralPrefilter::Vectorized()) {
    // Without AVX2 the literal kernels go a byte at a time; vectorscan's stream prefilter
    // (SSE2 / NEON) is then the faster way to skip lines.
    SetMode(ScanMode::kStreamPrefilter);
  }
  partial_.reserve(256);
}

LogScan::~LogScan() {
  if (stream_ != nullptr) hs_close_stream(stream_, scratch_, nullptr, nullptr);
  hs_free_scratch(scratch_);
}

void LogScan::SetMode(ScanMode mode) {
  if (mode == mode_) return;
  // The stream prefilter needs the whole stream; the other modes keep no state of their own
  // and may be switched to at any time.
  if (mode == ScanMode::kStreamPrefilter && (line_no_ > 0 || !partial_.empty())) return;
  if (stream_ != nullptr) {
    hs_close_stream(stream_, scratch_, nullptr, nullptr);
    stream_ = nullptr;
  }
  if (mode == ScanMode::kLiteral && !compiled_->literal_path()) mode = ScanMode::kReference;
  if (mode == ScanMode::kStreamPrefilter) {
    hs_database* db = compiled_->stream_database();
    if (db == nullptr || scratch_ == nullptr || hs_alloc_scratch(db, &scratch_) != HS_SUCCESS ||
        hs_open_stream(db, 0, &stream_) != HS_SUCCESS) {
      stream_ = nullptr;
      mode = ScanMode::kReference;
    }
  }
  mode_ = mode;
}

void LogScan::Feed(std::string_view chunk) {
  if (finished_) return;
  if (mode_ == ScanMode::kReference || scratch_ == nullptr) {
    FeedReference(chunk);
    return;
  }
  // Slices of at most 1 MiB keep the flag buffer bounded whatever the caller feeds.
  constexpr size_t kSlice = size_t{1} << 20;
  for (size_t i = 0; i < chunk.size(); i += kSlice) {
    if (mode_ == ScanMode::kLiteral) {
      FeedLiteral(chunk.substr(i, kSlice));
    } else {
      FeedStream(chunk.substr(i, kSlice));
    }
  }
}

void LogScan::FeedLiteral(std::string_view chunk) {
  if (chunk.empty()) return;
  flags_.clear();
  compiled_->prefilter(!spark_seen_).Find(chunk.data(), chunk.size(), &flags_);
  if (hs_database* fallback = compiled_->fallback_database(); fallback != nullptr) {
    size_t literal_flags = flags_.size();
    auto on_match = [](unsigned, unsigned long long, unsigned long long to, unsigned,
                       void* ctx) -> int {
      auto* flags = static_cast<std::vector<uint32_t>*>(ctx);
      if (flags->empty() || flags->back() != to - 1) {
        flags->push_back(static_cast<uint32_t>(to - 1));
      }
      return 0;
    };
    if (hs_scan(fallback, chunk.data(), static_cast<unsigned>(chunk.size()), 0, scratch_, on_match,
                &flags_) != HS_SUCCESS) {
      // Cannot happen with a valid database: flag every line of this chunk instead.
      flags_.resize(literal_flags);
      FeedReference(chunk);
      return;
    }
    if (!std::is_sorted(flags_.begin() + static_cast<std::ptrdiff_t>(literal_flags),
                        flags_.end())) {
      std::sort(flags_.begin() + static_cast<std::ptrdiff_t>(literal_flags), flags_.end());
    }
    std::inplace_merge(flags_.begin(), flags_.begin() + static_cast<std::ptrdiff_t>(literal_flags),
                       flags_.end());
  }
  WalkFlagged(chunk);
}

void LogScan::FeedStream(std::string_view chunk) {
  if (chunk.empty()) return;
  flags_.clear();
  struct Context {
    LogScan* self;
    uint64_t base;
  } ctx{this, stream_offset_};
  auto on_match = [](unsigned id, unsigned long long, unsigned long long to, unsigned,
                     void* p) -> int {
    auto* c = static_cast<Context*>(p);
    if (id == c->self->compiled_->spark_id() && c->self->spark_seen_) return 0;
    auto at = static_cast<uint32_t>(to - 1 - c->base);
    // Matches of one line arrive together; only a new end offset is worth recording.
    if (c->self->flags_.empty() || c->self->flags_.back() != at) c->self->flags_.push_back(at);
    return 0;
  };
  stream_offset_ += chunk.size();
  if (hs_scan_stream(stream_, chunk.data(), static_cast<unsigned>(chunk.size()), 0, scratch_,
                     on_match, &ctx) != HS_SUCCESS) {
    // Cannot happen with a valid stream; fall back to the per-line path for good.
    hs_close_stream(stream_, scratch_, nullptr, nullptr);
    stream_ = nullptr;
    mode_ = ScanMode::kReference;
    FeedReference(chunk);
    return;
  }
  if (!std::is_sorted(flags_.begin(), flags_.end())) std::sort(flags_.begin(), flags_.end());
  WalkFlagged(chunk);
}

void LogScan::WalkFlagged(std::string_view chunk) {
  const char* data = chunk.data();
  const size_t size = chunk.size();
  const void* first_nl = std::memchr(data, '\n', size);
  if (first_nl == nullptr) {
    if (partial_.size() < kMaxLineBytes) {
      partial_.append(data, std::min(size, kMaxLineBytes - partial_.size()));
    }
    return;
  }
  // The chunk's first line. If it started in an earlier chunk, a literal may span the
  // boundary, so the literal path checks the joined line on its own; the stream path may
  // have flagged it in the earlier chunk (where the match ended), so it takes the line.
  size_t n = static_cast<size_t>(static_cast<const char*>(first_nl) - data);
  bool continued = !partial_.empty();
  if (partial_.size() < kMaxLineBytes) {
    partial_.append(data, std::min(n, kMaxLineBytes - partial_.size()));
  }
  bool flagged = !flags_.empty() && flags_.front() <= n;
  if (continued) flagged = mode_ != ScanMode::kLiteral || LineMayMatter(partial_);
  if (flagged || cur_block_ >= 0 || in_traceback_ || pending_noise_) {
    ProcessLine(partial_);
  } else {
    SkipLine(partial_);
  }
  partial_.clear();
  size_t cur = n + 1;
  const char* last_nl_p = static_cast<const char*>(memrchr(data, '\n', size));
  const size_t end = static_cast<size_t>(last_nl_p - data) + 1;  // complete lines: [cur, end)
  int64_t last_processed = line_no_;
  size_t fi = 0;
  auto process_at = [&](size_t start) {
    const char* e = static_cast<const char*>(std::memchr(data + start, '\n', end - start));
    size_t len = static_cast<size_t>(e - (data + start));
    ProcessLine(std::string_view(data + start, std::min(len, kMaxLineBytes)));
    last_processed = line_no_;
    return start + len + 1;
  };
  // last_text for the lines skipped since the last processed one, the last of them ending at
  // the '\n' at `line_end`: the last whose stripped text is non-empty. Looked for before each
  // processed line too, not only at the chunk's end, since a processed line may have no text
  // of its own and then the skipped line before it is the last one with text.
  auto note_last_skipped = [&](size_t line_end) {
    for (int64_t no = line_no_; no > last_processed; --no) {
      const void* prev = line_end == 0 ? nullptr : memrchr(data, '\n', line_end);
      size_t start =
          prev == nullptr ? 0 : static_cast<size_t>(static_cast<const char*>(prev) - data) + 1;
      std::string_view raw(data + start, std::min(line_end - start, kMaxLineBytes));
      if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
      if (!IsPlatformLine(raw) && !StripRelayPrefix(raw).empty()) {
        last_text_.assign(raw.data(), raw.size());
        last_text_line_ = no;
        return;
      }
      if (prev == nullptr) return;
      line_end = start - 1;
    }
  };
  while (cur < end) {
    if (cur_block_ >= 0 || in_traceback_ || pending_noise_) {
      // Block/traceback continuity and noise inheritance look at every line.
      cur = process_at(cur);
      continue;
    }
    while (fi < flags_.size() && flags_[fi] < cur) ++fi;
    if (fi == flags_.size() || flags_[fi] >= end) {
      line_no_ += static_cast<int64_t>(CountNewlines(data + cur, end - cur));
      cur = end;
      break;
    }
    size_t b = flags_[fi];
    // A flag on a newline byte (a match spanning lines through `\s`) flags the line it ends.
    size_t line_start = cur;
    if (b > cur) {
      const void* prev = memrchr(data + cur, '\n', b - cur);
      if (prev != nullptr)
        line_start = static_cast<size_t>(static_cast<const char*>(prev) - data) + 1;
    }
    line_no_ += static_cast<int64_t>(CountNewlines(data + cur, line_start - cur));
    if (line_start > cur) note_last_skipped(line_start - 1);
    cur = process_at(line_start);
  }
  if (line_no_ > last_processed) note_last_skipped(end - 1);
  if (end < size) partial_.append(data + end, std::min(size - end, kMaxLineBytes));
}

bool LogScan::LineMayMatter(std::string_view line) {
  line_flags_.clear();
  compiled_->prefilter(!spark_seen_).Find(line.data(), line.size(), &line_flags_);
  if (!line_flags_.empty()) return true;
  hs_database* fallback = compiled_->fallback_database();
  if (fallback == nullptr) return false;
  auto stop = [](unsigned, unsigned long long, unsigned long long, unsigned, void*) -> int {
    return 1;  // the first match is enough
  };
  return hs_scan(fallback, line.data(), static_cast<unsigned>(line.size()), 0, scratch_, stop,
                 nullptr) != HS_SUCCESS;
}

void LogScan::SkipLine(std::string_view raw) {
  // What ProcessLine does with a line that holds nothing it looks for, outside any block.
  ++line_no_;
  if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  if (!IsPlatformLine(raw) && !StripRelayPrefix(raw).empty()) {
    last_text_.assign(raw.data(), std::min(raw.size(), kMaxLineBytes));
    last_text_line_ = line_no_;
  }
}

void LogScan::FeedReference(std::string_view chunk) {
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
  ++lines_examined_;
  if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  std::string_view text = StripRelayPrefix(raw);
  if (!text.empty() && !IsPlatformLine(raw)) {
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
    bool matched_cause = std::any_of(hit.signals.begin(), hit.signals.end(),
                                     [](const Signal& s) { return s.kind == PatternKind::kCause; });
    if (wrapper) {
      hit.signals.push_back(
          Signal{"python.py4j_wrapper", "", 10, false, "", PatternKind::kWrapper, Resolve::kNone});
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
