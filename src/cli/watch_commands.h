#pragma once
// Live views over the server's event streams (server-sent events, docs/api.md "Live updates"):
// `tug events RUN --follow` and `tug get runs --watch`. Both reconnect after a dropped
// connection and resume with Last-Event-ID, so nothing is missed or printed twice.
#include <string>

#include "cli/client.h"

namespace tug::cli {

/// Prints the run's events as they arrive until the run ended; exit 0 then.
int FollowEventsCmd(const Globals& g, const std::string& id);

struct WatchRunsArgs {
  std::string definition;  // "": any
  std::string owner;       // "": any
  std::string query;       // the first listing's query string ("" or "?..."), all filters
};
/// Lists the runs, then prints a run's row again each time it changes, until interrupted.
int WatchRunsCmd(const Globals& g, const WatchRunsArgs& a);

}  // namespace tug::cli
