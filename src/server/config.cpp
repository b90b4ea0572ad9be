#include "server/config.h"

#include <charconv>
#include <cstdlib>
#include <regex>

#include <unistd.h>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/quantity.h"
#include "core/yaml.h"
#include "server/config_keys.h"

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace json = boost::json;

namespace tug::server {
namespace {

std::string Text(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  return json::serialize(v);
}

Status Walk(Config& config, const json::object& obj, const std::string& prefix,
            const std::string& source) {
  for (const auto& kv : obj) {
    std::string path =
        prefix.empty() ? std::string(kv.key()) : prefix + "." + std::string(kv.key());
    if (path == "clusters") {
      RETURN_IF_ERROR(ApplyClustersYaml(config, kv.value(), source));
      continue;
    }
    if (path == "queues") {
      RETURN_IF_ERROR(ApplyQueuesYaml(config, kv.value(), source));
      continue;
    }
    if (path == "queue_capacity") {
      RETURN_IF_ERROR(ApplyQueueCapacityYaml(config, kv.value(), source));
      continue;
    }
    if (path == "auth") {
      RETURN_IF_ERROR(ApplyAuthYaml(config.auth, kv.value(), source));
      continue;
    }
    if (path == "cost") {
      RETURN_IF_ERROR(ApplyCostYaml(config.cost, kv.value(), source));
      continue;
    }
    if (path == "emr.release_labels") {
      // Spark version → EMR release label; a file's map replaces what came before.
      if (!kv.value().is_object()) {
        return InvalidArgument(fmt::format(
            "{}: emr.release_labels must map Spark versions to EMR release labels, e.g. "
            "{{\"3.5\": emr-7.1.0-latest}}",
            source));
      }
      config.emr.release_labels.clear();
      for (const auto& v : kv.value().as_object()) {
        if (!v.value().is_string() || v.value().as_string().empty()) {
          return InvalidArgument(fmt::format(
              "{}: emr.release_labels.{} must be an EMR release label, e.g. emr-7.1.0-latest",
              source, std::string(v.key())));
        }
        config.emr.release_labels[std::string(v.key())] = std::string(v.value().as_string());
      }
      continue;
    }
    if (path == "spark.versions") {
      // Version → image; a file's map replaces the defaults.
      if (!kv.value().is_object() || kv.value().as_object().empty()) {
        return InvalidArgument(fmt::format(
            "{}: spark.versions must map versions to images, e.g. {{\"3.5\": apache/spark:3.5.1}}",
            source));
      }
      config.spark.versions.clear();
      for (const auto& v : kv.value().as_object()) {
        std::string image = Text(v.value());
        if (!v.value().is_string() || image.empty()) {
          return InvalidArgument(fmt::format("{}: spark.versions.{} must be an image name", source,
                                             std::string(v.key())));
        }
        config.spark.versions[std::string(v.key())] = image;
      }
      continue;
    }
    if (kv.value().is_object()) {
      RETURN_IF_ERROR(Walk(config, kv.value().as_object(), path, source));
      continue;
    }
    const ConfigKey* key = nullptr;
    for (const auto& k : ConfigKeys()) {
      if (path == k.yaml_path) key = &k;
    }
    if (key == nullptr) {
      std::string known;
      for (const auto& k : ConfigKeys())
        known += std::string(known.empty() ? "" : ", ") + k.yaml_path;
      return InvalidArgument(
          fmt::format("{}: unknown key '{}'; known keys: {}", source, path, known));
    }
    if (auto st = key->set(config, Text(kv.value())); !st.ok()) {
      return InvalidArgument(fmt::format("{}: {}: {}", source, path, st.error().message()));
    }
  }
  return OkStatus();
}

}  // namespace

// A scheduler name as Kubernetes takes it for spec.schedulerName (a DNS-1123 subdomain).
Status CheckSchedulerName(const std::string& v, const std::string& what) {
  bool ok = !v.empty() && v.size() <= 253 && v.front() != '-' && v.front() != '.' &&
            v.back() != '-' && v.back() != '.' &&
            v.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-.") == std::string::npos;
  if (!ok) {
    return InvalidArgument(fmt::format(
        "{} '{}' must be a scheduler's name: lower-case letters, digits, '-' and '.', e.g. "
        "tugboat-binpack",
        what, v));
  }
  return OkStatus();
}

std::string Config::host() const { return listen.substr(0, listen.rfind(':')); }

uint16_t Config::port() const {
  return static_cast<uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1)));
}

Config DefaultConfig() {
  Config c;
  long pages = ::sysconf(_SC_PHYS_PAGES);
  long page_size = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0) {
    c.limits.max_memory_bytes = static_cast<int64_t>(pages) * page_size;
  }
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus > 0) c.limits.max_cpu_millis = static_cast<int64_t>(cpus) * 1000;
  return c;
}

Status ApplyYaml(Config& config, const std::string& yaml_text, const std::string& source_name) {
  ASSIGN_OR_RETURN(auto docs, YamlToJson(yaml_text));
  if (docs.empty()) return OkStatus();
  if (docs.size() > 1 || !docs[0].is_object()) {
    return InvalidArgument(fmt::format("{}: the config must be one YAML map", source_name));
  }
  return Walk(config, docs[0].as_object(), "", source_name);
}

