#include "diagnose/scanner.h"

#include <hs/hs.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
    } else if (c == '-' || c == '/' || c == '.' || c == ',' || c == 'T' || c == 'Z' || c == '+') {
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
  static constexpr std::string_view kLevels[] = {
      "SPARK:WARN", "SPARK:ERROR", "SPARK:INFO", "WARNING", "ERROR", "FATAL",
      "SEVERE",     "CRITICAL",    "DEBUG",      "TRACE",   "INFO",  "WARN"};
  for (std::string_view lv : kLevels) {
    if (StartsWith(s, lv) && (s.size() == lv.size() || s[lv.size()] == ' ' || s[lv.size()] == ':' ||
                              s[lv.size()] == '\t')) {
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
    if (simple.size() >= suffix.size() && simple.substr(simple.size() - suffix.size()) == suffix) {
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
    if (simple.size() >= suffix.size() && simple.substr(simple.size() - suffix.size()) == suffix) {
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

}  // namespace tug::diagnose
