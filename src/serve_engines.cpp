// `tug server`: the engines' settings and clients from the server config.
#include <unistd.h>

#include <climits>
#include <memory>

#include "aws/credentials.h"
#include "core/log.h"
#include "serve_internal.h"

namespace tug::serve_internal {
namespace {

std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "/proc/self/exe";
  return {buf, static_cast<size_t>(n)};
}

}  // namespace

engine::spark::SparkSettings SparkSettingsFor(const server::Config& config) {
  engine::spark::SparkSettings s;
  s.images = config.spark.versions;
  s.master = config.spark.master;
  s.spark_submit = config.spark.spark_submit;
  s.event_log_dir = config.spark.event_log_dir;
  s.history_url = config.spark.history_url;
  s.submit_service_account = config.spark.submit_service_account;
  s.driver_service_account = config.spark.driver_service_account;
  s.controller_memory_bytes = config.spark.controller_memory_bytes;
  s.controller_cpu_millis = config.spark.controller_cpu_millis;
  s.ui_port = static_cast<int>(config.spark.ui_port);
  s.decommission_on_spot = config.spark.decommission_on_spot;
  s.gpu_discovery_script = config.spark.gpu_discovery_script;
  return s;
}

engine::emr::EmrSettings EmrSettingsFor(const server::Config& config) {
  engine::emr::EmrSettings s;
  const server::EmrConfig& e = config.emr;
  s.virtual_cluster_id = e.virtual_cluster_id;
  s.execution_role_arn = e.execution_role_arn;
  s.release_labels = e.release_labels;
  s.default_release_label = e.default_release_label;
  s.log_uri = e.log_uri();
  s.capacity_label = e.capacity_label;
  s.spot_value = e.spot_value;
  s.on_demand_value = e.on_demand_value;
  return s;
}

// A dry run without an emr section: placeholders that say which setting would fill them.
engine::emr::EmrSettings EmrPlaceholders(const std::string& spark_version) {
  engine::emr::EmrSettings s;
  s.virtual_cluster_id = "<emr.virtual_cluster_id>";
  s.execution_role_arn = "<emr.execution_role_arn>";
  s.default_release_label = "<emr.release_labels[\"" + spark_version + "\"]>";
  s.log_uri = "s3://<emr.log_bucket>/<emr.log_prefix>";
  return s;
}

// One AWS service client of the emr section (region, endpoint override, the default chain).
Result<std::unique_ptr<aws::AwsClient>> EmrAwsClient(const server::EmrConfig& e,
                                                     const std::string& service,
                                                     const std::string& endpoint,
                                                     const Clock& clock) {
  aws::AwsClientOptions o;
  o.service = service;
  o.region = e.region;
  o.endpoint = endpoint;  // "" : the service's regional endpoint
  o.credentials = std::make_shared<aws::DefaultCredentialsChain>(aws::ProcessEnv());
  o.clock = &clock;
  return aws::AwsClient::Create(o);
}

// The local engine's shim: the configured path, else `tug-shim` beside this binary (a small
// static executable that starts in well under a millisecond), else this binary's own `__shim`
// mode, which works but loads every library of the server on each launch.
std::vector<std::string> ShimCommand(const std::string& configured) {
  if (!configured.empty()) return {configured};
  std::string self = SelfExe();
  std::string beside = self.substr(0, self.rfind('/') + 1) + "tug-shim";
  if (::access(beside.c_str(), X_OK) == 0) return {beside};
  log::Warn(
      "tug-shim not found beside tug; launching attempts through `tug __shim`, which is "
      "much slower per launch; install tug-shim next to tug or set engine.shim",
      {{"looked_for", beside}});
  return {self, "__shim"};
}

}  // namespace tug::serve_internal
