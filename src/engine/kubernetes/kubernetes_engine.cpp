#include "engine/kubernetes/kubernetes_engine.h"

#include <cstdio>
#include <deque>
#include <functional>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/ids.h"
#include "core/log.h"
#include "engine/kubernetes/log_follower.h"

namespace tug::engine::kubernetes {
namespace json = boost::json;

KubernetesEngine::KubernetesEngine(KubernetesEngineOptions options, kube::Client& client,
                                   logs::LogStore& logs, const Clock& clock)
    : options_(std::move(options)), client_(client), logs_(logs), clock_(clock) {}

KubernetesEngine::~KubernetesEngine() { Shutdown(); }

void KubernetesEngine::SetSink(UpdateSink sink) { sink_ = std::move(sink); }

std::string KubernetesEngine::PodsPath() const {
  return "/api/v1/namespaces/" + kube::Escape(options_.pod.namespace_) + "/pods";
}
std::string KubernetesEngine::PodPath(const std::string& pod) const {
  return PodsPath() + "/" + kube::Escape(pod);
}
std::string KubernetesEngine::Ref(const std::string& pod) const {
  return json::serialize(json::object{
      {"cluster", options_.cluster}, {"namespace", options_.pod.namespace_}, {"pod", pod}});
}

void KubernetesEngine::Start() {
  std::map<std::string, std::string> sel{{"labelSelector", std::string(kLabelManaged) + "=true"}};
  kube::Informer::Handlers ph;
  ph.on_sync = [this](const std::vector<json::value>& items) { OnPodSync(items); };
  ph.on_event = [this](const kube::WatchEvent& e) { OnPodEvent(e); };
  ph.on_error = [this](const Error& e) {
    std::lock_guard lock(mu_);
    last_error_ = e.message();
  };
  pods_ = std::make_unique<kube::Informer>(client_, PodsPath(), sel, ph);
  kube::Informer::Handlers eh;
  eh.on_sync = [this](const std::vector<json::value>& items) {
    for (const auto& ev : items) OnEventObject(ev);
  };
  eh.on_event = [this](const kube::WatchEvent& e) {
    if (e.type == "ADDED" || e.type == "MODIFIED") OnEventObject(e.object);
  };
  events_ = std::make_unique<kube::Informer>(
      client_, "/api/v1/namespaces/" + kube::Escape(options_.pod.namespace_) + "/events",
      std::map<std::string, std::string>{{"fieldSelector", "involvedObject.kind=Pod"}}, eh);
  if (options_.watch_nodes) {
    kube::Informer::Handlers nh;
    nh.on_sync = [this](const std::vector<json::value>& items) {
      std::set<std::string> names;
      for (const auto& n : items) names.insert(StringAt(n, {"metadata", "name"}));
      std::set<std::string> gone;
      {
        std::lock_guard lock(mu_);
        for (auto& [id, t] : tracked_) {
          for (auto& [name, c] : t.components) {
            if (!t.ended && !c.ended && !c.status.node.empty() && names.count(c.status.node) == 0) {
              gone.insert(c.status.node);
            }
          }
        }
      }
      for (const auto& node : gone) {
        NodeGone(node, fmt::format("node {} was removed from the cluster", node));
      }
    };
    nh.on_event = [this](const kube::WatchEvent& e) {
      if (e.type != "DELETED") return;
      const std::string node = StringAt(e.object, {"metadata", "name"});
      NodeGone(node, fmt::format("node {} was removed while the pod ran on it", node));
    };
    nodes_ = std::make_unique<kube::Informer>(client_, "/api/v1/nodes",
                                              std::map<std::string, std::string>{}, nh);
  }
  pods_->Start();
  events_->Start();
  if (nodes_) nodes_->Start();
  timer_ = std::thread([this] { TimerLoop(); });
  if (options_.usage_interval > 0) usage_ = std::thread([this] { UsageLoop(); });
}

void KubernetesEngine::Send(const Update& u) {
  if (sink_) sink_(u);
}

Result<json::value> KubernetesEngine::FirstPod(const LaunchSpec& spec) {
  if (spec.kind != "container") {
    return InvalidArgument(fmt::format(
        "the kubernetes engine runs container jobs; kind {} runs on the spark engine", spec.kind));
  }
  if (spec.image.empty()) {
    return InvalidArgument(
        "the kubernetes engine runs container images; the definition has no "
        "image (add e.g. image: python:3.11)");
  }
  RETURN_IF_ERROR(CheckSecretsByReference(spec, "kubernetes"));
  return BuildPod(spec, options_.pod);
}

std::optional<AttemptEnding> KubernetesEngine::DecideEnd(
    std::map<std::string, ComponentView>& components, bool /*stop_requested*/, Micros /*now*/) {
  auto it = components.find(FirstComponent());
  if (it == components.end() || !it->second.ended) return std::nullopt;
  return AttemptEnding{it->second.end_status, it->second.end_outcome, it->second.ended_at};
}

Result<std::string> KubernetesEngine::Launch(const LaunchSpec& spec) {
  ASSIGN_OR_RETURN(json::value pod, FirstPod(spec));
  const std::string name = StringAt(pod, {"metadata", "name"});
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Unavailable("the kubernetes engine is shutting down");
    Tracked& t = tracked_[spec.attempt_id];
    t.run_id = spec.run_id;
    t.attempt_id = spec.attempt_id;
    ComponentView& c = t.components[FirstComponent()];
    c.pod = name;
    c.status.name = FirstComponent();
    c.status.pod = name;
    c.status.state = "pending";
    if (t.first_seen == 0) t.first_seen = clock_.Now();
    by_pod_[name] = {spec.attempt_id, FirstComponent()};
  }
  auto created = client_.Post(PodsPath(), pod);
  if (!created.ok() && created.error().code() == Code::kAlreadyExists) {
    // Launch is idempotent: the pod of this attempt exists (an earlier try got this far).
    created = client_.Get(PodPath(name));
    if (created.ok() &&
        StringAt(*created, {"metadata", "annotations", kAnnotationAttempt}) != spec.attempt_id) {
      created = FailedPrecondition(
          fmt::format("pod {} exists in namespace {} but belongs to another attempt", name,
                      options_.pod.namespace_));
    }
  }
  if (!created.ok()) {
    {
      std::lock_guard lock(mu_);
      tracked_.erase(spec.attempt_id);
      by_pod_.erase(name);
    }
    const Error& e = created.error();
    if (e.code() == Code::kInvalidArgument) {
      return InvalidArgument(
          fmt::format("the Kubernetes API server refused the pod: {}", e.message()));
    }
    if (e.code() == Code::kPermissionDenied || e.code() == Code::kUnauthenticated) {
      return FailedPrecondition(
          fmt::format("not allowed to create pods in namespace {} of cluster {}: {}",
                      options_.pod.namespace_, options_.cluster, e.message()));
    }
    if (e.code() == Code::kNotFound) {
      return FailedPrecondition(fmt::format("namespace {} does not exist in cluster {}: {}",
                                            options_.pod.namespace_, options_.cluster,
                                            e.message()));
    }
    if (e.code() == Code::kFailedPrecondition) return e;
    return Error(Code::kUnavailable, "creating the pod failed: " + e.message(), e.detail());
  }
  HandlePod(*created, false);
  return Ref(name);
}

