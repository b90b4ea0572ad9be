#pragma once
#include "cli/cli.h"

namespace tug {
/// `tug server`: the composition root, the only place that knows every concrete type.
int Serve(const cli::ServerFlags& flags);
}  // namespace tug
