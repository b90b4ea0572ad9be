#include "engine/spark/submit.h"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>
#include <boost/json.hpp>

namespace tug::engine::spark {
namespace json = boost::json;
using kubernetes::LabelValue;
using kubernetes::PodName;
using kubernetes::StringAt;

namespace {

constexpr int64_t kMi = int64_t{1} << 20;

struct Version {
  int major = 0;
  int minor = 0;
  bool ok = false;
};

Version ParseVersion(const std::string& v) {
  Version out;
  if (std::sscanf(v.c_str(), "%d.%d", &out.major, &out.minor) == 2) out.ok = true;
  return out;
}

bool AtLeast(const Version& v, int major, int minor) {
  return v.major > major || (v.major == major && v.minor >= minor);
}

std::string Cores(int64_t millis) {
  return std::to_string(std::max<int64_t>(1, (millis + 999) / 1000));
}

// Spark's own rule: max(384 MiB, 10 % of the heap in whole MiB).
int64_t DefaultOverhead(int64_t heap) { return std::max<int64_t>(384, heap / kMi / 10) * kMi; }

}  // namespace

std::string SparkMemory(int64_t bytes) { return std::to_string((bytes + kMi - 1) / kMi) + "m"; }

std::string TaskGpuAmount(int64_t gpu, int64_t cpu_millis) {
  const int64_t cores = std::max<int64_t>(1, (cpu_millis + 999) / 1000);
  if (gpu >= cores) return std::to_string(gpu / cores);
  const int64_t n = (cores + gpu - 1) / gpu;
  return fmt::format("{}", 1.0 / static_cast<double>(n));
}

std::string UiProxyBase(const std::string& run_id) { return "/runs/" + run_id + "/spark-ui"; }

Result<std::string> ImageFor(const std::string& version, const SparkSettings& settings) {
  if (auto it = settings.images.find(version); it != settings.images.end()) return it->second;
  // "3.5" → the newest configured "3.5.<patch>".
  std::string best;
  std::string best_version;
  for (const auto& [v, image] : settings.images) {
    if (v.rfind(version + ".", 0) == 0 && (best.empty() || v > best_version)) {
      best = image;
      best_version = v;
    }
  }
  if (!best.empty()) return best;
  std::string have;
  for (const auto& [v, image] : settings.images) have += (have.empty() ? "" : ", ") + v;
  return FailedPrecondition(fmt::format(
      "spark version '{}' has no image on this server ({}); pick one of those or add it under "
      "spark.versions in the server config",
      version, have.empty() ? "it has none configured" : "it has " + have));
}

Result<Submission> BuildSubmission(const LaunchSpec& spec, const kubernetes::PodSettings& pods,
                                   const SparkSettings& settings) {
  if (spec.kind != "spark") {
    return InvalidArgument(
        fmt::format("the spark engine runs kind: spark definitions; '{}' is kind: {}",
                    spec.definition, spec.kind));
  }
  Version version = ParseVersion(spec.spark.version);
  if (!version.ok) {
    return FailedPrecondition(fmt::format(
        "spark.version '{}' is not a version; write e.g. version: \"3.5\"", spec.spark.version));
  }
  if (!AtLeast(version, 3, 0)) {
    return FailedPrecondition(fmt::format(
        "spark version '{}' is not supported on Kubernetes here; use Spark 3.0 or newer",
        spec.spark.version));
  }
  RETURN_IF_ERROR(kubernetes::CheckSecretsByReference(spec, "spark"));
  Submission sub;
  ASSIGN_OR_RETURN(sub.image, ImageFor(spec.spark.version, settings));
  const std::string base = PodName(spec.attempt_id);
  sub.driver_pod = base + "-driver";
  sub.executor_prefix = base;
  const SparkResources& r = spec.resources.spark;

  std::map<std::string, std::string>& c = sub.conf;
  // Cluster-wide defaults, then the definition's own conf, then what Tugboat must decide.
  for (const auto& [k, v] : settings.default_conf) c[k] = v;
  for (const auto& [k, v] : spec.spark.conf) c[k] = v;
  c["spark.kubernetes.namespace"] = pods.namespace_;
  c["spark.kubernetes.container.image"] = sub.image;
  if (!spec.kubernetes.image_pull_policy.empty()) {
    c["spark.kubernetes.container.image.pullPolicy"] = spec.kubernetes.image_pull_policy;
  }
  if (!spec.kubernetes.image_pull_secrets.empty()) {
    std::string secrets;
    for (const auto& s : spec.kubernetes.image_pull_secrets) {
      secrets += (secrets.empty() ? "" : ",") + s;
    }
    c["spark.kubernetes.container.image.pullSecrets"] = secrets;
  }
  c["spark.kubernetes.driver.pod.name"] = sub.driver_pod;
  c["spark.kubernetes.executor.podNamePrefix"] = sub.executor_prefix;
  c["spark.kubernetes.submission.waitAppCompletion"] = "true";
  c["spark.kubernetes.report.interval"] = "10s";
  std::string sa = spec.kubernetes.service_account;
  if (sa.empty()) sa = settings.driver_service_account;
  if (sa.empty()) sa = pods.default_service_account;
  if (!sa.empty()) c["spark.kubernetes.authenticate.driver.serviceAccountName"] = sa;
  // Driver and executors go to the cluster's scheduler for job pods too (the controller pod gets
  // it from BuildPod). Spark reads this conf from 3.3; older versions' pods keep the default
  // scheduler. A definition's own conf wins.
  if (!pods.scheduler_name.empty() && AtLeast(version, 3, 3)) {
    c.emplace("spark.kubernetes.scheduler.name", pods.scheduler_name);
  }

  // Our labels and the attempt annotation on driver and executors: the engine's informer finds
  // them by tugboat.io/managed and maps them back to the attempt.
  for (const char* role : {"driver", "executor"}) {
    const std::string p = fmt::format("spark.kubernetes.{}.", role);
    c[p + "label." + kubernetes::kLabelManaged] = "true";
    c[p + "label." + kubernetes::kLabelRun] = LabelValue(spec.run_id);
    c[p + "label." + kubernetes::kLabelAttempt] = LabelValue(spec.attempt_id);
    c[p + "label." + kubernetes::kLabelDefinition] = LabelValue(spec.definition);
    c[p + "label." + kubernetes::kLabelComponent] = role;
    c[p + "annotation." + kubernetes::kAnnotationAttempt] = spec.attempt_id;
  }

  // Placement: the driver always on on-demand (losing it loses the application); executors
  // where the planner put them. Role-specific node selectors exist from Spark 3.3; before that
  // one selector applies to both, so executors follow the driver to on-demand.
  const std::string& label = pods.capacity_label;
  const std::string& exec_cap = spec.placement.executor_capacity;
  auto capacity_value = [&](const std::string& cap) {
    return cap == kSpot ? pods.spot_value : pods.on_demand_value;
  };
  for (const auto& [k, v] : spec.kubernetes.node_selector)
    c["spark.kubernetes.node.selector." + k] = v;
  const bool executors_on_spot = exec_cap == kSpot && AtLeast(version, 3, 3);
  if (!label.empty()) {
    if (AtLeast(version, 3, 3)) {
      c["spark.kubernetes.driver.node.selector." + label] = pods.on_demand_value;
      if (exec_cap == kSpot || exec_cap == kOnDemand) {
        c["spark.kubernetes.executor.node.selector." + label] = capacity_value(exec_cap);
      }
    } else {
      c["spark.kubernetes.node.selector." + label] = pods.on_demand_value;
    }
  }
  if (executors_on_spot && settings.decommission_on_spot && AtLeast(version, 3, 1)) {
    c["spark.decommission.enabled"] = "true";
    c["spark.storage.decommission.enabled"] = "true";
    c["spark.storage.decommission.shuffleBlocks.enabled"] = "true";
    c["spark.storage.decommission.rddBlocks.enabled"] = "true";
  }

  // Sizes: exactly what the planner decided for this attempt.
  if (r.driver.cpu_millis > 0) {
    c["spark.driver.cores"] = Cores(r.driver.cpu_millis);
    c["spark.kubernetes.driver.request.cores"] = fmt::format("{}m", r.driver.cpu_millis);
  }
  if (r.driver.memory_bytes > 0) c["spark.driver.memory"] = SparkMemory(r.driver.memory_bytes);
  if (r.driver.memory_overhead_bytes > 0) {
    c["spark.driver.memoryOverhead"] = SparkMemory(r.driver.memory_overhead_bytes);
  }
  if (r.max_result_size_bytes > 0) {
    c["spark.driver.maxResultSize"] = SparkMemory(r.max_result_size_bytes);
  }
  if (r.executor.cpu_millis > 0) {
    c["spark.executor.cores"] = Cores(r.executor.cpu_millis);
    c["spark.kubernetes.executor.request.cores"] = fmt::format("{}m", r.executor.cpu_millis);
  }
  if (r.executor.memory_bytes > 0) {
    c["spark.executor.memory"] = SparkMemory(r.executor.memory_bytes);
  }
  if (r.executor.memory_overhead_bytes > 0) {
    c["spark.executor.memoryOverhead"] = SparkMemory(r.executor.memory_overhead_bytes);
  }
  // GPUs per executor, by Spark's custom resource scheduling: Spark puts the vendor's resource
  // (nvidia.com/gpu) in every executor pod's limits and runs the discovery script in it to
  // learn the GPUs' addresses. A definition may choose its own script and task share.
  const int64_t gpu = spec.resources.gpu;
  json::object executor_template;
  if (gpu > 0) {
    c["spark.executor.resource.gpu.amount"] = std::to_string(gpu);
    c["spark.executor.resource.gpu.vendor"] = "nvidia.com";
    c.emplace("spark.executor.resource.gpu.discoveryScript", settings.gpu_discovery_script);
    c.emplace("spark.task.resource.gpu.amount", TaskGpuAmount(gpu, r.executor.cpu_millis));
    // The GPU node group: its node selector and tolerations through a pod template (Spark
    // merges the confs' node selectors into it and keeps its tolerations).
    json::object pod_spec;
    if (!pods.gpu_node_selector.empty()) {
      json::object sel;
      for (const auto& [k, v] : pods.gpu_node_selector) sel[k] = v;
      pod_spec["nodeSelector"] = std::move(sel);
    }
    if (!pods.gpu_tolerations.empty()) {
      json::array tols;
      for (const Toleration& t : pods.gpu_tolerations) {
        json::object o{{"operator", t.op}};
        if (!t.key.empty()) o["key"] = t.key;
        if (!t.value.empty()) o["value"] = t.value;
        if (!t.effect.empty()) o["effect"] = t.effect;
        tols.emplace_back(std::move(o));
      }
      pod_spec["tolerations"] = std::move(tols);
    }
    if (!pod_spec.empty()) {
      executor_template = json::object{{"apiVersion", "v1"},
                                       {"kind", "Pod"},
                                       {"metadata", json::object{}},
                                       {"spec", std::move(pod_spec)}};
      c["spark.kubernetes.executor.podTemplateFile"] = kExecutorTemplatePath;
    }
  }
  const bool dynamic = r.dynamic_allocation || r.max_executors > std::max(r.instances, 0);
  if (dynamic) {
    // Shuffle tracking instead of an external shuffle service (there is none on Kubernetes).
    c["spark.dynamicAllocation.enabled"] = "true";
    c["spark.dynamicAllocation.shuffleTracking.enabled"] = "true";
    if (r.min_executors > 0)
      c["spark.dynamicAllocation.minExecutors"] = std::to_string(r.min_executors);
    if (r.instances > 0)
      c["spark.dynamicAllocation.initialExecutors"] = std::to_string(r.instances);
    if (r.max_executors > 0)
      c["spark.dynamicAllocation.maxExecutors"] = std::to_string(r.max_executors);
  } else {
    c["spark.dynamicAllocation.enabled"] = "false";
    if (r.instances > 0) c["spark.executor.instances"] = std::to_string(r.instances);
  }

  // The live UI behind Tugboat's proxy, and event logs for the history server afterwards.
  c["spark.ui.proxyBase"] = UiProxyBase(spec.run_id);
  c["spark.ui.port"] = std::to_string(settings.ui_port);
  if (!settings.event_log_dir.empty()) {
    c["spark.eventLog.enabled"] = "true";
    c["spark.eventLog.dir"] = settings.event_log_dir;
  }
  for (const auto& [k, v] : spec.env) {
    c["spark.kubernetes.driverEnv." + k] = v;
    c["spark.executorEnv." + k] = v;
  }
  // Secrets by reference (Spark mounts them as secretKeyRef env in the driver and executor
  // pods): the confs name the Secret, never its value.
  for (const auto& [k, v] : spec.secret_env) {
    c["spark.kubernetes.driver.secretKeyRef." + k] = v.secret_name + ":" + v.secret_key;
    c["spark.kubernetes.executor.secretKeyRef." + k] = v.secret_name + ":" + v.secret_key;
  }

  std::vector<std::string>& a = sub.argv;
  a = {settings.spark_submit, "--master", settings.master, "--deploy-mode", "cluster", "--name",
       spec.definition};
  if (!spec.spark.main_class.empty()) {
    a.push_back("--class");
    a.push_back(spec.spark.main_class);
  }
  auto joined = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : ",") + x;
    return out;
  };
  if (!spec.spark.py_files.empty()) a.insert(a.end(), {"--py-files", joined(spec.spark.py_files)});
  if (!spec.spark.jars.empty()) a.insert(a.end(), {"--jars", joined(spec.spark.jars)});
  if (!spec.spark.files.empty()) a.insert(a.end(), {"--files", joined(spec.spark.files)});
  for (const auto& [k, v] : c) {
    a.push_back("--conf");
    a.push_back(k + "=" + v);
  }
  a.push_back(spec.spark.main);
  a.insert(a.end(), spec.spark.args.begin(), spec.spark.args.end());

  // The controller: one small on-demand pod running spark-submit, which waits for the app.
  LaunchSpec ctl = spec;
  ctl.argv = a;
  if (!executor_template.empty()) {
    // Write the template from the environment, then become spark-submit: the script is fixed
    // text and every argument is passed through "$@", so nothing is interpreted by the shell.
    ctl.argv = {"/bin/sh", "-c",
                fmt::format("printf '%s' \"${}\" > {} && exec \"$@\"", kExecutorTemplateEnv,
                            kExecutorTemplatePath),
                "spark-submit"};
    ctl.argv.insert(ctl.argv.end(), a.begin(), a.end());
    ctl.env[kExecutorTemplateEnv] = json::serialize(executor_template);
  }
  ctl.image = sub.image;
  ctl.resources = Resources{};
  ctl.resources.memory_bytes = settings.controller_memory_bytes;
  ctl.resources.cpu_millis = settings.controller_cpu_millis;
  ctl.placement = Placement{std::string(kOnDemand), ""};
  ctl.kubernetes.service_account = settings.submit_service_account;
  ctl.kubernetes.node_selector = spec.kubernetes.node_selector;
  ctl.working_dir.clear();
  sub.controller_pod = kubernetes::BuildPod(ctl, pods);
  json::object& meta = sub.controller_pod.as_object()["metadata"].as_object();
  meta["labels"].as_object()[kubernetes::kLabelComponent] = "controller";
  json::object& container =
      sub.controller_pod.as_object()["spec"].as_object()["containers"].as_array()[0].as_object();
  container["name"] = "spark-submit";

  auto preview = [&](const char* role, int64_t heap, int64_t overhead, int64_t millis,
                     const std::string& cap, int count) {
    json::object labels;
    json::object selector;
    const std::string lp = fmt::format("spark.kubernetes.{}.label.", role);
    const std::string sp = fmt::format("spark.kubernetes.{}.node.selector.", role);
    for (const auto& [k, v] : c) {
      if (k.rfind(lp, 0) == 0) labels[k.substr(lp.size())] = v;
      if (k.rfind("spark.kubernetes.node.selector.", 0) == 0) {
        selector[k.substr(std::string("spark.kubernetes.node.selector.").size())] = v;
      }
    }
    for (const auto& [k, v] : c) {
      if (k.rfind(sp, 0) == 0) selector[k.substr(sp.size())] = v;
    }
    int64_t limit = heap > 0 ? heap + (overhead > 0 ? overhead : DefaultOverhead(heap)) : 0;
    json::object o{{"labels", std::move(labels)},
                   {"node_selector", std::move(selector)},
                   {"capacity", cap},
                   {"image", sub.image}};
    if (limit > 0) o["memory_limit"] = kubernetes::Quantity(limit);
    if (millis > 0) o["cpu_request"] = fmt::format("{}m", millis);
    if (count >= 0) o["count"] = count;
    return o;
  };
  sub.driver_preview = preview("driver", r.driver.memory_bytes, r.driver.memory_overhead_bytes,
                               r.driver.cpu_millis, std::string(kOnDemand), -1);
  sub.driver_preview.as_object()["pod"] = sub.driver_pod;
  std::string shown_cap =
      AtLeast(version, 3, 3) || exec_cap.empty() ? exec_cap : std::string(kOnDemand);
  sub.executor_preview =
      preview("executor", r.executor.memory_bytes, r.executor.memory_overhead_bytes,
              r.executor.cpu_millis, shown_cap, r.instances);
  sub.executor_preview.as_object()["pod_prefix"] = sub.executor_prefix + "-exec-";
  if (gpu > 0) {
    json::object& ex = sub.executor_preview.as_object();
    ex["gpu"] = gpu;
    if (const json::value* tpl_spec = executor_template.if_contains("spec")) {
      if (const json::value* sel = tpl_spec->as_object().if_contains("nodeSelector")) {
        for (const auto& kv : sel->as_object()) {
          ex["node_selector"].as_object().emplace(kv.key(), kv.value());
        }
      }
      if (const json::value* tols = tpl_spec->as_object().if_contains("tolerations")) {
        ex["tolerations"] = *tols;
      }
    }
  }
  if (dynamic && r.max_executors > 0) sub.executor_preview.as_object()["max"] = r.max_executors;
  return sub;
}

json::value ToJson(const Submission& sub) {
  json::array argv;
  for (const auto& a : sub.argv) argv.emplace_back(a);
  json::object conf;
  for (const auto& [k, v] : sub.conf) conf[k] = v;
  return json::object{{"image", sub.image},           {"argv", std::move(argv)},
                      {"conf", std::move(conf)},      {"controller_pod", sub.controller_pod},
                      {"driver", sub.driver_preview}, {"executors", sub.executor_preview}};
}

std::string ComponentOf(const json::value& pod) {
  const std::string role = StringAt(pod, {"metadata", "labels", "spark-role"});
  if (role == "driver") return "driver";
  if (role == "executor") {
    std::string id = StringAt(pod, {"metadata", "labels", "spark-exec-id"});
    std::string clean;
    for (char ch : id) {
      if (ch >= '0' && ch <= '9') clean += ch;
    }
    return clean.empty() ? "" : "executor-" + clean;
  }
  const std::string ours = StringAt(pod, {"metadata", "labels", kubernetes::kLabelComponent});
  if (ours == "controller") return "controller";
  return "";
}

}  // namespace tug::engine::spark