Status KubernetesEngine::Adopt(const std::string& attempt_id, const std::string& engine_ref) {
  boost::system::error_code ec;
  json::value ref = json::parse(engine_ref, ec);
  std::string name = ec ? std::string() : StringAt(ref, {"pod"});
  if (name.empty()) name = PodName(attempt_id);
  auto pod = client_.Get(PodPath(name));
  if (!pod.ok() && pod.error().code() == Code::kNotFound) {
    return NotFound(
        fmt::format("pod {} is gone from namespace {} (deleted while the server was "
                    "away)",
                    name, options_.pod.namespace_));
  }
  {
    std::lock_guard lock(mu_);
    Tracked& t = tracked_[attempt_id];
    t.attempt_id = attempt_id;
    ComponentView& c = t.components[FirstComponent()];
    c.pod = name;
    c.status.name = FirstComponent();
    c.status.pod = name;
    if (c.status.state.empty()) c.status.state = "pending";
    if (t.first_seen == 0) t.first_seen = clock_.Now();
    if (t.run_id.empty()) t.run_id = RunIdOfAttempt(attempt_id);
    by_pod_[name] = {attempt_id, FirstComponent()};
  }
  if (!pod.ok()) {
    // The API server is unreachable now; the informer delivers the pod when it is back, and
    // a pod that is not there at the next list ends the attempt as lost.
    log::Warn("adopt: reading the pod failed; watching for it",
              {{"attempt", attempt_id}, {"error", pod.error().ToString()}});
    return OkStatus();
  }
  // Resume the log after what was archived before the restart.
  HandlePod(*pod, false);
  // The attempt's other pods (Spark's driver and executors) and the events they all collected
  // while nobody watched.
  std::vector<std::string> names{name};
  auto others = client_.List(
      PodsPath(), {{"labelSelector", std::string(kLabelAttempt) + "=" + LabelValue(attempt_id)}});
  if (others.ok()) {
    for (const auto& p : others->items) {
      std::string other = StringAt(p, {"metadata", "name"});
      if (other == name) continue;
      HandlePod(p, false);
      names.push_back(other);
    }
  }
  for (const auto& n : names) {
    auto evs =
        client_.List("/api/v1/namespaces/" + kube::Escape(options_.pod.namespace_) + "/events",
                     {{"fieldSelector", "involvedObject.kind=Pod,involvedObject.name=" + n}});
    if (evs.ok()) {
      for (const auto& e : evs->items) OnEventObject(e);
    }
  }
  return OkStatus();
}

