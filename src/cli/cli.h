#pragma once
/// The `tug` command line: client subcommands (apply, run, get, logs, stop, events) that talk
/// to a server over HTTP only, plus `tug server`, whose body the composition root supplies.
#include <functional>
#include <string>

namespace tug::cli {

/// Flags of `tug server`; empty strings mean "not given" (config file/env/defaults apply).
struct ServerFlags {
  std::string listen;
  std::string data_dir;
  std::string config_file;
  std::string log_level;
  std::string cgroup;
};

using ServeFn = std::function<int(const ServerFlags&)>;

/// Parses argv and runs the subcommand; returns the process exit code.
int Main(int argc, char** argv, const ServeFn& serve);

}  // namespace tug::cli
