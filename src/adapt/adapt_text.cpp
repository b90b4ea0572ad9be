#include "adapt/adapt_internal.h"

#include <algorithm>
#include <cctype>
#include <iterator>

#include <fmt/format.h>
#include <boost/json/parse.hpp>

#include "core/quantity.h"

namespace tug::adapt::internal {

// ---------------------------------------------------------------- text helpers

std::string_view TrimView(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

/// The text as shown in a sentence: trimmed, one line, at most ~160 bytes (cut on a UTF-8
/// boundary, "..." appended).
std::string Shorten(std::string_view text, size_t max) {
  std::string_view s = TrimView(text);
  if (size_t nl = s.find_first_of("\r\n"); nl != std::string_view::npos) {
    s = TrimView(s.substr(0, nl));
  }
  if (s.size() <= max) return std::string(s);
  size_t cut = max;
  // Do not split a multi-byte character: back up over continuation bytes.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(TrimView(s.substr(0, cut))) + "...";
}

/// Root-cause lines compare equal when they differ only in numbers (task ids, timestamps,
/// sizes): every run of digits becomes '#'.
std::string NormalizeLine(std::string_view text) {
  std::string_view s = TrimView(text);
  std::string out;
  out.reserve(s.size());
  bool in_digits = false;
  for (char c : s) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      if (!in_digits) out += '#';
      in_digits = true;
    } else {
      out += c;
      in_digits = false;
    }
  }
  return out;
}

bool ContainsNoCase(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

/// " (text)" or "" when there is no text.
std::string Paren(std::string_view text) {
  std::string s = Shorten(text);
  return s.empty() ? std::string() : " (" + s + ")";
}

/// Memory for sentences: FormatMemory, but half gibibytes read "1.5Gi" rather than "1536Mi".
std::string HumanMemory(int64_t bytes) {
  constexpr int64_t kGi = int64_t{1} << 30;
  if (bytes > kGi && bytes % kGi != 0 && bytes % (kGi / 2) == 0) {
    return fmt::format("{}.5Gi", bytes / kGi);
  }
  return FormatMemory(bytes);
}

std::string Percent(double rate) { return fmt::format("{:.0f}%", rate * 100.0); }

std::string Ordinal(int n) {
  int mod100 = n % 100;
  const char* suffix = "th";
  if (mod100 < 11 || mod100 > 13) {
    if (n % 10 == 1) suffix = "st";
    if (n % 10 == 2) suffix = "nd";
    if (n % 10 == 3) suffix = "rd";
  }
  return fmt::format("{}{}", n, suffix);
}

/// A delay for people: whole seconds, at least 1s when there is any delay.
std::string FormatDelay(Micros delay) {
  int64_t secs = (delay + kMicrosPerSecond / 2) / kMicrosPerSecond;
  if (delay > 0 && secs == 0) secs = 1;
  return FormatDuration(secs);
}

// ---------------------------------------------------------------- diagnosis

std::string StringAt(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->get_string());
}

/// The diagnoser's JSON; malformed or empty text is no diagnosis.
Diagnosis ParseDiagnosis(const std::string& text) {
  Diagnosis d;
  if (TrimView(text).empty()) return d;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return d;
  const boost::json::object& o = v.get_object();
  d.cls = StringAt(o, "class");
  if (d.cls.empty()) return d;
  d.present = true;
  if (const boost::json::value* r = o.if_contains("retryable"); r != nullptr && r->is_bool()) {
    d.retryable = r->get_bool();
  }
  if (const boost::json::value* rc = o.if_contains("root_cause");
      rc != nullptr && rc->is_object()) {
    d.component = StringAt(rc->get_object(), "component");
    d.text = StringAt(rc->get_object(), "text");
  }
  // The component that failed (an executor OOMKilled) when the platform named it; the root
  // cause line may sit in another component's log (the driver's "Lost executor 1 ...").
  if (std::string failed = StringAt(o, "component"); !failed.empty()) d.component = failed;
  d.remediation = StringAt(o, "remediation");
  return d;
}

// ---------------------------------------------------------------- classification

std::span<const std::string_view> DiagnosedClasses() {
  static constexpr std::string_view kClasses[] = {"executor_oom",
                                                  "executor_container_oom",
                                                  "driver_oom",
                                                  "driver_max_result_size",
                                                  "spark_memory_acquire_oom",
                                                  "shuffle_fetch_failure",
                                                  "node_loss",
                                                  "executor_lost_ambiguous",
                                                  "disk_full",
                                                  "python_worker_crash",
                                                  "user_code_error",
                                                  "data_error",
                                                  "transient_dependency",
                                                  "timeout",
                                                  "k8s_scheduling",
                                                  "k8s_image_pull",
                                                  "config_error",
                                                  "batch_container_oom",
                                                  "benign_noise"};
  return kClasses;
}

bool IsKnownClass(std::string_view c) {
  if (c == "lost" || c == "launch_failed") return true;  // the controller's, not a diagnosis's
  auto classes = DiagnosedClasses();
  return std::find(classes.begin(), classes.end(), c) != classes.end();
}

/// Classes whose failure a bigger container can fix even when the diagnoser called the
/// attempt not retryable (it does so after repeated identical task failures); the caps and
/// the determinism stop bound them instead.
bool IsMemoryGrowthClass(std::string_view c) {
  return c == "executor_oom" || c == "executor_container_oom" || c == "spark_memory_acquire_oom" ||
         c == "batch_container_oom";
}

/// Exempt from the "same failure twice" stop (failure-taxonomy: "unless the class is transient").
bool IsTransientClass(std::string_view c) {
  return c == "transient_dependency" || c == "k8s_scheduling" || c == "lost" ||
         c == "launch_failed" || c == "node_loss";
}

/// Registry throttling and timeouts are worth a retry; NotFound / unauthorized are not.
bool ImagePullRetryable(std::string_view text) {
  return ContainsNoCase(text, "429") || ContainsNoCase(text, "toomanyrequests") ||
         ContainsNoCase(text, "too many requests") || ContainsNoCase(text, "timeout") ||
         ContainsNoCase(text, "timed out");
}

bool OutcomeOomKilled(const Attempt& a) {
  return a.outcome.has_value() &&
         (a.outcome->reason == reason::kOomKilled || a.outcome->exit_code == 137);
}

Failure Classify(const Definition& spec, const Attempt& a) {
  Failure f;
  f.diag = ParseDiagnosis(a.diagnosis);
  f.text = f.diag.text;
  if (a.status == AttemptStatus::kLost) {
    f.cls = "lost";
  } else if (a.outcome.has_value() && a.outcome->reason == reason::kLaunchFailed) {
    f.cls = "launch_failed";
    if (f.text.empty()) f.text = a.outcome->message;
  } else if (f.diag.present) {
    f.cls = f.diag.cls;
  } else if (OutcomeOomKilled(a) && spec.kind != "spark") {
    // A batch container killed by the kernel is the one case the outcome alone explains.
    f.cls = "batch_container_oom";
  } else {
    f.cls = "unknown";
    if (a.outcome.has_value()) f.text = a.outcome->message;
  }
  f.infra = f.cls == "node_loss" || f.cls == "lost" || f.cls == "launch_failed" ||
            f.cls == "k8s_scheduling" || (f.cls == "k8s_image_pull" && ImagePullRetryable(f.text));
  return f;
}

bool Counts(const Attempt& a) {
  return a.status == AttemptStatus::kFailed || a.status == AttemptStatus::kLost;
}

}  // namespace tug::adapt::internal
