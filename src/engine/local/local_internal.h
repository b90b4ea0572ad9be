#pragma once
/// Helpers shared by the local engine's translation units (local_engine.cpp: watching, adopt,
/// stop, cleanup; local_launch.cpp: launch). Not part of the engine's surface.
#include <string>

#include "core/error.h"
#include "engine/engine.h"
#include "engine/local/proc.h"
#include "engine/local/state_files.h"

namespace tug::engine::local::internal {

/// kInvalidArgument unless `id` is a safe directory name.
[[nodiscard]] Status ValidateAttemptId(const std::string& id);
bool IsDir(const std::string& path);
/// Reaps `pidfd`'s process if it is a child of this process; harmless otherwise.
void ReapIfChild(int pidfd);
Update Started(const std::string& attempt_id, Micros at, const ShimPid& shim);
Update Ended(const std::string& attempt_id, const ShimStatus& st);
/// kNotFound: the attempt's process is gone and left no exit status.
Error Gone(const std::string& attempt_id);
[[nodiscard]] Result<ShimStatus> ReadStatus(const std::string& dir);
[[nodiscard]] Result<ShimPid> ReadShimPid(const std::string& dir);
/// A pidfd for the shim recorded in `shim`, if that very process (pid and start time) is still
/// alive; invalid otherwise. A zombie child of ours is reaped on the way.
UniqueFd OpenLiveShim(const ShimPid& shim);

}  // namespace tug::engine::local::internal
