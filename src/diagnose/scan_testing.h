#pragma once
/// Test helpers shared by the scanner tests (not part of tug_diagnose): scanning a log in a
/// given mode and chunking, a canonical text of everything a scan found (compared exactly
/// between modes), and the dev corpus's log excerpts.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "diagnose/diagnoser.h"
#include "diagnose/scanner.h"

namespace tug::diagnose::testing {

/// The per-line reference path, fed 7 bytes at a time.
inline std::unique_ptr<LogScan> ScanReference(const Diagnoser& d, std::string_view log,
                                              std::string component = "driver") {
  auto scan = d.Start(std::move(component));
  scan->SetMode(ScanMode::kReference);
  for (size_t i = 0; i < log.size(); i += 7) scan->Feed(log.substr(i, 7));
  scan->Finish();
  return scan;
}

/// `mode`, fed in chunks of 1..max_chunk bytes drawn from `seed`.
inline std::unique_ptr<LogScan> ScanRandomChunks(const Diagnoser& d, std::string_view log,
                                                 uint64_t seed, size_t max_chunk,
                                                 ScanMode mode = ScanMode::kLiteral,
                                                 std::string component = "driver") {
  std::mt19937_64 rng(seed);
  auto scan = d.Start(std::move(component));
  scan->SetMode(mode);
  for (size_t i = 0; i < log.size();) {
    size_t n = 1 + rng() % max_chunk;
    scan->Feed(log.substr(i, n));
    i += n;
  }
  scan->Finish();
  return scan;
}

/// Everything a scan found, one item per line: hits with their signals and context, blocks,
/// counters and the last lines; two scans found the same iff the texts are equal.
inline std::string Describe(const LogScan& s) {
  std::ostringstream o;
  o << "lines=" << s.lines() << " spark=" << s.spark_seen() << " repeats=" << s.max_task_repeats()
    << " last=" << s.last_text_line() << ":" << s.last_text()
    << " first_exc=" << s.first_exception_line() << ":" << s.first_exception_text() << "\n";
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

/// The `log` fields of the dev corpus (/work/shared/corpus/failures-dev.jsonl, or
/// $TUG_SOURCE_DIR/../shared/corpus/...); empty if it is not there.
inline std::vector<std::string> CorpusLogs() {
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

}  // namespace tug::diagnose::testing
