#include "diagnose/catalog.h"

#include <hs/hs.h>

#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "core/yaml.h"

namespace tug::diagnose {

extern const std::string_view kBuiltinCatalogYaml;

namespace {

namespace json = boost::json;

// 1-based line of the n-th pattern's "regex:" key, so errors point at the line to fix. YAML
// conversion loses positions; one key per pattern keeps this simple and exact enough.
std::vector<int> RegexLines(const std::string& text) {
  std::vector<int> lines;
  int line = 1;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view l(text.data() + start, end - start);
    size_t pos = 0;
    while ((pos = l.find("regex", pos)) != std::string_view::npos) {
      size_t after = pos + 5;
      while (after < l.size() && l[after] == ' ') ++after;
      bool key = after < l.size() && l[after] == ':';
      bool word_start = pos == 0 || l[pos - 1] == ' ' || l[pos - 1] == '{' || l[pos - 1] == '-' ||
                        l[pos - 1] == ',';
      if (key && word_start) {
        lines.push_back(line);
        break;
      }
      pos = after;
    }
    ++line;
    start = end + 1;
  }
  return lines;
}

Result<PatternKind> KindFromString(std::string_view s) {
  if (s.empty() || s == "cause") return PatternKind::kCause;
  if (s == "wrapper") return PatternKind::kWrapper;
  if (s == "noise") return PatternKind::kNoise;
  if (s == "success") return PatternKind::kSuccess;
  if (s == "shutdown") return PatternKind::kShutdown;
  return InvalidArgument("unknown kind '" + std::string(s) +
                         "'; use cause, wrapper, noise, success or shutdown");
}

Result<Resolve> ResolveFromString(std::string_view s) {
  if (s.empty() || s == "none") return Resolve::kNone;
  if (s == "heap_oom") return Resolve::kHeapOom;
  if (s == "container_oom") return Resolve::kContainerOom;
  return InvalidArgument("unknown resolve '" + std::string(s) +
                         "'; use heap_oom or container_oom");
}

std::string StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->as_string());
}

Result<Pattern> PatternFromJson(const json::value& v, const std::string& origin) {
  auto fail = [&](const std::string& why) { return InvalidArgument(origin + ": " + why); };
  if (!v.is_object()) return fail("pattern must be a mapping");
  const json::object& o = v.as_object();
  for (const auto& kv : o) {
    static const std::vector<std::string_view> kKnown = {
        "id", "regex", "class", "severity", "components", "retryable", "remediation", "kind",
        "resolve"};
    if (std::find(kKnown.begin(), kKnown.end(), kv.key()) == kKnown.end()) {
      return fail("unknown field '" + std::string(kv.key()) + "'");
    }
  }
  Pattern p;
  p.origin = origin;
  p.id = StringField(o, "id");
  if (p.id.empty()) return fail("pattern needs an 'id'");
  p.regex = StringField(o, "regex");
  if (p.regex.empty()) return fail("pattern '" + p.id + "' needs a 'regex'");
  p.cls = StringField(o, "class");
  if (!p.cls.empty()) {
    const auto& labels = TaxonomyLabels();
    if (std::find(labels.begin(), labels.end(), p.cls) == labels.end()) {
      return fail("pattern '" + p.id + "': class '" + p.cls + "' is not a taxonomy label");
    }
  }
  if (const json::value* s = o.if_contains("severity")) {
    if (!s->is_int64() || s->as_int64() < 0 || s->as_int64() > 100) {
      return fail("pattern '" + p.id + "': severity must be an integer 0-100");
    }
    p.severity = static_cast<int>(s->as_int64());
  }
  if (const json::value* c = o.if_contains("components"); c != nullptr && c->is_array()) {
    for (const auto& e : c->as_array()) {
      if (e.is_string()) p.components.emplace_back(e.as_string());
    }
  }
  if (const json::value* r = o.if_contains("retryable")) {
    if (!r->is_bool()) return fail("pattern '" + p.id + "': retryable must be true or false");
    p.retryable = r->as_bool();
  }
  p.remediation = StringField(o, "remediation");
  ASSIGN_OR_RETURN(p.kind, KindFromString(StringField(o, "kind")));
  ASSIGN_OR_RETURN(p.resolve, ResolveFromString(StringField(o, "resolve")));
  if (p.kind == PatternKind::kCause && p.cls.empty()) {
    return fail("pattern '" + p.id + "' needs a 'class' (or kind: wrapper)");
  }
  if (Status st = CheckRegex(p.regex); !st.ok()) {
    return fail("pattern '" + p.id + "': regex does not compile: " + st.error().message());
  }
  return p;
}

}  // namespace

