#pragma once
// `tug logs`, including --errors (the diagnosis' highlighted lines with context).
#include <string>

#include "cli/client.h"

namespace tug::cli {

struct LogsArgs {
  std::string id;
  bool follow = false;
  bool errors = false;
  std::string attempt;
  std::string component;
  bool timestamps = false;
};

int LogsCmd(const Globals& g, const LogsArgs& a);

}  // namespace tug::cli
