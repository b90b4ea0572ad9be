#pragma once
/// Helpers shared by the controller's translation units (controller.cpp: the loops and launch;
/// controller_updates.cpp: engine updates into the store). Not part of the control surface.
#include "core/error.h"

namespace tug::control::internal {

// The database down or busy past its timeout: a later retry may succeed. (kInternal is not:
// a damaged row would hold every later update back forever.)
inline bool Transient(const Error& e) { return e.code() == Code::kUnavailable; }
inline bool Transient(const Status& st) { return !st.ok() && Transient(st.error()); }

}  // namespace tug::control::internal
