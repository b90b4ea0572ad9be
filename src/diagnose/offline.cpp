#include "diagnose/offline.h"

#include "core/json.h"
#include "diagnose/diagnoser.h"
#include "diagnose/log_file.h"

namespace tug::diagnose {

int DiagnoseFiles(const OfflineOptions& options, std::ostream& out, std::ostream& err) {
  auto diagnoser = Diagnoser::CreateBuiltin();
  if (!diagnoser.ok()) {
    err << "error: built-in catalog: " << diagnoser.error().message() << "\n";
    return 2;
  }
  if (options.files.empty()) {
    err << "error: no log files given; pass one or more paths\n";
    return 1;
  }
  std::vector<std::unique_ptr<LogScan>> scans;
  for (const std::string& path : options.files) {
    auto scan = diagnoser->Start(options.component);
    // 256 KiB: fewer read() calls than 64 KiB, and a chunk still fits the core's L2 cache
    // for the scanner's passes over it (docs/benchmarks.md, issue 24).
    Status read = ReadLogFile(
        path, [&](std::string_view chunk) { scan->Feed(chunk); }, size_t{256} << 10);
    if (!read.ok()) {
      err << "error: " << read.error().message();
      if (!read.error().detail().empty()) err << ": " << read.error().detail();
      err << "\n";
      return 1;
    }
    scan->Finish();
    scans.push_back(std::move(scan));
  }
  std::vector<const LogScan*> views;
  for (const auto& s : scans) views.push_back(s.get());
  Facts facts;
  facts.exit_code = options.exit_code;
  facts.reason = options.reason;
  facts.component = options.component;
  Diagnosis d = diagnoser->Decide(views, facts);
  if (options.json) {
    out << Serialize(ToJson(d)) << "\n";
    return 0;
  }
  out << "class:       " << d.cls << "\n"
      << "retryable:   " << (d.retryable ? "yes" : "no") << "\n"
      << "root cause:  " << d.root_cause.component << ":" << d.root_cause.line << ": "
      << d.root_cause.text << "\n"
      << "remediation: " << d.remediation << "\n"
      << "summary:     " << d.summary << "\n";
  if (d.highlights.size() > 1) {
    out << "highlights:\n";
    for (const auto& h : d.highlights) {
      out << "  " << h.component << ":" << h.line << ": " << h.text.substr(0, 300) << "\n";
    }
  }
  return 0;
}

}  // namespace tug::diagnose