Status ApplyEnv(Config& config, const std::map<std::string, std::string>& env) {
  // TUG_KUBECONFIG: one cluster named "default" from that kubeconfig (when the file configured
  // none); TUG_KUBE_NAMESPACE its namespace.
  if (auto it = env.find("TUG_KUBECONFIG"); it != env.end() && !it->second.empty()) {
    if (config.clusters.empty()) config.clusters.emplace_back();
    config.clusters.front().kubeconfig = it->second;
  }
  if (auto it = env.find("TUG_KUBE_NAMESPACE"); it != env.end() && !it->second.empty()) {
    if (config.clusters.empty()) {
      return InvalidArgument("TUG_KUBE_NAMESPACE needs a cluster (TUG_KUBECONFIG or clusters:)");
    }
    config.clusters.front().namespace_ = it->second;
  }
  RETURN_IF_ERROR(ApplyAuthEnv(config.auth, env));
  RETURN_IF_ERROR(ApplyCostEnv(config.cost, env));
  // The EMR region: the SDKs' variables when the config names none.
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    if (auto it = env.find(name); config.emr.region.empty() && it != env.end()) {
      config.emr.region = it->second;
    }
  }
  for (const auto& k : ConfigKeys()) {
    if (*k.env == '\0') continue;  // file only
    auto it = env.find(k.env);
    if (it == env.end() || it->second.empty()) continue;
    if (auto st = k.set(config, it->second); !st.ok()) {
      return InvalidArgument(fmt::format("{}: {}", k.env, st.error().message()));
    }
  }
  return OkStatus();
}

Status ValidateEmr(const EmrConfig& emr) {
  if (!emr.enabled()) return OkStatus();
  static const std::regex kClusterId("[0-9a-z]{1,64}");
  // The service model's IAMRoleArn pattern.
  static const std::regex kRoleArn(
      R"(arn:(aws[a-zA-Z0-9-]*):iam::(\d{12})?:(role((/)|(/[!-\x7F]+/))[\w+=,.@-]+))");
  static const std::regex kRelease(R"(emr-\d+\.\d+\.\d+(-latest|-\d{8})?)");
  static const std::regex kBucket("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");
  if (emr.virtual_cluster_id.empty()) {
    return InvalidArgument(
        "emr.virtual_cluster_id is not set: name the EMR virtual cluster jobs run on (`aws "
        "emr-containers list-virtual-clusters` shows its id)");
  }
  if (!std::regex_match(emr.virtual_cluster_id, kClusterId)) {
    return InvalidArgument(fmt::format(
        "emr.virtual_cluster_id '{}' is not a virtual cluster id: lower-case letters and digits, "
        "as `aws emr-containers list-virtual-clusters` prints it",
        emr.virtual_cluster_id));
  }
  if (emr.execution_role_arn.empty()) {
    return InvalidArgument(
        "emr.execution_role_arn is not set: name the IAM role the jobs run as, e.g. "
        "arn:aws:iam::123456789012:role/emr-on-eks-jobs");
  }
  if (!std::regex_match(emr.execution_role_arn, kRoleArn)) {
    return InvalidArgument(
        fmt::format("emr.execution_role_arn '{}' is not an IAM role ARN; it looks like "
                    "arn:aws:iam::123456789012:role/emr-on-eks-jobs",
                    emr.execution_role_arn));
  }
  if (emr.region.empty()) {
    return InvalidArgument(
        "emr.region is not set (nor AWS_REGION): name the virtual cluster's region");
  }
  if (emr.release_labels.empty() && emr.default_release_label.empty()) {
    return InvalidArgument(
        "emr needs release labels: map Spark versions to EMR releases under emr.release_labels, "
        "e.g. {\"3.5\": emr-7.1.0-latest}, or set emr.default_release_label");
  }
  auto labels = emr.release_labels;
  if (!emr.default_release_label.empty()) labels["default"] = emr.default_release_label;
  for (const auto& [version, label] : labels) {
    if (!std::regex_match(label, kRelease)) {
      return InvalidArgument(fmt::format(
          "emr release label '{}' (for {}) is not one: EMR's look like emr-7.1.0-latest or "
          "emr-6.15.0-20240105",
          label, version));
    }
  }
  if (emr.log_bucket.empty()) {
    return InvalidArgument(
        "emr.log_bucket is not set: EMR writes the driver and executor logs there and tug reads "
        "them back into the run's logs; name a bucket the execution role may write and tug may "
        "read");
  }
  if (!std::regex_match(emr.log_bucket, kBucket)) {
    return InvalidArgument(fmt::format(
        "emr.log_bucket '{}' is not an S3 bucket name (3-63 lower-case letters, digits, '.', "
        "'-'); give the name without s3://",
        emr.log_bucket));
  }
  return OkStatus();
}

