#include "diagnose/byte_frequency.h"

#include <algorithm>
#include <vector>

namespace tug::diagnose {
namespace {

enum Class { kLower, kUpper, kDigit, kSpace, kOther, kClasses };

Class ClassOf(uint8_t b) {
  if (b >= 'a' && b <= 'z') return kLower;
  if (b >= 'A' && b <= 'Z') return kUpper;
  if (b >= '0' && b <= '9') return kDigit;
  if (b == ' ' || b == '\t') return kSpace;
  return kOther;
}

// P(class of the next byte | class of this one): words run on, identifiers mix cases,
// numbers run on, a space starts anything. Rough guesses from reading log text; what matters
// is the order (in-word continuations are likely, case and class changes are not).
constexpr double kNext[kClasses][kClasses] = {
    //  lower  upper  digit  space  other
    {0.78, 0.03, 0.01, 0.12, 0.06},  // after lower
    {0.55, 0.30, 0.02, 0.06, 0.07},  // after upper
    {0.03, 0.02, 0.60, 0.15, 0.20},  // after digit
    {0.40, 0.20, 0.15, 0.10, 0.15},  // after space
    {0.25, 0.15, 0.20, 0.20, 0.20},  // after other
};

struct ClassTotals {
  std::array<double, kClasses> total{};
  ClassTotals() {
    for (int b = 0; b < 256; ++b) {
      total[ClassOf(static_cast<uint8_t>(b))] += ByteProbability(static_cast<uint8_t>(b));
    }
  }
};

// Lower-case and capitalised forms are both listed; matching is case-sensitive. `task`,
// `stage` and `block` are on most lines of a Spark driver ("Starting task 3.0 in stage 2.0",
// "Getting 12 non-empty blocks"); sizes and times are logged in most messages; the short words
// of English prose ("was", "the", "not") are
// in every message. CodeGenerator:
// Spark's whole-stage codegen logs "CodeGenerator: Code generated in 12 ms" for every generated
// class, tens of thousands of lines a day in a busy driver.
constexpr std::string_view kCommonWords[] = {
    "memory",        "Memory",       "broadcast",   "Broadcast",   "scheduler",  "Scheduler",
    "resource",      "Resource",     "executor",    "Executor",    "container",  "Container",
    "manager",       "Manager",      "storage",     "Storage",     "shuffle",    "Shuffle",
    "partition",     "Partition",    "application", "Application", "request",    "Request",
    "status",        "Status",       "driver",      "Driver",      "context",    "Context",
    "session",       "Session",      "connection",  "Connection",  "running",    "Running",
    "finished",      "Finished",     "started",     "Started",     "starting",   "Starting",
    "submitted",     "Submitted",    "submitting",  "Submitting",  "registered", "Registered",
    "removed",       "Removed",      "removing",    "Removing",    "stored",     "Stored",
    "version",       "Version",      "thread",      "Thread",      "worker",     "Worker",
    "server",        "Server",       "client",      "Client",      "service",    "Service",
    "cluster",       "Cluster",      "namespace",   "kubernetes",  "Kubernetes", "configuration",
    "Configuration", "successfully", "completed",   "Completed",   "default",    "Default",
    "received",      "Received",     "message",     "Message",     "waiting",    "Waiting",
    "available",     "Available",    "generated",   "Generated",   "including",  "estimated",
    "directory",     "Directory",    "location",    "reading",     "writing",    "written",
    "process",       "Process",      "output",      "Output",      "number",     "Number",
    "because",       "between",      "current",     "Current",     "timeout",    "Timeout",
    "failed",        "Failed",       "cannot",      "should",      "instance",   "Instance",
    "CodeGenerator", "task",         "Task",        "stage",       "Stage",      "block",
    "Block",         "was",          "has",         "the",         "for",        "and",
    "not",           "with",         "from",        "are",         "been",       "this",
    "that",          "bytes",        "Bytes",       "size",        "time",
};

}  // namespace

bool SharesCommonWord(std::string_view s) {
  constexpr size_t kOverlap = 6;
  // Every 6-byte piece of every common word, sorted, built once.
  static const std::vector<std::string_view> pieces = [] {
    std::vector<std::string_view> out;
    for (std::string_view w : kCommonWords) {
      for (size_t i = 0; i + kOverlap <= w.size(); ++i) out.push_back(w.substr(i, kOverlap));
    }
    std::sort(out.begin(), out.end());
    return out;
  }();
  for (size_t i = 0; i + kOverlap <= s.size(); ++i) {
    if (std::binary_search(pieces.begin(), pieces.end(), s.substr(i, kOverlap))) return true;
  }
  return false;
}

double TextProbability(std::string_view s) {
  static const ClassTotals totals;
  double p = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    auto b = static_cast<uint8_t>(s[i]);
    Class c = ClassOf(b);
    double within = ByteProbability(b) / totals.total[c];
    p *= i == 0 ? ByteProbability(b) : kNext[ClassOf(static_cast<uint8_t>(s[i - 1]))][c] * within;
  }
  return p;
}

double SequenceProbability(const std::bitset<256>* sets, size_t n) {
  static const ClassTotals totals;
  // p[c]: probability that the positions so far pass and the last byte is of class c.
  std::array<double, kClasses> p{};
  for (size_t k = 0; k < n; ++k) {
    std::array<double, kClasses> in{};  // per class: accepted share of its bytes (or P at k=0)
    for (size_t b = sets[k]._Find_first(); b < 256; b = sets[k]._Find_next(b)) {
      auto byte = static_cast<uint8_t>(b);
      in[ClassOf(byte)] +=
          k == 0 ? ByteProbability(byte) : ByteProbability(byte) / totals.total[ClassOf(byte)];
    }
    if (k == 0) {
      p = in;
      continue;
    }
    std::array<double, kClasses> next{};
    for (int c = 0; c < kClasses; ++c) {
      for (int d = 0; d < kClasses; ++d) next[d] += p[c] * kNext[c][d] * std::min(in[d], 1.0);
    }
    p = next;
  }
  double sum = 0;
  for (double x : p) sum += x;
  return sum;
}

const std::vector<std::string>& CommonWordPieces() {
  static const std::vector<std::string> pieces = [] {
    std::vector<std::string> out;
    for (std::string_view w : kCommonWords) {
      std::string spaced = " " + std::string(w) + " ";
      for (size_t i = 0; i + 4 <= spaced.size(); ++i) out.push_back(spaced.substr(i, 4));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }();
  return pieces;
}

bool InCommonWord(std::string_view s) {
  if (s.empty()) return false;
  for (std::string_view w : kCommonWords) {
    if (w.find(s) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace tug::diagnose
