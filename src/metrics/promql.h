#pragma once
/// A PromQL reader over the Prometheus HTTP API (`/api/v1/query_range`), the alternative source
/// of run usage charts where a cluster's Prometheus (or VictoriaMetrics, which serves the same
/// API) already scrapes the kubelets' cAdvisor: `container_memory_working_set_bytes` and the rate
/// of `container_cpu_usage_seconds_total` per pod.
///
/// Parsing is pure (ParseQueryResponse: recorded responses are its tests); PrometheusReader adds
/// the HTTP client (net::HttpClient, so no Asio/Beast here).
///
/// Lifecycle: Create() checks the URL (no I/O); the first query connects; the connection is kept.
/// Threading: a reader is thread-safe (one request at a time; callers queue on a mutex).
/// Errors: the API's own errors keep its message: bad_data → kInvalidArgument, execution →
/// kInvalidArgument (a query Prometheus cannot evaluate), timeout → kDeadlineExceeded, canceled →
/// kCancelled, unavailable → kUnavailable, not_found → kNotFound, anything else (and a body that
/// is not the documented envelope) → kInternal. Transport: kUnavailable (unreachable) and
/// kDeadlineExceeded (no answer in time) as net::HttpClient reports them.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace tug::net {
class HttpClient;
}

namespace tug::metrics {

struct PromPoint {
  Micros at = 0;
  double value = 0;  // NaN and ±Inf come through as such
};

/// One series of a matrix (or vector: one point) result.
struct PromSeries {
  std::map<std::string, std::string> labels;  // the metric's labels (`__name__` when kept)
  std::vector<PromPoint> points;              // oldest first
};

/// Parses a query or query_range answer, `{"status":"success","data":{"resultType":"matrix",
/// "result":[{"metric":{...},"values":[[<unix seconds>, "<value>"], ...]}]}}` ("vector" results
/// carry one "value" each; "scalar" becomes one series without labels). Error answers
/// (`{"status":"error","errorType":..,"error":..}`, whatever the HTTP status) map as above.
[[nodiscard]] Result<std::vector<PromSeries>> ParseQueryResponse(int http_status,
                                                                 std::string_view body);

struct PrometheusOptions {
  /// Base URL: "http://prometheus.monitoring:9090", or with a path prefix
  /// ("http://vmselect:8481/select/0/prometheus" for VictoriaMetrics cluster).
  std::string url;
  std::chrono::milliseconds timeout{10000};
  /// Sent as `Authorization: Bearer ...` when set.
  std::string bearer_token;
  /// Prometheus refuses a range with more than 11,000 points per series; steps are widened so a
  /// range never asks for more than this.
  int64_t max_points = 11000;
};

class PrometheusReader {
 public:
  [[nodiscard]] static Result<std::unique_ptr<PrometheusReader>> Create(PrometheusOptions options);
  ~PrometheusReader();
  PrometheusReader(const PrometheusReader&) = delete;
  PrometheusReader& operator=(const PrometheusReader&) = delete;

  /// `query` evaluated every `step_seconds` from `start` to `end` (the step is widened to keep
  /// within max_points). kInvalidArgument for an empty query, end before start or step < 1.
  [[nodiscard]] Result<std::vector<PromSeries>> QueryRange(const std::string& query, Micros start,
                                                           Micros end, int64_t step_seconds);

  /// `query` evaluated at `at` (an instant query: vector results have one point per series).
  [[nodiscard]] Result<std::vector<PromSeries>> Query(const std::string& query, Micros at);

  const PrometheusOptions& options() const { return options_; }

 private:
  PrometheusReader(PrometheusOptions options, std::unique_ptr<net::HttpClient> client);
  Result<std::vector<PromSeries>> Post(const std::string& path, const std::string& form);
  PrometheusOptions options_;
  std::mutex mu_;  // guards client_ (net::HttpClient is not thread-safe)
  std::unique_ptr<net::HttpClient> client_;
};

/// The step a range query uses: `step_seconds`, widened so (end - start) / step stays within
/// max_points.
int64_t EffectiveStep(Micros start, Micros end, int64_t step_seconds, int64_t max_points);

/// `s` as a PromQL double-quoted string literal's contents (\\, \", newlines escaped).
std::string PromQuote(std::string_view s);
/// `s` with RE2's metacharacters escaped, for a `=~` matcher that must match it literally.
std::string RegexLiteral(std::string_view s);

/// Run usage from cAdvisor's series for the pods of one attempt: `tug-<attempt>` (a pod, or
/// Spark's controller) and the pods named after it (`-driver`, `-exec-N`).
struct PodUsageQuery {
  std::string namespace_;
  std::string pod_base;  // kubernetes::PodName(attempt id)
  Micros start = 0;
  Micros end = 0;
  int64_t step_seconds = 15;
  /// The rate() window for CPU; at least two scrape intervals of the cluster's Prometheus.
  int64_t rate_window_seconds = 60;
};

/// `sum by (pod) (container_memory_working_set_bytes{namespace="..", pod=~"..",
/// container!="", container!="POD"})`: the containers of each pod, without the pod-level cgroup
/// series (container="") and the pause container, which would count the memory twice.
std::string MemoryQuery(const PodUsageQuery& q);
/// `sum by (pod) (rate(container_cpu_usage_seconds_total{...}[<window>s]))`, in cores.
std::string CpuQuery(const PodUsageQuery& q);

struct PodUsagePoint {
  Micros at = 0;
  int64_t memory_bytes = -1;  // -1: no sample at this step
  int64_t cpu_millis = -1;
};

/// Per pod name: memory and CPU at each step, oldest first (one query each). Series without a
/// `pod` label are ignored.
[[nodiscard]] Result<std::map<std::string, std::vector<PodUsagePoint>>> ReadPodUsage(
    PrometheusReader& reader, const PodUsageQuery& q);

/// The current usage of every pod named `<pod_prefix>...` in a namespace (the engine's periodic
/// sample, instead of the metrics API): one instant query for memory, one for the CPU rate over
/// `rate_window_seconds`. A pod missing from one of them has -1 there.
struct PodUsageNow {
  std::string pod;
  Micros at = 0;
  int64_t memory_bytes = -1;
  int64_t cpu_millis = -1;
};
[[nodiscard]] Result<std::vector<PodUsageNow>> ReadNamespaceUsage(PrometheusReader& reader,
                                                                  const std::string& namespace_,
                                                                  const std::string& pod_prefix,
                                                                  Micros at,
                                                                  int64_t rate_window_seconds);

}  // namespace tug::metrics