Status ValidateEmrCluster(Config& config) {
  EmrConfig& emr = config.emr;
  if (emr.cluster.empty()) {
    if (!emr.namespace_.empty()) {
      return InvalidArgument(fmt::format(
          "emr.namespace '{}' needs emr.cluster: name the EKS cluster (one of clusters:) the "
          "virtual cluster's namespace is on, or remove emr.namespace",
          emr.namespace_));
    }
    return OkStatus();
  }
  const ClusterConfig* found = nullptr;
  std::string names;
  for (const ClusterConfig& c : config.clusters) {
    if (c.name == emr.cluster) found = &c;
    names += (names.empty() ? "" : ", ") + c.name;
  }
  if (found == nullptr) {
    return InvalidArgument(
        names.empty()
            ? fmt::format("emr.cluster '{}' names no cluster: no clusters are configured; add "
                          "clusters: [{{name: {}, kubeconfig: PATH}}] for the EKS cluster of the "
                          "virtual cluster, or remove emr.cluster",
                          emr.cluster, emr.cluster)
            : fmt::format("emr.cluster '{}' is not one of the configured clusters ({}); add it "
                          "under clusters: with the EKS cluster's kubeconfig, or name one of "
                          "those",
                          emr.cluster, names));
  }
  if (emr.namespace_.empty()) emr.namespace_ = found->namespace_;
  static const std::regex kNamespace("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  if (!std::regex_match(emr.namespace_, kNamespace)) {
    return InvalidArgument(fmt::format(
        "emr.namespace '{}' is not a Kubernetes namespace name (lower-case letters, digits and "
        "'-', at most 63); give the namespace the virtual cluster was created on",
        emr.namespace_));
  }
  return OkStatus();
}

Status ValidateConfig(Config& config) {
  if (config.logs.store == "s3" && config.logs.bucket.empty()) {
    return InvalidArgument("logs.store is s3 but logs.bucket is not set; name the bucket");
  }
  size_t colon = config.listen.rfind(':');
  bool port_ok = colon != std::string::npos && colon + 1 < config.listen.size() &&
                 config.listen.size() - colon - 1 <= 5 &&
                 config.listen.find_first_not_of("0123456789", colon + 1) == std::string::npos;
  if (!port_ok || std::stoi(config.listen.substr(colon + 1)) > 65535) {
    return InvalidArgument(
        fmt::format("listen '{}' must be HOST:PORT, e.g. 127.0.0.1:8080 (port 0 picks a free port)",
                    config.listen));
  }
  std::string host = config.host();
  RETURN_IF_ERROR(ValidateAuth(config.auth, host));
  RETURN_IF_ERROR(ValidateCost(config.cost));
  if (host == "localhost") config.listen = "127.0.0.1:" + config.listen.substr(colon + 1);
  if (config.data_dir.empty()) return InvalidArgument("data_dir must not be empty");
  for (size_t i = 0; i < config.clusters.size(); ++i) {
    const std::string& n = config.clusters[i].name;
    if (ValidateName(n).ok() == false) {
      return InvalidArgument(
          fmt::format("clusters[{}]: name '{}' must be lower-case letters, digits and '-'", i, n));
    }
    for (size_t j = 0; j < i; ++j) {
      if (config.clusters[j].name == n) {
        return InvalidArgument(fmt::format("clusters: the name '{}' is used twice", n));
      }
    }
    // kubernetes.scheduler_name is the default of clusters that name no scheduler of their own.
    if (config.clusters[i].scheduler_name.empty()) {
      config.clusters[i].scheduler_name = config.kube_scheduler_name;
    }
  }
  if (config.engine == "kubernetes" && config.clusters.empty()) {
    return InvalidArgument(
        "engine.driver kubernetes needs a cluster: add clusters: [{name, kubeconfig}] or set "
        "TUG_KUBECONFIG");
  }
  RETURN_IF_ERROR(ValidateEmr(config.emr));
  RETURN_IF_ERROR(ValidateEmrCluster(config));
  if (config.spark_engine == "emr-on-eks" && !config.emr.enabled()) {
    return InvalidArgument(
        "spark.engine emr-on-eks needs the emr section: emr.virtual_cluster_id, "
        "emr.execution_role_arn, emr.release_labels and emr.log_bucket (see docs/emr.md)");
  }
  if (config.usage_source == "prometheus" && config.prometheus_url.empty()) {
    return InvalidArgument(
        "usage.source prometheus needs its address: set usage.prometheus_url or "
        "TUG_PROMETHEUS_URL, e.g. http://prometheus.monitoring:9090");
  }
  if (config.database_path.empty()) config.database_path = config.data_dir + "/tug.db";
  if (config.store_driver == "postgres" && config.database_url.empty()) {
    return InvalidArgument(
        "store.driver postgres needs a database: set store.url or TUG_DATABASE_URL to "
        "postgres://user:password@host:5432/db");
  }
  return OkStatus();
}

std::string RedactUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const size_t at = url.find('@', scheme + 3);
  const size_t slash = url.find('/', scheme + 3);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return url;
  const size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

std::map<std::string, std::string> ProcessEnv() {
  std::map<std::string, std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) out[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return out;
}

}  // namespace tug::server
