// The kubernetes engine's reads per component: its log (a follower while the pod runs, one
// final read at the end, before kEnded is sent) and its Kubernetes events.
#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/log.h"
#include "engine/kubernetes/kubernetes_engine.h"
#include "engine/kubernetes/log_follower.h"

namespace tug::engine::kubernetes {
namespace json = boost::json;

void KubernetesEngine::FinishNow(const std::string& attempt_id, const AttemptEnding& end) {
  std::vector<std::pair<std::string, std::shared_ptr<LogFollower>>> followers;
  std::vector<ComponentStatus> components;
  std::string app_id;
  {
    std::lock_guard lock(mu_);
    auto it = tracked_.find(attempt_id);
    if (it == tracked_.end()) return;
    Tracked& t = it->second;
    for (auto& [name, c] : t.components) {
      if (c.pod.empty()) continue;
      auto f = t.followers.find(name);
      std::shared_ptr<LogFollower> follower;
      if (f != t.followers.end()) {
        follower = f->second;
      } else {
        // Ended before we saw it run (fast jobs, adopt after the end): one read of the whole
        // log.
        follower = NewFollower(t, name);
      }
      if (follower) followers.emplace_back(name, follower);
      if (!c.app_id.empty()) app_id = c.app_id;
      components.push_back(c.status);
    }
  }
  for (auto& [name, follower] : followers) {
    if (follower->thread.joinable()) {
      follower->cancel.Cancel();
      follower->thread.join();
    }
    Status rest = ReadRestOfLog(client_, *follower);
    if (!rest.ok() && rest.error().code() != Code::kNotFound) {
      // Container never started (image pull, config error): no log; anything else is noted.
      log::Debug(
          "kubernetes: final log read failed",
          {{"attempt", attempt_id}, {"component", name}, {"error", rest.error().ToString()}});
    }
  }
  Update u;
  u.kind = Update::Kind::kEnded;
  u.attempt_id = attempt_id;
  u.at = end.ended_at;
  u.status = end.status;
  u.outcome = end.outcome;
  // One-pod attempts keep the attempt's own outcome only; several pods list each one.
  if (components.size() > 1) u.components = std::move(components);
  u.app_id = app_id;
  Send(u);
}

std::shared_ptr<LogFollower> KubernetesEngine::NewFollower(Tracked& t,
                                                           const std::string& component) const {
  const ComponentView& c = t.components[component];
  auto f = std::make_shared<LogFollower>();
  f->log_path = PodPath(c.pod) + "/log";
  f->container = c.container.empty() ? std::string(kContainerName) : c.container;
  f->component = component;
  f->cap_bytes = options_.component_log_cap;
  f->total_cap_bytes = options_.attempt_log_cap;
  f->total_written = t.log_bytes;
  auto file = logs_.PathFor(t.run_id, t.attempt_id, component);
  if (!file.ok()) {
    log::Warn("kubernetes: no log file for attempt",
              {{"attempt", t.attempt_id}, {"error", file.error().ToString()}});
    return nullptr;
  }
  f->file = *file;
  f->ResumeFromFile();  // after a restart: skip what the file already holds
  return f;
}

void KubernetesEngine::StartFollower(Tracked& t, const std::string& component) {
  if (t.followers.count(component) > 0) return;
  std::shared_ptr<LogFollower> f = NewFollower(t, component);
  if (!f) return;
  t.followers[component] = f;
  f->thread = std::thread([this, f] {
    FollowLog(client_, *f, [&](std::chrono::milliseconds pause) {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, pause, [&] { return f->cancel.cancelled() || stopping_; });
      return !stopping_;
    });
  });
}

void KubernetesEngine::OnEventObject(const json::value& ev) {
  const std::string pod = StringAt(ev, {"involvedObject", "name"});
  const std::string uid = StringAt(ev, {"metadata", "uid"});
  std::string attempt_id;
  std::string component;
  {
    std::lock_guard lock(mu_);
    auto it = by_pod_.find(pod);
    if (it == by_pod_.end()) return;
    Tracked& t = tracked_[it->second.attempt_id];
    if (!t.event_uids.insert(uid).second) return;
    attempt_id = it->second.attempt_id;
    component = it->second.component;
  }
  events_seen_.fetch_add(1);
  Update u;
  u.kind = Update::Kind::kEvent;
  u.attempt_id = attempt_id;
  u.at = EventTime(ev);
  if (u.at == 0) u.at = clock_.Now();
  u.message = fmt::format("k8s {} {}{}: {}", StringAt(ev, {"type"}), StringAt(ev, {"reason"}),
                          component == FirstComponent() ? "" : " (" + component + ")",
                          StringAt(ev, {"message"}));
  Send(u);
  if (options_.prune_events) {
    std::string ns = StringAt(ev, {"metadata", "namespace"});
    std::string name = StringAt(ev, {"metadata", "name"});
    (void)client_.Delete("/api/v1/namespaces/" + kube::Escape(ns) + "/events/" + kube::Escape(name),
                         0);
  }
}

}  // namespace tug::engine::kubernetes
