#pragma once
// `tug sim`: the fleet simulator on the command line (no server involved). Replays a generated
// day or a trace file through policies and prints the comparison; `tug sim generate` writes a
// generated trace. See docs/fleet.md.
#include <string>
#include <vector>

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's namespace
class App;
}

namespace tug::cli {

struct SimArgs {
  bool generate = false;
  std::string trace;
  std::string format = "tugboat";  // tugboat | alibaba
  std::string policies = "a,b,c";
  std::string output = "table";  // table | json | markdown
  std::string svg_dir;
  std::string write_trace;
  bool series = false;
  bool list_params = false;
  // Generator.
  int jobs = -1;  // Spark runs (-1: the generator's default)
  int container_jobs = -1;
  int users = -1;
  long long seed = 1;
  std::vector<std::string> sets;  // key=value generator parameters
  // Cluster.
  std::string provisioning = "180s";
  std::string climate;
  int max_nodes = 0;
  double spot_fraction = 0.35;
  // Team queues (policies with +queues=on|fifo): NAME:key=value,... each.
  std::vector<std::string> queues;
  // Alibaba.
  std::string alibaba_memory = "64Gi";
  double alibaba_cpu_units = 100;
  long long max_jobs = 0;
  // Policies simulated at once (0: one per core).
  int threads = 0;
  // `tug sim generate -o FILE`
  std::string generate_out;
  CLI::App* generate_cmd = nullptr;
};

/// Registers `sim` (and `sim generate`) on the app.
CLI::App* AddSimCommand(CLI::App& app, SimArgs& args);
/// Runs it; returns the process exit code (0, 1 on errors, 2 on usage errors).
int SimCmd(const SimArgs& args);

}  // namespace tug::cli
