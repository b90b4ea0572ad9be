#include "diagnose/offline.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "core/json.h"
#include "diagnose/diagnoser.h"

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
  std::vector<char> buf(64 * 1024);
  for (const std::string& path : options.files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      err << "error: cannot open '" << path << "': " << std::strerror(errno) << "\n";
      return 1;
    }
    auto scan = diagnoser->Start(options.component);
    while (in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      std::streamsize n = in.gcount();
      if (n > 0) scan->Feed(std::string_view(buf.data(), static_cast<size_t>(n)));
    }
    if (in.bad()) {
      err << "error: reading '" << path << "' failed: " << std::strerror(errno) << "\n";
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
