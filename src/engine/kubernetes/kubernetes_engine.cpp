#include "engine/kubernetes/kubernetes_engine.h"

#include <cstdio>
#include <deque>
#include <functional>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/log.h"
#include "engine/kubernetes/log_follower.h"

namespace tug::engine::kubernetes {
namespace json = boost::json;

namespace {

// Registry answers that mean the image will never come.
bool PullNeverWorks(const std::string& message) {
  for (const char* s : {"not found", "manifest unknown", "unauthorized", "denied",
                        "repository does not exist", "invalid reference format"}) {
    if (message.find(s) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

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
      std::vector<std::string> lost;
      {
        std::lock_guard lock(mu_);
        for (auto& [id, t] : tracked_) {
          if (!t.ended && !t.node.empty() && names.count(t.node) == 0) lost.push_back(id);
        }
      }
      for (const auto& id : lost) {
        Outcome o{std::nullopt, "NodeLost", "the pod's node was removed from the cluster"};
        Finish(id, AttemptStatus::kFailed, o, clock_.Now());
      }
    };
    nh.on_event = [this](const kube::WatchEvent& e) { OnNodeEvent(e); };
    nodes_ = std::make_unique<kube::Informer>(client_, "/api/v1/nodes",
                                              std::map<std::string, std::string>{}, nh);
  }
  pods_->Start();
  events_->Start();
  if (nodes_) nodes_->Start();
  timer_ = std::thread([this] { TimerLoop(); });
}

void KubernetesEngine::Send(const Update& u) {
  if (sink_) sink_(u);
}

Result<std::string> KubernetesEngine::Launch(const LaunchSpec& spec) {
  const std::string name = PodName(spec.attempt_id);
  if (spec.image.empty()) {
    return InvalidArgument(
        "the kubernetes engine runs container images; the definition has no "
        "image (add e.g. image: python:3.11)");
  }
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Unavailable("the kubernetes engine is shutting down");
    Tracked& t = tracked_[spec.attempt_id];
    t.run_id = spec.run_id;
    t.attempt_id = spec.attempt_id;
    t.pod = name;
    if (t.first_seen == 0) t.first_seen = clock_.Now();
    by_pod_[name] = spec.attempt_id;
  }
  json::value pod = BuildPod(spec, options_.pod);
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
  std::string run_id;
  if (pod.ok()) run_id = StringAt(*pod, {"metadata", "labels", kLabelRun});
  {
    std::lock_guard lock(mu_);
    Tracked& t = tracked_[attempt_id];
    t.attempt_id = attempt_id;
    t.pod = name;
    if (t.first_seen == 0) t.first_seen = clock_.Now();
    if (t.run_id.empty()) {
      // The run id is the attempt id without its "-<n>" suffix.
      t.run_id = attempt_id.substr(0, attempt_id.rfind('-'));
    }
    by_pod_[name] = attempt_id;
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
  // Events the pod collected while nobody watched.
  auto evs =
      client_.List("/api/v1/namespaces/" + kube::Escape(options_.pod.namespace_) + "/events",
                   {{"fieldSelector", "involvedObject.kind=Pod,involvedObject.name=" + name}});
  if (evs.ok()) {
    for (const auto& e : evs->items) OnEventObject(e);
  }
  return OkStatus();
}

Status KubernetesEngine::Stop(const std::string& attempt_id) {
  std::string pod;
  {
    std::lock_guard lock(mu_);
    auto it = tracked_.find(attempt_id);
    if (it == tracked_.end()) return NotFound("attempt " + attempt_id + " has no pod here");
    it->second.stop_requested = true;
    pod = it->second.pod;
  }
  auto r = client_.Delete(PodPath(pod), options_.stop_grace_seconds);
  if (!r.ok() && r.error().code() == Code::kNotFound) {
    Finish(attempt_id, AttemptStatus::kStopped,
           Outcome{143, std::string(reason::kStopped), "stopped by request"}, clock_.Now());
    return OkStatus();
  }
  if (!r.ok()) return r.error();
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

Status KubernetesEngine::Cleanup(const std::string& attempt_id) {
  std::lock_guard lock(mu_);
  auto it = tracked_.find(attempt_id);
  if (it == tracked_.end()) return OkStatus();
  delete_at_[it->second.pod] = clock_.Now() + options_.pod_linger;
  by_pod_.erase(it->second.pod);
  last_pod_.erase(it->second.pod);
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
    {
      std::lock_guard lock(mu_);
      if (by_pod_.count(name) > 0 || delete_at_.count(name) > 0) continue;
    }
    PodState st = ReadPod(p);
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

void KubernetesEngine::OnPodSync(const std::vector<json::value>& items) {
  std::set<std::string> present;
  for (const auto& p : items) {
    present.insert(StringAt(p, {"metadata", "name"}));
    HandlePod(p, false);
  }
  std::vector<std::string> vanished;
  Micros now = clock_.Now();
  {
    std::lock_guard lock(mu_);
    synced_ = true;
    last_error_.clear();
    for (auto& [id, t] : tracked_) {
      // Launched in the last seconds: the list may predate the create.
      if (!t.ended && present.count(t.pod) == 0 && now - t.first_seen > 10 * kMicrosPerSecond) {
        vanished.push_back(id);
      }
    }
  }
  for (const auto& id : vanished) {
    bool stop = false;
    {
      std::lock_guard lock(mu_);
      stop = tracked_[id].stop_requested;
    }
    if (stop) {
      Finish(id, AttemptStatus::kStopped,
             Outcome{143, std::string(reason::kStopped), "stopped by request"}, now);
    } else {
      Finish(id, AttemptStatus::kFailed,
             Outcome{std::nullopt, "Deleted",
                     "the pod was deleted while the attempt ran (by a user, a node drain or "
                     "the cluster's preemption)"},
             now);
    }
  }
}

void KubernetesEngine::OnPodEvent(const kube::WatchEvent& e) {
  if (e.type == "ADDED" || e.type == "MODIFIED") HandlePod(e.object, false);
  if (e.type == "DELETED") HandlePod(e.object, true);
}

void KubernetesEngine::HandlePod(const json::value& pod, bool deleted) {
  PodState st = ReadPod(pod);
  const std::string name = StringAt(pod, {"metadata", "name"});
  Micros now = clock_.Now();
  std::optional<Update> started;
  std::optional<std::pair<AttemptStatus, Outcome>> end;
  std::optional<std::string> note;
  std::string attempt_id;
  {
    std::lock_guard lock(mu_);
    auto pit = by_pod_.find(name);
    if (pit == by_pod_.end()) return;
    attempt_id = pit->second;
    Tracked& t = tracked_[attempt_id];
    if (t.ended) return;
    last_pod_[name] = pod;
    if (!st.node_name.empty()) t.node = st.node_name;
    if ((st.phase == PodState::Phase::kRunning || st.started_at > 0) && !t.started_sent) {
      t.started_sent = true;
      Update u;
      u.kind = Update::Kind::kStarted;
      u.attempt_id = attempt_id;
      u.at = st.started_at > 0 ? st.started_at : now;
      u.message = fmt::format("pod {} running on node {}", name, st.node_name);
      started = u;
      StartFollower(t);
    }
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
      if (st.waiting_reason != t.waiting_reason) {
        t.waiting_reason = st.waiting_reason;
        t.waiting_since = now;
        note = fmt::format("pod {} waiting: {}{}", name, st.waiting_reason,
                           st.waiting_message.empty() ? "" : ": " + st.waiting_message);
      }
      bool pull = st.waiting_reason == "ErrImagePull" || st.waiting_reason == "ImagePullBackOff";
      if (pull && PullNeverWorks(st.waiting_message)) {
        end = {AttemptStatus::kFailed,
               Outcome{std::nullopt, st.waiting_reason, st.waiting_message}};
      }
    } else if (!t.waiting_reason.empty()) {
      t.waiting_reason.clear();
      t.waiting_since = 0;
    }
    if (end) t.ended = true;
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
  if (end) {
    Micros at = st.ended_at > 0 ? st.ended_at : now;
    // Finish reads the rest of the log over HTTP: not on the watch thread.
    std::lock_guard lock(mu_);
    work_.push_back(
        [this, attempt_id, e = *end, at] { FinishNow(attempt_id, e.first, e.second, at); });
    cv_.notify_all();
  }
}

void KubernetesEngine::Finish(const std::string& attempt_id, AttemptStatus status, Outcome outcome,
                              Micros ended_at) {
  std::lock_guard lock(mu_);
  auto it = tracked_.find(attempt_id);
  if (it == tracked_.end() || it->second.ended) return;
  it->second.ended = true;
  work_.push_back([this, attempt_id, status, outcome, ended_at] {
    FinishNow(attempt_id, status, outcome, ended_at);
  });
  cv_.notify_all();
}

void KubernetesEngine::FinishNow(const std::string& attempt_id, AttemptStatus status,
                                 const Outcome& outcome, Micros ended_at) {
  std::shared_ptr<LogFollower> follower;
  std::string pod;
  std::string run_id;
  {
    std::lock_guard lock(mu_);
    auto it = tracked_.find(attempt_id);
    if (it == tracked_.end()) return;
    follower = it->second.follower;
    pod = it->second.pod;
    run_id = it->second.run_id;
  }
  if (!follower) {
    // Ended before we saw it run (fast jobs, adopt after the end): one read of the whole log.
    follower = std::make_shared<LogFollower>();
    follower->log_path = PodPath(pod) + "/log";
    auto file = logs_.PathFor(run_id, attempt_id, "main");
    if (file.ok()) follower->file = *file;
  } else {
    follower->cancel.Cancel();
    if (follower->thread.joinable()) follower->thread.join();
  }
  if (!follower->file.empty()) {
    auto rest = client_.GetText(follower->log_path + follower->Query(false));
    if (rest.ok()) {
      std::string out;
      follower->Consume(*rest, out);
      if (!follower->partial.empty()) follower->Consume("\n", out);
      follower->Write(out);
    } else if (rest.error().code() != Code::kNotFound) {
      // Container never started (image pull, config error): no log; anything else is noted.
      log::Debug("kubernetes: final log read failed",
                 {{"attempt", attempt_id}, {"error", rest.error().ToString()}});
    }
  }
  Update u;
  u.kind = Update::Kind::kEnded;
  u.attempt_id = attempt_id;
  u.at = ended_at;
  u.status = status;
  u.outcome = outcome;
  Send(u);
}

void KubernetesEngine::StartFollower(Tracked& t) {
  if (t.follower) return;
  auto f = std::make_shared<LogFollower>();
  f->log_path = PodPath(t.pod) + "/log";
  auto file = logs_.PathFor(t.run_id, t.attempt_id, "main");
  if (!file.ok()) {
    log::Warn("kubernetes: no log file for attempt",
              {{"attempt", t.attempt_id}, {"error", file.error().ToString()}});
    return;
  }
  f->file = *file;
  f->ResumeFromFile();  // after a restart: skip what the file already holds
  t.follower = f;
  f->thread = std::thread([this, f] {
    int failures = 0;
    while (!f->cancel.cancelled()) {
      std::string out;
      auto st = client_.Stream(
          f->log_path + f->Query(true),
          [&](std::string_view data) {
            std::string chunk;
            f->Consume(data, chunk);
            f->Write(chunk);
            return true;
          },
          &f->cancel);
      if (f->cancel.cancelled()) break;
      failures = st.ok() ? 0 : failures + 1;
      // The stream ends when the container ends (the final read takes the rest) or the
      // connection drops; try again after a pause.
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(std::min(500 * (failures + 1), 5000)),
                   [&] { return f->cancel.cancelled() || stopping_; });
      if (stopping_) break;
    }
  });
}

void KubernetesEngine::OnEventObject(const json::value& ev) {
  const std::string pod = StringAt(ev, {"involvedObject", "name"});
  const std::string uid = StringAt(ev, {"metadata", "uid"});
  std::string attempt_id;
  {
    std::lock_guard lock(mu_);
    auto it = by_pod_.find(pod);
    if (it == by_pod_.end()) return;
    Tracked& t = tracked_[it->second];
    if (!t.event_uids.insert(uid).second) return;
    attempt_id = it->second;
  }
  events_seen_.fetch_add(1);
  std::string at = StringAt(ev, {"lastTimestamp"});
  if (at.empty()) at = StringAt(ev, {"eventTime"});
  if (at.empty()) at = StringAt(ev, {"firstTimestamp"});
  Update u;
  u.kind = Update::Kind::kEvent;
  u.attempt_id = attempt_id;
  u.at = ParseTime(at);
  if (u.at == 0) u.at = clock_.Now();
  u.message = fmt::format("k8s {} {}: {}", StringAt(ev, {"type"}), StringAt(ev, {"reason"}),
                          StringAt(ev, {"message"}));
  Send(u);
  if (options_.prune_events) {
    std::string ns = StringAt(ev, {"metadata", "namespace"});
    std::string name = StringAt(ev, {"metadata", "name"});
    (void)client_.Delete("/api/v1/namespaces/" + kube::Escape(ns) + "/events/" + kube::Escape(name),
                         0);
  }
}

void KubernetesEngine::OnNodeEvent(const kube::WatchEvent& e) {
  if (e.type != "DELETED") return;
  const std::string node = StringAt(e.object, {"metadata", "name"});
  std::vector<std::pair<std::string, std::string>> lost;  // attempt, pod
  {
    std::lock_guard lock(mu_);
    for (auto& [id, t] : tracked_) {
      if (!t.ended && t.node == node) lost.emplace_back(id, t.pod);
    }
  }
  for (const auto& [id, pod] : lost) {
    Finish(id, AttemptStatus::kFailed,
           Outcome{std::nullopt, "NodeLost",
                   fmt::format("node {} was removed while the pod ran on it", node)},
           clock_.Now());
    // The pod object outlives its node until the garbage collector runs; remove it now.
    (void)client_.Delete(PodPath(pod), 0);
  }
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
    // Pending too long.
    std::vector<std::pair<std::string, Outcome>> expired;
    for (auto& [id, t] : tracked_) {
      if (t.ended || t.waiting_since == 0) continue;
      bool pull = t.waiting_reason == "ErrImagePull" || t.waiting_reason == "ImagePullBackOff";
      Micros limit = pull ? options_.image_pull_grace : options_.pending_timeout;
      if (now - t.waiting_since < limit) continue;
      std::string message;
      if (auto p = last_pod_.find(t.pod); p != last_pod_.end()) {
        message = ReadPod(p->second).waiting_message;
      }
      expired.emplace_back(
          id, Outcome{std::nullopt, t.waiting_reason,
                      fmt::format("{} for {}s: {}", t.waiting_reason,
                                  (now - t.waiting_since) / kMicrosPerSecond, message)});
      t.ended = true;
    }
    for (auto& [id, o] : expired) {
      work_.push_back([this, id, o, now] { FinishNow(id, AttemptStatus::kFailed, o, now); });
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

void KubernetesEngine::Shutdown() {
  if (shut_.exchange(true)) return;
  std::vector<std::shared_ptr<LogFollower>> followers;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& [id, t] : tracked_) {
      if (t.follower) followers.push_back(t.follower);
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
}

}  // namespace tug::engine::kubernetes
