// The kubernetes engine's view of its pods: the informers' lists and events become component
// states (running, waiting, ended), an attempt's end is decided from its components, a removed
// node ends what ran on it, and the timer loop runs the finishes, the pending timeouts and the
// deletions of finished pods.
#include <chrono>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/log.h"
#include "engine/kubernetes/kubernetes_engine.h"

namespace tug::engine::kubernetes {
namespace json = boost::json;

namespace {

// A component's wait while no scheduler has looked at its pod (PodState::unassigned_scheduler);
// it ends as Unschedulable.
constexpr char kNotScheduled[] = "NotScheduled";

// Registry answers that mean the image will never come.
bool PullNeverWorks(const std::string& message) {
  for (const char* s : {"not found", "manifest unknown", "unauthorized", "denied",
                        "repository does not exist", "invalid reference format"}) {
    if (message.find(s) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

void KubernetesEngine::OnPodSync(const std::vector<json::value>& items) {
  std::set<std::string> present;
  for (const auto& p : items) {
    present.insert(StringAt(p, {"metadata", "name"}));
    HandlePod(p, false);
  }
  Micros now = clock_.Now();
  std::lock_guard lock(mu_);
  synced_ = true;
  last_error_.clear();
  for (auto& [id, t] : tracked_) {
    // Launched in the last seconds: the list may predate the create.
    if (t.ended || now - t.first_seen <= 10 * kMicrosPerSecond) continue;
    std::vector<std::string> vanished;
    for (auto& [name, c] : t.components) {
      if (!c.ended && !c.pod.empty() && present.count(c.pod) == 0) vanished.push_back(name);
    }
    for (const auto& name : vanished) {
      if (t.stop_requested) {
        EndComponent(t, name, AttemptStatus::kStopped,
                     Outcome{143, std::string(reason::kStopped), "stopped by request"}, now);
      } else {
        EndComponent(t, name, AttemptStatus::kFailed,
                     Outcome{std::nullopt, "Deleted",
                             "the pod was deleted while the attempt ran (by a user, a node drain "
                             "or the cluster's preemption)"},
                     now);
      }
    }
  }
}

void KubernetesEngine::OnPodEvent(const kube::WatchEvent& e) {
  if (e.type == "ADDED" || e.type == "MODIFIED") HandlePod(e.object, false);
  if (e.type == "DELETED") HandlePod(e.object, true);
}

void KubernetesEngine::EndComponent(Tracked& t, const std::string& component, AttemptStatus status,
                                    Outcome outcome, Micros at) {
  auto it = t.components.find(component);
  if (it == t.components.end() || it->second.ended) return;
  MarkEnded(it->second, status, outcome, at, clock_.Now());
  Decide(t, at);
}

void KubernetesEngine::Decide(Tracked& t, Micros now) {
  if (t.ended) return;
  std::optional<AttemptEnding> end = DecideEnd(t.components, t.stop_requested, now);
  if (!end) return;
  t.ended = true;
  if (end->ended_at == 0) end->ended_at = now;
  // Finish reads the rest of the logs over HTTP: not on the watch thread.
  work_.push_back([this, id = t.attempt_id, e = *end] { FinishNow(id, e); });
  cv_.notify_all();
}

void KubernetesEngine::HandlePod(const json::value& pod, bool deleted) {
  PodState st = ReadPod(pod);
  const std::string name = StringAt(pod, {"metadata", "name"});
  Micros now = clock_.Now();
  std::optional<Update> started;
  std::optional<std::string> note;
  std::string attempt_id;
  {
    std::lock_guard lock(mu_);
    auto pit = by_pod_.find(name);
    if (pit == by_pod_.end()) {
      // Another pod of an attempt we watch (Spark's driver and executors)?
      auto t = tracked_.find(st.attempt_id);
      if (st.attempt_id.empty() || t == tracked_.end() || t->second.ended) return;
      std::string comp = SideComponent(pod);
      if (comp.empty() || comp == FirstComponent()) return;
      ComponentView& c = t->second.components[comp];
      if (!c.pod.empty() && c.pod != name) return;  // a second pod claiming one name
      c.pod = name;
      c.status.name = comp;
      c.status.pod = name;
      c.status.state = "pending";
      pit = by_pod_.emplace(name, PodKey{st.attempt_id, comp}).first;
    }
    attempt_id = pit->second.attempt_id;
    const std::string comp = pit->second.component;
    auto tit = tracked_.find(attempt_id);
    if (tit == tracked_.end()) return;
    Tracked& t = tit->second;
    if (t.ended) return;
    ComponentView& c = t.components[comp];
    if (c.ended) return;
    last_pod_[name] = pod;
    if (!st.node_name.empty()) c.status.node = st.node_name;
    if (c.status.capacity.empty()) c.status.capacity = CapacityOf(pod, options_.pod);
    if (c.app_id.empty()) c.app_id = StringAt(pod, {"metadata", "labels", "spark-app-selector"});
    if (std::string ip = StringAt(pod, {"status", "podIP"}); !ip.empty()) c.pod_ip = ip;
    if (c.container.empty()) {
      const json::value* cs = pod.as_object().if_contains("spec");
      if (cs != nullptr) {
        const json::value* list = cs->as_object().if_contains("containers");
        if (list != nullptr && list->is_array() && !list->as_array().empty()) {
          c.container = StringAt(list->as_array()[0], {"name"});
        }
      }
    }
    const bool running = st.phase == PodState::Phase::kRunning || st.started_at > 0;
    if (running) {
      if (c.status.started_at == 0) c.status.started_at = st.started_at > 0 ? st.started_at : now;
      if (st.phase == PodState::Phase::kRunning) c.status.state = "running";
      StartFollower(t, comp);
    }
    if (running && comp == FirstComponent() && !t.started_sent) {
      t.started_sent = true;
      Update u;
      u.kind = Update::Kind::kStarted;
      u.attempt_id = attempt_id;
      u.at = st.started_at > 0 ? st.started_at : now;
      u.message = fmt::format("pod {} running on node {}", name, st.node_name);
      started = u;
    } else if (running && comp != FirstComponent() && c.status.state == "running" &&
               !c.start_noted) {
      c.start_noted = true;
      note = fmt::format("{} pod {} running on node {}", comp, name, st.node_name);
    }
    std::optional<std::pair<AttemptStatus, Outcome>> end;
    if (st.phase == PodState::Phase::kEnded) {
      Outcome o = st.outcome;
      AttemptStatus s = st.status;
      if (t.stop_requested && s != AttemptStatus::kSucceeded) {
        s = AttemptStatus::kStopped;
        o.reason = std::string(reason::kStopped);
        if (o.message.empty() || o.message.rfind("exit code", 0) == 0) {
          o.message = "stopped by request";
        }
      }
      end = {s, o};
    } else if (deleted) {
      if (t.stop_requested) {
        end = {AttemptStatus::kStopped,
               Outcome{143, std::string(reason::kStopped), "stopped by request"}};
      } else if (st.disruption) {
        end = {AttemptStatus::kFailed, Outcome{std::nullopt, "NodeLost", st.disruption_message}};
      } else {
        end = {AttemptStatus::kFailed,
               Outcome{std::nullopt, "Deleted",
                       "the pod was deleted while the attempt ran (by a user, a node drain or "
                       "the cluster's preemption)"}};
      }
    } else if (!st.waiting_reason.empty()) {
      if (st.waiting_reason != c.waiting_reason) {
        c.waiting_reason = st.waiting_reason;
        c.waiting_since = now;
        note = fmt::format("pod {} waiting: {}{}", name, st.waiting_reason,
                           st.waiting_message.empty() ? "" : ": " + st.waiting_message);
      }
      bool pull = st.waiting_reason == "ErrImagePull" || st.waiting_reason == "ImagePullBackOff";
      if (pull && PullNeverWorks(st.waiting_message)) {
        end = {AttemptStatus::kFailed,
               Outcome{std::nullopt, st.waiting_reason, st.waiting_message}};
      }
    } else if (!st.unassigned_scheduler.empty()) {
      // No scheduler has looked at the pod yet. One named in spec.schedulerName that is not
      // running leaves it so forever, with no event: time it like Unschedulable, without a
      // timeline note (a running scheduler takes the pod within a second).
      if (c.waiting_reason != kNotScheduled) {
        c.waiting_reason = kNotScheduled;
        c.waiting_since = now;
      }
    } else if (!c.waiting_reason.empty()) {
      c.waiting_reason.clear();
      c.waiting_since = 0;
    }
    if (end) {
      EndComponent(t, comp, end->first, end->second, st.ended_at > 0 ? st.ended_at : now);
    } else {
      Decide(t, now);
    }
  }
  if (note) {
    Update u;
    u.kind = Update::Kind::kEvent;
    u.attempt_id = attempt_id;
    u.at = now;
    u.message = *note;
    Send(u);
  }
  if (started) Send(*started);
}

void KubernetesEngine::NodeGone(const std::string& node, const std::string& message) {
  std::vector<std::string> pods;
  {
    std::lock_guard lock(mu_);
    Micros now = clock_.Now();
    for (auto& [id, t] : tracked_) {
      if (t.ended) continue;
      std::vector<std::string> lost;
      for (auto& [name, c] : t.components) {
        if (!c.ended && c.status.node == node) lost.push_back(name);
      }
      for (const auto& name : lost) {
        pods.push_back(t.components[name].pod);
        EndComponent(t, name, AttemptStatus::kFailed, Outcome{std::nullopt, "NodeLost", message},
                     now);
      }
    }
  }
  // The pod objects outlive their node until the garbage collector runs; remove them now.
  for (const auto& pod : pods) (void)client_.Delete(PodPath(pod), 0);
}

void KubernetesEngine::TimerLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (!work_.empty()) {
      auto job = std::move(work_.front());
      work_.pop_front();
      lock.unlock();
      job();
      lock.lock();
      continue;
    }
    Micros now = clock_.Now();
    for (auto& [id, t] : tracked_) {
      if (t.ended) continue;
      // Pending too long.
      for (auto& [name, c] : t.components) {
        if (c.ended || c.waiting_since == 0 || !Essential(name)) continue;
        bool pull = c.waiting_reason == "ErrImagePull" || c.waiting_reason == "ImagePullBackOff";
        Micros limit = pull ? options_.image_pull_grace : options_.pending_timeout;
        if (now - c.waiting_since < limit) continue;
        std::string message;
        std::string scheduler;
        if (auto p = last_pod_.find(c.pod); p != last_pod_.end()) {
          PodState ps = ReadPod(p->second);
          message = ps.waiting_message;
          scheduler = ps.unassigned_scheduler;
        }
        const int64_t waited = (now - c.waiting_since) / kMicrosPerSecond;
        Outcome o{std::nullopt, c.waiting_reason,
                  fmt::format("{} for {}s: {}", c.waiting_reason, waited, message)};
        if (c.waiting_reason == kNotScheduled) {
          o.reason = "Unschedulable";
          o.message = fmt::format(
              "no scheduler took the pod in {}s: it names the scheduler '{}'; is that scheduler "
              "running? (kubernetes.scheduler_name / the cluster's scheduler_name)",
              waited, scheduler);
        }
        EndComponent(t, name, AttemptStatus::kFailed, o, now);
        if (t.ended) break;
      }
      // Ends that wait for time (a driver done, its spark-submit not yet).
      Decide(t, now);
    }
    // Pods to delete.
    std::vector<std::string> due;
    for (auto it = delete_at_.begin(); it != delete_at_.end();) {
      if (it->second <= now) {
        due.push_back(it->first);
        it = delete_at_.erase(it);
      } else {
        ++it;
      }
    }
    if (!due.empty()) {
      lock.unlock();
      for (const auto& pod : due) {
        auto r = client_.Delete(PodPath(pod), 0);
        if (!r.ok() && r.error().code() != Code::kNotFound) {
          log::Warn("kubernetes: deleting a finished pod failed",
                    {{"pod", pod}, {"error", r.error().ToString()}});
          std::lock_guard again(mu_);
          delete_at_[pod] = clock_.Now() + 5 * kMicrosPerSecond;
        }
      }
      lock.lock();
      continue;
    }
    if (!work_.empty()) continue;
    cv_.wait_for(lock, std::chrono::milliseconds(500));
  }
}

}  // namespace tug::engine::kubernetes