const std::vector<std::string>& TaxonomyLabels() {
  static const std::vector<std::string> kLabels = {
      "executor_oom",          "executor_container_oom", "driver_oom",
      "driver_max_result_size", "spark_memory_acquire_oom", "shuffle_fetch_failure",
      "node_loss",             "executor_lost_ambiguous", "disk_full",
      "python_worker_crash",   "user_code_error",        "data_error",
      "transient_dependency",  "timeout",                "k8s_scheduling",
      "k8s_image_pull",        "config_error",           "batch_container_oom",
      "benign_noise"};
  return kLabels;
}

std::string RemediationText(std::string_view key, std::string_view cls) {
  struct Entry {
    std::string_view key;
    std::string_view text;
  };
  static constexpr Entry kTable[] = {
      {"executor_memory", "raise spark.executor.memory (x1.5, capped); raise spark.sql.shuffle.partitions or lower spark.executor.cores"},
      {"executor_overhead", "raise spark.executor.memoryOverhead / spark.kubernetes.memoryOverheadFactor (x1.5-2); for PySpark also spark.executor.pyspark.memory"},
      {"driver_memory", "raise spark.driver.memory (and driver overhead if the pod was OOMKilled)"},
      {"array_limit", "the 2 GB Java array limit was hit; more memory does not fix it: repartition or avoid huge single records/collects"},
      {"container_memory", "raise the container memory limit (x1.5, capped)"},
      {"max_result_size", "raise spark.driver.maxResultSize and spark.driver.memory; a large collect()/toPandas() is the real issue"},
      {"execution_memory", "more executor memory, fewer cores per executor, more partitions"},
      {"offheap_memory", "raise spark.memory.offHeap.size"},
      {"shuffle_partitions", "more shuffle partitions / skew handling (block over 2 GB)"},
      {"shuffle_upstream", "follow the upstream cause (executor loss: memory or node move); enable decommission with shuffle migration on Kubernetes"},
      {"on_demand", "retry with executors and the driver on on-demand capacity; enable spark.decommission.enabled and spark.storage.decommission.*"},
      {"enrich_executor_loss", "pull pod/container status: OOMKilled -> raise overhead; deleted/NodeLost -> on-demand; else one retry with +25% overhead"},
      {"local_disk", "larger or PVC-backed spark.local.dir, request ephemeral-storage, more executors/partitions"},
      {"python_worker", "if OOM-killed raise overhead / spark.executor.pyspark.memory; a native crash (segfault) is not retryable"},
      {"native_crash", "native crash in user code: fix the code; do not retry"},
      {"user_code", "fix the application code at the highlighted frame; do not retry"},
      {"packaging", "fix the job's dependencies (version conflict or missing jar/module); do not retry"},
      {"data", "surface the file and column; quarantine bad input; do not retry"},
      {"backoff", "retry with exponential backoff (e.g. 3 tries, 1/4/16 min)"},
      {"backoff_throttle", "retry with exponential backoff and lower parallelism / write batch size"},
      {"broadcast_timeout", "raise spark.sql.broadcastTimeout or set spark.sql.autoBroadcastJoinThreshold=-1"},
      {"rpc_timeout", "one retry, then raise spark.network.timeout"},
      {"deadline", "raise the deadline only if the job is healthy but slow"},
      {"scheduling", "wait/queue; if the request exceeds every eligible node, shrink it or fail fast"},
      {"quota_queue", "namespace quota exhausted: queue until capacity frees up"},
      {"image_backoff", "registry throttling or timeout: back off or use a mirror"},
      {"image_fix", "image not found: fix the image reference; do not retry"},
      {"image_credentials", "registry denied the pull: fix image pull secrets; do not retry"},
      {"rbac", "grant the service account the Kubernetes permissions Spark needs"},
      {"pod_limits", "the namespace quota requires limits: set limits.cpu / limits.memory"},
      {"pod_spec", "fix the invalid pod spec field"},
      {"min_heap", "raise spark.driver.memory / spark.executor.memory above Spark's minimum"},
      {"entrypoint", "fix the container command/entrypoint or image (not executable / not found)"},
      {"shuffle_service", "enable the external shuffle service on the nodes or disable spark.shuffle.service.enabled"},
      {"metastore_tls", "fix the metastore TLS/SASL settings"},
      {"python_env", "fix the Python environment of the workers (PYTHONPATH, packaged modules)"},
      {"secret_mount", "mount the missing secret/credential file"},
      {"admission", "the Kubernetes API or an admission webhook rejected the object; the same request is rejected every time: fix the spec; do not retry"},
      {"config_file", "a value in the job's configuration file has the wrong type or format: fix it; do not retry"},
      {"emr_validation", "EMR refused the job run's configuration (release label, execution role, spark-defaults, entry point): fix what stateDetails names; do not retry"},
      {"emr_cluster", "EMR could not reach the virtual cluster's EKS cluster or namespace: check the cluster and EMR's access to the namespace (access entry or aws-auth, RBAC); retried with back-off"},
      {"emr_internal", "an EMR on EKS internal error: retried with back-off; if it repeats, give AWS support the job run id"},
      {"emr_user", "EMR reports the application failed (USER_ERROR): read the driver's log for its exception; do not retry"},
      {"none", "not a failure; nothing to change"},
  };
  for (const auto& e : kTable) {
    if (e.key == key) return std::string(e.text);
  }
  static const std::pair<std::string_view, std::string_view> kByClass[] = {
      {"executor_oom", "executor_memory"},     {"executor_container_oom", "executor_overhead"},
      {"driver_oom", "driver_memory"},         {"driver_max_result_size", "max_result_size"},
      {"spark_memory_acquire_oom", "execution_memory"}, {"shuffle_fetch_failure", "shuffle_upstream"},
      {"node_loss", "on_demand"},              {"executor_lost_ambiguous", "enrich_executor_loss"},
      {"disk_full", "local_disk"},             {"python_worker_crash", "python_worker"},
      {"user_code_error", "user_code"},        {"data_error", "data"},
      {"transient_dependency", "backoff"},     {"timeout", "rpc_timeout"},
      {"k8s_scheduling", "scheduling"},        {"k8s_image_pull", "image_fix"},
      {"config_error", "pod_spec"},            {"batch_container_oom", "container_memory"},
      {"benign_noise", "none"}};
  for (const auto& [c, k] : kByClass) {
    if (c == cls && k != key) return RemediationText(k, cls);
  }
  return "inspect the highlighted lines";
}

