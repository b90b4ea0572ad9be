#pragma once
/// `tug run`: submit a run of a definition (overrides, template parameters, idempotency key,
/// parent), and optionally wait for it or follow its logs; `--dry-run` prints the plan.
#include <cstdint>
#include <string>
#include <vector>

#include "cli/client.h"

namespace tug::cli {

struct RunArgs {
  std::string name;
  std::vector<std::string> env;
  std::string memory;
  std::string cpu;
  std::string timeout;
  std::string owner;
  std::string group;
  std::string engine;
  std::vector<std::string> params;  // -p NAME=VALUE
  std::string idempotency_key;
  std::string parent;
  int64_t gpu = -1;  // -1: the definition's
  bool wait = false;
  bool follow = false;
  bool dry_run = false;
};

/// The process exit code: 0 once submitted (with --wait/--follow: once the run succeeded; a run
/// that did not: its exit code, or 1); kExitUsage for bad flags or parameters, kExitError
/// (after printing the server's message) for anything refused or unreachable.
int RunCmd(const Globals& g, const RunArgs& a);

}  // namespace tug::cli
