// The kubernetes engine's usage sampling: the pods' metrics from the cluster's metrics API
// (metrics.k8s.io/v1beta1, an aggregated API that metrics-server serves) become kUsage updates,
// one per attempt with one reading per component (its pod).
//
// The API is optional: it is looked for when the loop starts and, while it is absent (404, 503
// from the aggregator, 403 without the RBAC rule), again every metrics_recheck; absence is
// logged once at info. One list call per interval covers every pod with our label; pods of
// attempts this engine does not track (the other engine on the same cluster) are ignored.
// With options_.usage_source (Prometheus) the samples come from there instead, and the metrics
// API is never looked for.
#include <chrono>
#include <set>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/log.h"
#include "engine/kubernetes/kubernetes_engine.h"
#include "engine/kubernetes/usage.h"

namespace tug::engine::kubernetes {
namespace json = boost::json;

namespace {

// The API server (or its aggregator) answered: the API is absent or forbidden, not merely out
// of reach for a moment.
bool Answered(const Error& e) { return e.detail().rfind("HTTP ", 0) == 0; }

}  // namespace

void KubernetesEngine::UsageLoop() {
  using Steady = std::chrono::steady_clock;
  const auto interval = std::chrono::microseconds(options_.usage_interval);
  const auto recheck = std::chrono::microseconds(options_.metrics_recheck);
  const bool external = static_cast<bool>(options_.usage_source);
  bool present = external;
  bool said_absent = false;  // "no metrics API" logged since it was last present
  bool said_failing = false;  // the external source's failure logged since it last answered
  Steady::time_point look_at = Steady::now();
  std::map<std::string, Micros> last_at;  // pod → time of its sample sent last
  std::unique_lock lock(mu_);
  while (!stopping_) {
    bool running = false;
    for (const auto& [id, t] : tracked_) running = running || (t.started_sent && !t.ended);
    lock.unlock();
    if (!present && Steady::now() >= look_at) {
      auto found = client_.Get(kMetricsApiPath);
      present = found.ok() && ServesPodMetrics(*found);
      if (present) {
        said_absent = false;
        log::Info("kubernetes: metrics API found; sampling pod usage",
                  {{"cluster", options_.cluster}, {"engine", options_.name}});
      } else if (found.ok() || Answered(found.error())) {
        look_at = Steady::now() + recheck;
        if (!said_absent) {
          said_absent = true;
          log::Info(
              "kubernetes: no metrics API (metrics.k8s.io/v1beta1); pod usage is not sampled "
              "(install metrics-server for usage charts)",
              {{"cluster", options_.cluster},
               {"engine", options_.name},
               {"answer", found.ok() ? "no pods resource" : found.error().ToString()}});
        }
      } else {
        log::Debug("kubernetes: looking for the metrics API failed; trying again",
                   {{"cluster", options_.cluster}, {"error", found.error().ToString()}});
      }
    }
    if (present && running) {
      Status polled = PollUsage(last_at);
      if (external) {
        if (!polled.ok() && !said_failing) {
          log::Warn("kubernetes: reading pod usage from the usage source failed; trying again",
                    {{"cluster", options_.cluster}, {"error", polled.error().ToString()}});
        }
        said_failing = !polled.ok();
      } else if (!polled.ok() && Answered(polled.error())) {
        // metrics-server was removed or is down (the aggregator answers 503): look again later.
        present = false;
        look_at = Steady::now() + recheck;
        log::Info("kubernetes: the metrics API stopped answering; pod usage is not sampled",
                  {{"cluster", options_.cluster}, {"error", polled.error().ToString()}});
        said_absent = true;
      } else if (!polled.ok()) {
        log::Debug("kubernetes: listing pod metrics failed",
                   {{"cluster", options_.cluster}, {"error", polled.error().ToString()}});
      }
    }
    lock.lock();
    cv_.wait_for(lock, interval, [this] { return stopping_; });
  }
}

Status KubernetesEngine::PollUsage(std::map<std::string, Micros>& last_at) {
  std::vector<PodMetricsSample> samples;
  if (options_.usage_source) {
    ASSIGN_OR_RETURN(samples, options_.usage_source(options_.pod.namespace_));
    metrics_polls_.fetch_add(1);
  } else {
    ASSIGN_OR_RETURN(kube::ListResult list,
                     client_.List(std::string(kMetricsApiPath) + "/namespaces/" +
                                      kube::Escape(options_.pod.namespace_) + "/pods",
                                  {{"labelSelector", std::string(kLabelManaged) + "=true"}}));
    metrics_polls_.fetch_add(1);
    for (const json::value& item : list.items) {
      auto s = ReadPodMetrics(item);
      if (s.ok()) {
        samples.push_back(std::move(*s));
      } else {
        log::Debug("kubernetes: unreadable pod metrics", {{"error", s.error().ToString()}});
      }
    }
  }
  std::map<std::string, UsagePod> pods;
  std::set<std::string> live;  // the pods of attempts still running
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, key] : by_pod_) {
      auto t = tracked_.find(key.attempt_id);
      if (t != tracked_.end() && !t->second.ended) live.insert(name);
    }
    for (const PodMetricsSample& s : samples) {
      auto key = by_pod_.find(s.pod);
      if (key == by_pod_.end()) continue;
      auto t = tracked_.find(key->second.attempt_id);
      // Usage follows kStarted and stops with the end; the pod of a component that ended may
      // still have metrics for a while.
      if (t == tracked_.end() || !t->second.started_sent || t->second.ended) continue;
      auto c = t->second.components.find(key->second.component);
      if (c == t->second.components.end() || c->second.ended) continue;
      UsagePod& p = pods[s.pod];
      p.attempt_id = key->second.attempt_id;
      p.component = key->second.component;
      auto first = t->second.components.find(FirstComponent());
      if (first != t->second.components.end()) p.started_at = first->second.status.started_at;
      if (auto pod = last_pod_.find(s.pod); pod != last_pod_.end()) {
        p.limits = LimitsOf(pod->second);
      }
    }
  }
  // metrics-server measures every 15 s or so (its resolution), so most lists repeat the last
  // sample of a pod: each sample is sent once, and an update carries the components that have
  // a new one.
  std::erase_if(last_at, [&](const auto& kv) { return live.count(kv.first) == 0; });
  std::vector<PodMetricsSample> fresh;
  for (const PodMetricsSample& s : samples) {
    if (pods.count(s.pod) == 0) continue;
    auto [last, first] = last_at.try_emplace(s.pod, s.timestamp);
    if (!first && s.timestamp != 0 && s.timestamp <= last->second) continue;
    last->second = s.timestamp;
    fresh.push_back(s);
  }
  std::vector<Update> updates = UsageUpdates(fresh, pods, clock_.Now());
  if (updates.empty()) return OkStatus();
  std::lock_guard lock(mu_);
  work_.emplace_back([this, updates = std::move(updates)] { SendUsage(updates); });
  cv_.notify_all();
  return OkStatus();
}

void KubernetesEngine::SendUsage(const std::vector<Update>& updates) {
  std::vector<const Update*> due;
  {
    std::lock_guard lock(mu_);
    for (const Update& u : updates) {
      auto t = tracked_.find(u.attempt_id);
      // Ended since it was sampled: its kEnded is queued after this, or already sent.
      if (t != tracked_.end() && !t->second.ended) due.push_back(&u);
    }
  }
  for (const Update* u : due) Send(*u);
}

}  // namespace tug::engine::kubernetes