Status CheckRegex(const std::string& regex) {
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile(regex.c_str(), HS_FLAG_SINGLEMATCH, HS_MODE_BLOCK, nullptr, &db, &err) !=
      HS_SUCCESS) {
    std::string why = err != nullptr && err->message != nullptr ? err->message : "unknown error";
    hs_free_compile_error(err);
    return InvalidArgument(why);
  }
  hs_free_database(db);
  return OkStatus();
}

Result<Catalog> ParseCatalog(const std::string& text, const std::string& file) {
  auto docs = YamlToJson(text);
  if (!docs.ok()) return InvalidArgument(file + ": " + docs.error().message());
  Catalog cat;
  std::vector<int> lines = RegexLines(text);
  size_t index = 0;
  for (const json::value& doc : *docs) {
    if (doc.is_null()) continue;
    const json::value* list = doc.is_object() ? doc.as_object().if_contains("patterns") : nullptr;
    if (list == nullptr || !list->is_array()) {
      return InvalidArgument(file + ":1: expected a top-level 'patterns:' list");
    }
    for (const json::value& v : list->as_array()) {
      int line = index < lines.size() ? lines[index] : 0;
      ++index;
      ASSIGN_OR_RETURN(Pattern p, PatternFromJson(v, file + ":" + std::to_string(line)));
      cat.patterns.push_back(std::move(p));
    }
  }
  return cat;
}

Result<Catalog> BuiltinCatalog() {
  return ParseCatalog(std::string(kBuiltinCatalogYaml), "catalog.yaml");
}

Result<Catalog> LoadCatalogFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("catalog file '" + path + "' cannot be opened; check the path");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseCatalog(ss.str(), path);
}

void MergeCatalog(Catalog& base, Catalog extra) {
  for (Pattern& p : extra.patterns) {
    auto it = std::find_if(base.patterns.begin(), base.patterns.end(),
                           [&](const Pattern& b) { return b.id == p.id; });
    if (it != base.patterns.end()) {
      *it = std::move(p);
    } else {
      base.patterns.push_back(std::move(p));
    }
  }
}

Status MergeDefinitionPatterns(Catalog& base, const std::vector<std::string>& retry_on,
                               const std::vector<std::string>& fatal_on) {
  Catalog extra;
  auto add = [&](const std::vector<std::string>& list, const char* name, bool retry) -> Status {
    for (size_t i = 0; i < list.size(); ++i) {
      std::string origin = std::string("definition:") + name + "[" + std::to_string(i) + "]";
      if (Status st = CheckRegex(list[i]); !st.ok()) {
        return InvalidArgument(origin + ": regex does not compile: " + st.error().message());
      }
      Pattern p;
      p.id = std::string("definition.") + name + "." + std::to_string(i);
      p.regex = list[i];
      p.cls = retry ? "transient_dependency" : "user_code_error";
      p.severity = 95;
      p.retryable = retry;
      p.remediation = retry ? "backoff" : "user_code";
      p.origin = origin;
      extra.patterns.push_back(std::move(p));
    }
    return OkStatus();
  };
  RETURN_IF_ERROR(add(retry_on, "retry_on", true));
  RETURN_IF_ERROR(add(fatal_on, "fatal_on", false));
  MergeCatalog(base, std::move(extra));
  return OkStatus();
}

}  // namespace tug::diagnose
