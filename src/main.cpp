#include <string_view>

#include "cli/cli.h"
#include "core/crash_report.h"
#include "serve.h"
#include "shim/shim.h"

int main(int argc, char** argv) {
  // The local engine starts each attempt under `tug __shim DIR` (a supervisor that outlives
  // the server); it is not a user command.
  if (argc >= 2 && std::string_view(argv[1]) == "__shim") {
    return tug::engine::local::RunShim(argc, argv);
  }
  // A crash leaves its stack on stderr (the server's log), not just a line in dmesg.
  tug::InstallCrashReport();
  return tug::cli::Main(argc, argv, &tug::Serve);
}
