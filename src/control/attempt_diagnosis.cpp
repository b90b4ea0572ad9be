#include "control/attempt_diagnosis.h"

#include <boost/json.hpp>

#include "core/json.h"

namespace tug::control {

std::string TaxonomyComponent(const std::string& component) {
  // Executors keep their number ("executor-1"): the diagnoser compares roles, and the root
  // cause then names the executor whose log it is in.
  if (component == "main") return "batch-container";
  return component;
}

namespace {

// Platform evidence of a multi-pod attempt (Spark), strongest first: executors that failed
// while the driver ran (OOM kills before other failures), then the driver, then spark-submit.
std::vector<diagnose::ContainerOutcome> ComponentFacts(const std::vector<ComponentStatus>& comps) {
  std::vector<diagnose::ContainerOutcome> out;
  auto add = [&](const ComponentStatus& c) {
    out.push_back({c.name, c.pod, c.exit_code, c.reason});
  };
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& c : comps) {
      if (!c.evidence) continue;
      bool oom = c.reason == "OOMKilled" || (c.exit_code && *c.exit_code == 137);
      if ((pass == 0) == oom) add(c);
    }
  }
  for (const char* role : {"driver", "controller"}) {
    for (const auto& c : comps) {
      if (c.name == role && c.state == "failed") add(c);
    }
  }
  return out;
}

}  // namespace

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
  if (auto comps = ComponentsFromJson(attempt.components); comps.ok() && !comps->empty()) {
    facts.component = "driver";
    facts.containers = ComponentFacts(*comps);
  }
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
