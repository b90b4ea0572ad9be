#include "control/attempt_diagnosis.h"

#include <boost/json.hpp>

namespace tug::control {

std::string TaxonomyComponent(const std::string& component) {
  if (component == "main") return "batch-container";
  if (component.rfind("executor", 0) == 0) return "executor";
  return component;
}

std::string DiagnoseAttempt(const diagnose::Diagnoser& diagnoser, logs::LogStore& logs,
                            const Attempt& attempt, AttemptStatus status, const Outcome& outcome) {
  // A LOST attempt's process died with its host or supervisor: its logs stop mid-way and
  // would be read as the job's own failure. The outcome message says what happened.
  if (status != AttemptStatus::kFailed) return "";
  std::vector<std::unique_ptr<diagnose::LogScan>> scans;
  auto components = logs.Components(attempt.run_id, attempt.id);
  if (components.ok()) {
    for (const std::string& component : *components) {
      auto scan = diagnoser.Start(TaxonomyComponent(component));
      int64_t offset = 0;
      while (true) {
        auto chunk = logs.Read(attempt.run_id, attempt.id, component, offset, 256 * 1024);
        if (!chunk.ok() || chunk->data.empty()) break;
        offset = chunk->next_offset;
        // The text as users read it (`tug logs`), so line numbers match what they see.
        scan->Feed(logs::StripLinePrefixes(chunk->data));
      }
      scan->Finish();
      scans.push_back(std::move(scan));
    }
  }
  diagnose::Facts facts;
  facts.exit_code = outcome.exit_code;
  facts.reason = outcome.reason;
  facts.component = "batch-container";
  std::vector<const diagnose::LogScan*> view;
  for (const auto& s : scans) view.push_back(s.get());
  diagnose::Diagnosis d = diagnoser.Decide(view, facts);
  // Report our component names (the log API's), not the taxonomy's.
  auto ours = [&](diagnose::Diagnosis::Line& line) {
    if (line.component == "batch-container") line.component = "main";
  };
  ours(d.root_cause);
  for (auto& h : d.highlights) ours(h);
  return boost::json::serialize(diagnose::ToJson(d));
}

}  // namespace tug::control
