#include "core/model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "core/quantity.h"

// Validate and its parts: what a definition must satisfy before it is stored or run.
namespace tug {

namespace {

Status ValidateRetry(const Definition& def) {
  const RetryPolicy& r = def.retry;
  if (r.max_attempts < 1 || r.max_attempts > 20) {
    return FailedPrecondition(
        fmt::format("definition '{}': retry.max_attempts must be between 1 and 20 (got {})",
                    def.name, r.max_attempts));
  }
  if (r.max_infra_retries < 0 || r.max_infra_retries > 20) {
    return FailedPrecondition(
        fmt::format("definition '{}': retry.max_infra_retries must be between 0 and 20 (got {})",
                    def.name, r.max_infra_retries));
  }
  if (r.backoff.initial_seconds < 1 || r.backoff.initial_seconds > 86400) {
    return FailedPrecondition(
        fmt::format("definition '{}': retry.backoff.initial must be between 1s and 24h", def.name));
  }
  if (r.backoff.max_seconds < r.backoff.initial_seconds || r.backoff.max_seconds > 86400) {
    return FailedPrecondition(fmt::format(
        "definition '{}': retry.backoff.max must be at least retry.backoff.initial ({}) and at "
        "most 24h",
        def.name, FormatDuration(r.backoff.initial_seconds)));
  }
  if (!(r.backoff.multiplier >= 1 && r.backoff.multiplier <= 10)) {
    return FailedPrecondition(fmt::format(
        "definition '{}': retry.backoff.multiplier must be between 1 and 10", def.name));
  }
  return OkStatus();
}

Status ValidateAdapt(const Definition& def, const Limits& limits) {
  const AdaptPolicy& a = def.adapt;
  if (!(a.memory_factor >= 1.05 && a.memory_factor <= 4)) {
    return FailedPrecondition(
        fmt::format("definition '{}': adapt.memory_factor must be between 1.05 and 4 (got {})",
                    def.name, a.memory_factor));
  }
  if (!(a.executor_factor >= 1 && a.executor_factor <= 4)) {
    return FailedPrecondition(
        fmt::format("definition '{}': adapt.executor_factor must be between 1 and 4 (got {})",
                    def.name, a.executor_factor));
  }
  if (a.max_memory_bytes < 0 || a.max_memory_bytes > limits.max_memory_bytes) {
    return FailedPrecondition(fmt::format(
        "definition '{}': adapt.max_memory '{}' exceeds the platform's largest container ({})",
        def.name, FormatMemory(a.max_memory_bytes), FormatMemory(limits.max_memory_bytes)));
  }
  if (a.max_executors < 0 || a.max_executors > limits.max_executors) {
    return FailedPrecondition(
        fmt::format("definition '{}': adapt.max_executors {} exceeds the platform's limit ({})",
                    def.name, a.max_executors, limits.max_executors));
  }
  if (a.rightsizing != "off" && a.rightsizing != "recommend" && a.rightsizing != "apply") {
    return FailedPrecondition(fmt::format(
        "definition '{}': adapt.rightsizing '{}' is not known; use off, recommend or apply",
        def.name, a.rightsizing));
  }
  if (a.capacity != kSpot && a.capacity != kOnDemand && a.capacity != "auto") {
    return FailedPrecondition(fmt::format(
        "definition '{}': adapt.capacity '{}' is not known; use spot, on-demand or auto", def.name,
        a.capacity));
  }
  if (a.max_memory_bytes > 0 && def.resources.memory_bytes > a.max_memory_bytes) {
    return FailedPrecondition(
        fmt::format("definition '{}': memory '{}' is above its own adapt.max_memory '{}'", def.name,
                    FormatMemory(def.resources.memory_bytes), FormatMemory(a.max_memory_bytes)));
  }
  return OkStatus();
}

Status ValidateRole(const Definition& def, std::string_view role, const SparkRole& r,
                    const Limits& limits) {
  if (r.memory_bytes < 0 || r.memory_overhead_bytes < 0 || r.cpu_millis < 0) {
    return FailedPrecondition(
        fmt::format("definition '{}': spark.{} sizes must be positive", def.name, role));
  }
  if (r.memory_bytes > 0 && r.memory_bytes < (int64_t{450} << 20)) {
    return FailedPrecondition(
        fmt::format("definition '{}': spark.{}.memory '{}' is below Spark's minimum (450Mi); "
                    "raise it",
                    def.name, role, FormatMemory(r.memory_bytes)));
  }
  int64_t total = r.memory_bytes + EffectiveOverhead(r);
  int64_t cap =
      def.adapt.max_memory_bytes > 0 ? def.adapt.max_memory_bytes : limits.max_memory_bytes;
  if (r.memory_bytes > 0 && total > cap) {
    return FailedPrecondition(fmt::format(
        "definition '{}': spark.{} memory + memoryOverhead = {} exceeds the largest allowed "
        "container ({}); lower it",
        def.name, role, FormatMemory(total), FormatMemory(cap)));
  }
  if (r.cpu_millis > limits.max_cpu_millis) {
    return FailedPrecondition(
        fmt::format("definition '{}': spark.{}.cores {} exceeds the largest allowed ({})", def.name,
                    role, FormatCpu(r.cpu_millis), FormatCpu(limits.max_cpu_millis)));
  }
  return OkStatus();
}

Status ValidateSpark(const Definition& def, const Limits& limits) {
  const SparkSpec& s = def.spark;
  const SparkResources& r = def.resources.spark;
  if (s.version.empty()) {
    return FailedPrecondition(
        fmt::format("definition '{}': spark.version is required, e.g. version: \"3.5\"", def.name));
  }
  if (s.main.empty()) {
    return FailedPrecondition(fmt::format(
        "definition '{}': spark.main is required (local:///..., s3a://... jar or py file)",
        def.name));
  }
  if (!def.command.empty() || !def.args.empty()) {
    return FailedPrecondition(fmt::format(
        "definition '{}': kind spark takes spark.main and spark.args, not command", def.name));
  }
  for (const auto& [key, value] : s.conf) {
    if (std::string hint = SparkConfManaged(key); !hint.empty()) {
      return FailedPrecondition(fmt::format(
          "definition '{}': spark.conf '{}' is set by Tugboat; {}", def.name, key, hint));
    }
  }
  if (!def.kubernetes.tolerations.empty()) {
    return FailedPrecondition(fmt::format(
        "definition '{}': kubernetes.tolerations are not supported for kind spark yet (Spark "
        "needs a pod template for them); use kubernetes.node_selector",
        def.name));
  }
  RETURN_IF_ERROR(ValidateRole(def, "driver", r.driver, limits));
  RETURN_IF_ERROR(ValidateRole(def, "executor", r.executor, limits));
  int cap = def.adapt.max_executors > 0 ? def.adapt.max_executors : limits.max_executors;
  if (r.instances < 0 || r.min_executors < 0 || r.max_executors < 0) {
    return FailedPrecondition(
        fmt::format("definition '{}': spark.executor counts must be positive", def.name));
  }
  if (r.instances > cap || r.max_executors > cap) {
    return FailedPrecondition(
        fmt::format("definition '{}': spark.executor asks for {} executors; at most {} allowed",
                    def.name, std::max(r.instances, r.max_executors), cap));
  }
  if (r.max_executors > 0 && r.max_executors < std::max(r.instances, r.min_executors)) {
    return FailedPrecondition(
        fmt::format("definition '{}': spark.executor.max ({}) is below instances/min ({})",
                    def.name, r.max_executors, std::max(r.instances, r.min_executors)));
  }
  if (r.max_result_size_bytes < 0) {
    return FailedPrecondition(
        fmt::format("definition '{}': spark.driver.maxResultSize must be positive", def.name));
  }
  return OkStatus();
}

Status ValidateKubernetes(const Definition& def) {
  if (def.engine != "" && def.engine != "local" && def.engine != "kubernetes" &&
      def.engine != "spark" && def.engine != "emr-on-eks") {
    return FailedPrecondition(fmt::format(
        "definition '{}': engine '{}' is not known; use engine: local, kubernetes, spark or "
        "emr-on-eks",
        def.name, def.engine));
  }
  if (def.kind == "spark" && def.engine != "" && def.engine != "spark" &&
      def.engine != "emr-on-eks") {
    return FailedPrecondition(fmt::format(
        "definition '{}': kind spark runs on engine spark (Spark on Kubernetes) or emr-on-eks "
        "(EMR on EKS); drop engine: {} or write one of those",
        def.name, def.engine));
  }
  if (def.kind != "spark" && (def.engine == "spark" || def.engine == "emr-on-eks")) {
    return FailedPrecondition(
        fmt::format("definition '{}': engine {} runs kind: spark definitions; this one is kind: {}",
                    def.name, def.engine, def.kind));
  }
  if (def.engine == "local" && !def.cluster.empty()) {
    return FailedPrecondition(fmt::format(
        "definition '{}': cluster '{}' needs engine: kubernetes (this definition is engine: local)",
        def.name, def.cluster));
  }
  if (def.engine == "kubernetes" && def.kind == "container" && def.image.empty()) {
    return FailedPrecondition(fmt::format(
        "definition '{}': engine kubernetes runs a container image; add e.g. image: python:3.11",
        def.name));
  }
  const KubernetesSpec& k = def.kubernetes;
  const std::string& p = k.image_pull_policy;
  if (!p.empty() && p != "Always" && p != "IfNotPresent" && p != "Never") {
    return FailedPrecondition(fmt::format(
        "definition '{}': kubernetes.image_pull_policy '{}' must be Always, IfNotPresent or Never",
        def.name, p));
  }
  for (const Toleration& t : k.tolerations) {
    if (t.op != "Equal" && t.op != "Exists") {
      return FailedPrecondition(fmt::format(
          "definition '{}': kubernetes.tolerations operator '{}' must be Equal or Exists", def.name,
          t.op));
    }
    if (t.op == "Exists" && !t.value.empty()) {
      return FailedPrecondition(fmt::format(
          "definition '{}': kubernetes.tolerations: operator Exists takes no value (key '{}')",
          def.name, t.key));
    }
    if (t.key.empty() && t.op != "Exists") {
      return FailedPrecondition(fmt::format(
          "definition '{}': kubernetes.tolerations: an empty key needs operator Exists", def.name));
    }
    if (!t.effect.empty() && t.effect != "NoSchedule" && t.effect != "PreferNoSchedule" &&
        t.effect != "NoExecute") {
      return FailedPrecondition(
          fmt::format("definition '{}': kubernetes.tolerations effect '{}' must be NoSchedule, "
                      "PreferNoSchedule or NoExecute",
                      def.name, t.effect));
    }
  }
  for (const auto& s : k.image_pull_secrets) {
    if (s.empty()) {
      return FailedPrecondition(fmt::format(
          "definition '{}': kubernetes.image_pull_secrets has an empty name", def.name));
    }
  }
  return OkStatus();
}

}  // namespace

std::string SparkConfManaged(const std::string& key) {
  static const std::map<std::string, std::string> kHints = {
      {"spark.master", "Tugboat submits to the cluster's API server"},
      {"spark.submit.deployMode", "Tugboat submits in cluster mode"},
      {"spark.kubernetes.namespace", "the namespace comes from the server's cluster config"},
      {"spark.kubernetes.container.image", "set spark.version; the server maps it to an image"},
      {"spark.kubernetes.driver.container.image", "set spark.version"},
      {"spark.kubernetes.executor.container.image", "set spark.version"},
      {"spark.kubernetes.driver.pod.name", "Tugboat names the pods of each attempt"},
      {"spark.kubernetes.executor.podNamePrefix", "Tugboat names the pods of each attempt"},
      {"spark.driver.memory", "set spark.driver.memory in the definition (driver: {memory: 2Gi})"},
      {"spark.driver.cores", "set spark.driver.cores (driver: {cores: 1})"},
      {"spark.driver.memoryOverhead", "set spark.driver.memoryOverhead"},
      {"spark.driver.maxResultSize", "set spark.driver.maxResultSize"},
      {"spark.executor.memory", "set spark.executor.memory (executor: {memory: 4Gi})"},
      {"spark.executor.cores", "set spark.executor.cores"},
      {"spark.executor.memoryOverhead", "set spark.executor.memoryOverhead"},
      {"spark.executor.instances", "set spark.executor.instances"},
      {"spark.dynamicAllocation.enabled", "set spark.executor.dynamicAllocation"},
      {"spark.dynamicAllocation.minExecutors", "set spark.executor.min"},
      {"spark.dynamicAllocation.maxExecutors", "set spark.executor.max"},
      {"spark.dynamicAllocation.initialExecutors", "set spark.executor.instances"},
      {"spark.ui.proxyBase", "Tugboat serves the UI under /runs/<id>/spark-ui"},
      {"spark.kubernetes.submission.waitAppCompletion", "the controller waits for the app"},
      {"spark.executor.resource.gpu.amount", "set resources.gpu (GPUs per executor)"},
      {"spark.executor.resource.gpu.vendor", "Tugboat asks for nvidia.com GPUs"},
      {"spark.driver.resource.gpu.amount",
       "drivers get no GPUs here; resources.gpu gives each executor its GPUs"},
  };
  if (auto it = kHints.find(key); it != kHints.end()) return it->second;
  for (const char* prefix :
       {"spark.kubernetes.driver.label.tugboat.io/", "spark.kubernetes.executor.label.tugboat.io/",
        "spark.kubernetes.driver.annotation.tugboat.io/",
        "spark.kubernetes.executor.annotation.tugboat.io/"}) {
    if (key.rfind(prefix, 0) == 0) return "tugboat.io/ labels are Tugboat's own";
  }
  return "";
}

namespace {

// A Kubernetes Secret's name (a DNS subdomain) and key ([-._a-zA-Z0-9]+), as the API server
// would check them at pod creation, so a typo is a 400 now rather than a pod that never starts.
Status ValidateSecretRef(const std::string& def, const std::string& env, const SecretEnv& ref) {
  const std::string& name = ref.secret_name;
  bool name_ok = name.size() <= 253 && std::isalnum(static_cast<unsigned char>(name.front())) &&
                 std::isalnum(static_cast<unsigned char>(name.back()));
  for (char c : name) {
    name_ok = name_ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.');
  }
  if (!name_ok) {
    return InvalidArgument(fmt::format(
        "definition '{}': env '{}': secretKeyRef name '{}' is not a Kubernetes Secret name; use "
        "lower-case letters, digits, '-' and '.'",
        def, env, name));
  }
  bool key_ok = !ref.secret_key.empty() && ref.secret_key.size() <= 253;
  for (char c : ref.secret_key) {
    key_ok =
        key_ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  }
  if (!key_ok) {
    return InvalidArgument(fmt::format(
        "definition '{}': env '{}': secretKeyRef key '{}' is not a valid key; use letters, "
        "digits, '-', '_' and '.'",
        def, env, ref.secret_key));
  }
  return OkStatus();
}

}  // namespace

namespace {

// GPUs are whole devices: per container, or per executor for kind spark (Spark's custom
// resource scheduling; drivers get none). The executor pod template that carries the GPU node
// group's tolerations is Tugboat's, so a Spark GPU definition may not bring its own.
Status ValidateGpu(const Definition& def, const Limits& limits) {
  const int64_t gpu = def.resources.gpu;
  if (gpu < 0) {
    return InvalidArgument(
        fmt::format("definition '{}': resources.gpu is {}; use a whole number of GPUs, 0 or more",
                    def.name, gpu));
  }
  if (gpu > 0 && def.kind == "spark" &&
      def.spark.conf.count("spark.kubernetes.executor.podTemplateFile") > 0) {
    return FailedPrecondition(fmt::format(
        "definition '{}': spark.conf 'spark.kubernetes.executor.podTemplateFile' cannot be used "
        "with resources.gpu (Tugboat's executor template carries the GPU node group's "
        "tolerations); remove one of them",
        def.name));
  }
  if (gpu > limits.max_gpu) {
    return FailedPrecondition(
        fmt::format("definition '{}': resources.gpu {} exceeds the most allowed ({}); lower it",
                    def.name, gpu, limits.max_gpu));
  }
  return OkStatus();
}

}  // namespace

Status Validate(const Definition& def, const Limits& limits) {
  RETURN_IF_ERROR(ValidateName(def.name));
  if (!def.queue.empty()) {
    if (Status st = ValidateName(def.queue); !st.ok()) {
      return InvalidArgument(
          fmt::format("definition '{}': queue {}", def.name, st.error().message().substr(5)));
    }
  }
  if (def.kind != "container" && def.kind != "spark") {
    return InvalidArgument(
        fmt::format("definition '{}': kind '{}' is not known; use kind: container or kind: spark",
                    def.name, def.kind));
  }
  RETURN_IF_ERROR(ValidateRetry(def));
  RETURN_IF_ERROR(ValidateAdapt(def, limits));
  RETURN_IF_ERROR(ValidateKubernetes(def));
  RETURN_IF_ERROR(ValidateGpu(def, limits));
  if (def.kind == "spark") return ValidateSpark(def, limits);
  if (!def.resources.spark.empty() || !(def.spark == SparkSpec{})) {
    return InvalidArgument(fmt::format(
        "definition '{}': a spark section needs kind: spark (this definition is kind: {})",
        def.name, def.kind));
  }
  if (def.command.empty() && def.args.empty()) {
    return InvalidArgument(
        fmt::format("definition '{}' has no command; add e.g. command: echo hello", def.name));
  }
  if (!def.command.empty() && !def.args.empty()) {
    return InvalidArgument(fmt::format(
        "definition '{}' has both a command string and an args list; keep one", def.name));
  }
  if (def.resources.memory_bytes < 0) {
    return InvalidArgument(fmt::format("definition '{}': memory must be positive", def.name));
  }
  if (def.resources.memory_bytes > limits.max_memory_bytes) {
    return FailedPrecondition(fmt::format(
        "definition '{}': memory '{}' exceeds the largest allowed ({}); lower it", def.name,
        FormatMemory(def.resources.memory_bytes), FormatMemory(limits.max_memory_bytes)));
  }
  if (def.resources.memory_bytes > 0 && def.resources.memory_bytes < (int64_t{4} << 20)) {
    return FailedPrecondition(fmt::format(
        "definition '{}': memory '{}' is below the 4Mi minimum a process needs; raise it", def.name,
        FormatMemory(def.resources.memory_bytes)));
  }
  if (def.resources.cpu_millis < 0) {
    return InvalidArgument(fmt::format("definition '{}': cpu must be positive", def.name));
  }
  if (def.resources.cpu_millis > limits.max_cpu_millis) {
    return FailedPrecondition(fmt::format(
        "definition '{}': cpu '{}' exceeds the largest allowed ({}); lower it", def.name,
        FormatCpu(def.resources.cpu_millis), FormatCpu(limits.max_cpu_millis)));
  }
  if (def.timeout_seconds < 0) {
    return InvalidArgument(fmt::format("definition '{}': timeout must be positive", def.name));
  }
  if (def.timeout_seconds > limits.max_timeout_seconds) {
    return FailedPrecondition(fmt::format(
        "definition '{}': timeout '{}' exceeds the longest allowed ({}); lower it", def.name,
        FormatDuration(def.timeout_seconds), FormatDuration(limits.max_timeout_seconds)));
  }
  for (const auto& [k, v] : def.env) {
    if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos) {
      return InvalidArgument(fmt::format(
          "definition '{}': env name '{}' is not valid; use letters, digits and '_'", def.name, k));
    }
    if (v.find('\0') != std::string::npos) {
      return InvalidArgument(
          fmt::format("definition '{}': env '{}' contains a NUL byte", def.name, k));
    }
  }
  for (const auto& [k, v] : def.secret_env) {
    if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos) {
      return InvalidArgument(fmt::format(
          "definition '{}': env name '{}' is not valid; use letters, digits and '_'", def.name, k));
    }
    if (def.env.count(k) > 0) {
      return InvalidArgument(
          fmt::format("definition '{}': env '{}' is both plain and secret; keep one", def.name, k));
    }
    if (v.kept()) {
      return InvalidArgument(fmt::format(
          "definition '{}': env '{}' is secret but has no value; give it one with {{secret: "
          "true, value: ...}} or reference a Kubernetes Secret with {{valueFrom: {{secretKeyRef: "
          "{{name: ..., key: ...}}}}}}",
          def.name, k));
    }
    if (v.value.find('\0') != std::string::npos) {
      return InvalidArgument(
          fmt::format("definition '{}': env '{}' contains a NUL byte", def.name, k));
    }
    if (v.from_secret() != !v.secret_key.empty() || (v.from_secret() && !v.value.empty())) {
      return InvalidArgument(fmt::format(
          "definition '{}': env '{}' needs either a value or a secretKeyRef with name and key, "
          "not both",
          def.name, k));
    }
    if (v.from_secret()) {
      RETURN_IF_ERROR(ValidateSecretRef(def.name, k, v));
    }
  }
  if (!def.working_dir.empty() && def.working_dir.front() != '/') {
    return InvalidArgument(fmt::format("definition '{}': working_dir '{}' must be an absolute path",
                                       def.name, def.working_dir));
  }
  return OkStatus();
}

}  // namespace tug