std::vector<std::string> KubernetesEngine::PodsOf(const std::string& attempt_id) const {
  std::vector<std::string> out;
  auto it = tracked_.find(attempt_id);
  if (it == tracked_.end()) return out;
  for (const auto& [name, c] : it->second.components) {
    if (!c.pod.empty()) out.push_back(c.pod);
  }
  return out;
}

Status KubernetesEngine::Stop(const std::string& attempt_id) {
  std::vector<std::string> pods;
  std::string first;
  {
    std::lock_guard lock(mu_);
    auto it = tracked_.find(attempt_id);
    if (it == tracked_.end()) return NotFound("attempt " + attempt_id + " has no pod here");
    it->second.stop_requested = true;
    pods = PodsOf(attempt_id);
    first = it->second.components[FirstComponent()].pod;
  }
  // Every pod of the attempt: a Spark driver outlives a deleted spark-submit.
  Status first_status = OkStatus();
  bool first_gone = false;
  for (const auto& pod : pods) {
    auto r = client_.Delete(PodPath(pod), options_.stop_grace_seconds);
    if (pod != first || r.ok()) continue;
    if (r.error().code() == Code::kNotFound) {
      first_gone = true;
    } else {
      first_status = r.error();
    }
  }
  if (!first_status.ok()) return first_status;
  if (first_gone) {
    std::lock_guard lock(mu_);
    auto it = tracked_.find(attempt_id);
    if (it != tracked_.end()) {
      EndComponent(it->second, FirstComponent(), AttemptStatus::kStopped,
                   Outcome{143, std::string(reason::kStopped), "stopped by request"}, clock_.Now());
    }
  }
  return OkStatus();
}

std::vector<std::string> KubernetesEngine::Active() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, t] : tracked_) {
    if (!t.ended) out.push_back(id);
  }
  return out;
}

std::vector<ComponentStatus> KubernetesEngine::Components(const std::string& attempt_id) const {
  std::lock_guard lock(mu_);
  std::vector<ComponentStatus> out;
  auto it = tracked_.find(attempt_id);
  if (it == tracked_.end() || it->second.components.size() < 2) return out;
  for (const auto& [name, c] : it->second.components) out.push_back(c.status);
  return out;
}

