#pragma once
/// Diagnoses an ended attempt from what it left: its logs (read from the log store in chunks,
/// never whole) and its outcome. Runs on the engine's update thread, before the end is stored,
/// so the diagnosis lands in the same transaction as the outcome.
#include <string>

#include "core/model.h"
#include "diagnose/diagnoser.h"
#include "logs/log_store.h"

namespace tug::control {

/// The diagnosis as a JSON object text (for Attempt::diagnosis); "" when the attempt did not
/// fail (succeeded or stopped) or has no logs and no outcome to go on.
std::string DiagnoseAttempt(const diagnose::Diagnoser& diagnoser, logs::LogStore& logs,
                            const Attempt& attempt, AttemptStatus status, const Outcome& outcome);

/// Taxonomy name of a component ("main" is a plain batch container).
std::string TaxonomyComponent(const std::string& component);

}  // namespace tug::control
