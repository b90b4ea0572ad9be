#pragma once
/// Offline diagnosis of log files for `tug diagnose`: reads each file in 256 KiB chunks (never
/// whole; gzip data is gunzipped on the fly, log_file.h), one LogScan per file in the order
/// given, and prints the Diagnosis.
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace tug::diagnose {

struct OfflineOptions {
  std::vector<std::string> files;
  std::string component = "main";
  std::optional<int> exit_code;
  std::string reason;
  bool json = false;
};

/// Human output, or with `json` one object: class, retryable, root_cause {component, line,
/// text}, highlights, remediation, summary. Returns 0 on success, 1 on an I/O error or corrupt
/// gzip data (message on `err`), 2 if the built-in catalog does not load (a build bug).
int DiagnoseFiles(const OfflineOptions& options, std::ostream& out, std::ostream& err);

}  // namespace tug::diagnose