Result<KubernetesEngine::PodAddress> KubernetesEngine::Address(const std::string& attempt_id,
                                                               const std::string& component) const {
  std::lock_guard lock(mu_);
  auto it = tracked_.find(attempt_id);
  if (it == tracked_.end()) return NotFound("attempt " + attempt_id + " is not watched here");
  auto c = it->second.components.find(component);
  if (c == it->second.components.end()) {
    return NotFound(fmt::format("attempt {} has no {} yet", attempt_id, component));
  }
  return PodAddress{c->second.pod, c->second.pod_ip,
                    !c->second.ended && c->second.status.state == "running"};
}

Status KubernetesEngine::Cleanup(const std::string& attempt_id) {
  std::lock_guard lock(mu_);
  auto it = tracked_.find(attempt_id);
  if (it == tracked_.end()) return OkStatus();
  for (const auto& pod : PodsOf(attempt_id)) {
    delete_at_[pod] = clock_.Now() + options_.pod_linger;
    by_pod_.erase(pod);
    last_pod_.erase(pod);
  }
  tracked_.erase(it);
  cv_.notify_all();
  return OkStatus();
}

Health KubernetesEngine::GetHealth() const {
  std::lock_guard lock(mu_);
  Health h;
  h.ready = synced_;
  if (!synced_) {
    h.message = fmt::format("cluster {}: not yet listed pods{}", options_.cluster,
                            last_error_.empty() ? "" : ": " + last_error_);
  }
  return h;
}

void KubernetesEngine::AfterReconcile() {
  auto pods = client_.List(PodsPath(), {{"labelSelector", std::string(kLabelManaged) + "=true"}});
  if (!pods.ok()) {
    log::Warn("kubernetes: listing pods after reconcile failed",
              {{"cluster", options_.cluster}, {"error", pods.error().ToString()}});
    return;
  }
  for (const auto& p : pods->items) {
    std::string name = StringAt(p, {"metadata", "name"});
    PodState st = ReadPod(p);
    {
      std::lock_guard lock(mu_);
      if (by_pod_.count(name) > 0 || delete_at_.count(name) > 0) continue;
      // Pods of the other engine on this cluster (kubernetes vs spark) are not ours to judge.
      const std::string comp = StringAt(p, {"metadata", "labels", kLabelComponent});
      bool mine = comp == FirstComponent() || !SideComponent(p).empty();
      if (!mine) continue;
      // A pod of an attempt we watch, not seen yet: the informer will map it.
      if (tracked_.count(st.attempt_id) > 0) continue;
    }
    bool finished = st.phase == PodState::Phase::kEnded;
    if (finished || options_.unknown_pods == "delete") {
      // A finished pod no attempt claims was archived before; a running one is deleted only
      // when the policy says so.
      log::Info("kubernetes: deleting a pod no attempt claims",
                {{"pod", name}, {"finished", finished ? "true" : "false"}});
      (void)client_.Delete(PodPath(name), finished ? 0 : options_.stop_grace_seconds);
    } else {
      log::Warn(
          "kubernetes: a running pod with our labels belongs to no active attempt; kept "
          "(set unknown_pods: delete to remove such pods)",
          {{"pod", name}, {"attempt", st.attempt_id}});
    }
  }
}

void KubernetesEngine::Shutdown() {
  if (shut_.exchange(true)) return;
  std::vector<std::shared_ptr<LogFollower>> followers;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& [id, t] : tracked_) {
      for (auto& [name, f] : t.followers) followers.push_back(f);
    }
    cv_.notify_all();
  }
  if (pods_) pods_->Stop();
  if (events_) events_->Stop();
  if (nodes_) nodes_->Stop();
  for (auto& f : followers) {
    f->cancel.Cancel();
    if (f->thread.joinable()) f->thread.join();
  }
  if (timer_.joinable()) timer_.join();
  if (usage_.joinable()) usage_.join();
}

}  // namespace tug::engine::kubernetes
