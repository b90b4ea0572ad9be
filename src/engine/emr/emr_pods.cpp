// The emr-on-eks engine's pod watcher: EMR's job run pods on the EKS cluster become timeline
// notes, live logs and, at the end, component states for the diagnosis. Pod states are read with
// the kubernetes engine's ReadPod, logs followed with its LogFollower.
#include "engine/emr/emr_pods.h"

#include <condition_variable>
#include <deque>
#include <thread>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/log.h"
#include "core/thread_name.h"
#include "engine/kubernetes/log_follower.h"
#include "engine/kubernetes/pod.h"

namespace tug::engine::emr {
namespace json = boost::json;
using kubernetes::ComponentView;
using kubernetes::LogFollower;
using kubernetes::PodState;
using kubernetes::StringAt;

namespace {

// Unclaimed pods and events kept for a job run tracked a moment later.
constexpr size_t kRecentLimit = 256;

bool Driverish(const std::string& component) {
  return component == "driver" || component == "controller";
}

std::string PodWhat(const std::string& component) {
  return component == "controller" ? "job runner" : component;
}

}  // namespace

struct EmrPodWatcher::Impl {
  struct Tracked {
    std::string run_id;
    std::string job_run_id;
    std::map<std::string, ComponentView> components;
    std::map<std::string, std::shared_ptr<LogFollower>> followers;
    // Per followed component: its pod ended (the follower stops once its stream has ended).
    std::map<std::string, std::shared_ptr<std::atomic<bool>>> pod_ended;
    std::shared_ptr<std::atomic<int64_t>> log_bytes = std::make_shared<std::atomic<int64_t>>(0);
    TimelineBudget budget{100};
    bool told_kube_error = false;
  };
  struct PodKey {
    std::string attempt_id;
    std::string component;
  };
  struct Note {
    std::string attempt_id;
    Micros at = 0;
    std::string text;
  };

  Impl(const EmrPodOptions& o, kube::Client& c, logs::LogStore& l, const Clock& k, EventFn fn)
      : options(o), client(c), logs(l), clock(k), on_event(std::move(fn)) {}

  const EmrPodOptions options;
  kube::Client& client;
  logs::LogStore& logs;
  const Clock& clock;
  const EventFn on_event;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, Tracked> tracked;                         // by attempt id
  std::map<std::string, std::string> by_job;                      // job run id -> attempt id
  std::map<std::string, PodKey> by_pod;                           // pod name -> attempt, component
  std::deque<std::pair<std::string, json::value>> recent_pods;    // unclaimed, by job id
  std::deque<std::pair<std::string, json::value>> recent_events;  // unclaimed, by pod name
  bool stopping = false;
  bool started = false;
  // The cluster side's health: an outage is logged and noted once.
  bool kube_failing = false;
  bool synced = false;
  int consecutive_errors = 0;
  std::string kube_error;
  std::atomic<int64_t> pods_seen{0};
  std::atomic<int64_t> errors{0};
  std::unique_ptr<kube::Informer> pods;
  std::unique_ptr<kube::Informer> events;

  // Queues a note for `t` through its budget (mu held).
  void NoteLocked(std::vector<Note>& out, const std::string& attempt_id, Tracked& t,
                  const std::string& key, std::string text, Micros at) {
    if (auto admitted = t.budget.Admit(key, std::move(text))) {
      out.push_back({attempt_id, at, std::move(*admitted)});
    }
  }
  void Emit(const std::vector<Note>& notes) {
    for (const Note& n : notes) on_event(n.attempt_id, n.at, n.text);
  }

  std::string PodsPath() const {
    return "/api/v1/namespaces/" + kube::Escape(options.namespace_) + "/pods";
  }

  void Start() {
    kube::Informer::Handlers ph;
    ph.on_sync = [this](const std::vector<json::value>& items) {
      Healthy(true);
      for (const auto& p : items) HandlePod(p, false);
    };
    ph.on_event = [this](const kube::WatchEvent& e) {
      Healthy(false);
      if (e.type == "ADDED" || e.type == "MODIFIED") HandlePod(e.object, false);
      if (e.type == "DELETED") HandlePod(e.object, true);
    };
    ph.on_error = [this](const Error& e) { Failed(e); };
    pods = std::make_unique<kube::Informer>(
        client, PodsPath(),
        std::map<std::string, std::string>{{"labelSelector", std::string(kLabelVirtualCluster) +
                                                                 "=" + options.virtual_cluster_id}},
        ph);
    kube::Informer::Handlers eh;
    eh.on_sync = [this](const std::vector<json::value>& items) {
      for (const auto& ev : items) HandleEvent(ev);
    };
    eh.on_event = [this](const kube::WatchEvent& e) {
      if (e.type == "ADDED" || e.type == "MODIFIED") HandleEvent(e.object);
    };
    eh.on_error = [this](const Error& e) { Failed(e); };
    events = std::make_unique<kube::Informer>(
        client, "/api/v1/namespaces/" + kube::Escape(options.namespace_) + "/events",
        std::map<std::string, std::string>{{"fieldSelector", "involvedObject.kind=Pod"}}, eh);
    pods->Start();
    events->Start();
  }

  void Healthy(bool listed) {
    std::lock_guard lock(mu);
    consecutive_errors = 0;
    if (listed) synced = true;
    if (kube_failing) {
      kube_failing = false;
      log::Info("emr-on-eks: watching pods on the EKS cluster works again",
                {{"cluster", options.cluster}, {"namespace", options.namespace_}});
    }
  }

  // An informer error: reported when the cluster cannot be listed at all, refuses us, or keeps
  // failing; a watch that drops once and reconnects is routine.
  void Failed(const Error& e) {
    if (kube::IsGone(e)) return;
    errors.fetch_add(1);
    std::vector<Note> notes;
    {
      std::lock_guard lock(mu);
      ++consecutive_errors;
      bool refused = e.code() == Code::kPermissionDenied || e.code() == Code::kUnauthenticated;
      if (kube_failing || !(refused || !synced || consecutive_errors >= 3)) return;
      kube_failing = true;
      kube_error = e.message();
      log::Warn(
          "emr-on-eks: watching the job runs' pods on the EKS cluster failed; job runs are "
          "followed through EMR only (no pod events, live logs or pod evidence) until it works",
          {{"cluster", options.cluster},
           {"namespace", options.namespace_},
           {"error", e.ToString()}});
      for (auto& [id, t] : tracked) TellKubeErrorLocked(notes, id, t);
    }
    Emit(notes);
  }

  void TellKubeErrorLocked(std::vector<Note>& notes, const std::string& id, Tracked& t) {
    if (t.told_kube_error) return;
    t.told_kube_error = true;
    NoteLocked(notes, id, t, "kube-error",
               fmt::format("pod watching on cluster {} (namespace {}) failed: {}; the job run is "
                           "followed through EMR only",
                           options.cluster, options.namespace_, kube_error),
               clock.Now());
  }

  void Remember(std::deque<std::pair<std::string, json::value>>& q, const std::string& key,
                const json::value& v) {
    q.emplace_back(key, v);
    while (q.size() > kRecentLimit) q.pop_front();
  }

  void HandlePod(const json::value& pod, bool deleted) {
    pods_seen.fetch_add(1);
    const std::string job = StringAt(pod, {"metadata", "labels", kLabelJobId});
    const std::string name = StringAt(pod, {"metadata", "name"});
    std::vector<Note> notes;
    std::vector<json::value> replay;
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      auto owner = by_job.find(job);
      if (owner == by_job.end()) {
        if (!job.empty() && !deleted) Remember(recent_pods, job, pod);
        return;
      }
      const std::string attempt_id = owner->second;
      Tracked& t = tracked[attempt_id];
      const std::string comp = EmrPodComponent(pod);
      if (comp.empty()) return;
      ComponentView& c = t.components[comp];
      if (!c.pod.empty() && c.pod != name) {
        // A second pod for one component (the job runner's Job retried it): the newer one
        // counts once the older one ended.
        if (!c.ended) return;
        c = ComponentView{};
      }
      const bool first_sight = c.pod.empty();
      c.pod = name;
      c.status.name = comp;
      c.status.pod = name;
      if (c.status.state.empty()) c.status.state = "pending";
      if (c.container.empty()) c.container = EmrPodContainer(pod, comp);
      if (first_sight) {
        by_pod[name] = PodKey{attempt_id, comp};
        for (auto it = recent_events.begin(); it != recent_events.end();) {
          if (it->first == name) {
            replay.push_back(std::move(it->second));
            it = recent_events.erase(it);
          } else {
            ++it;
          }
        }
      }
      Pod(notes, attempt_id, t, comp, c, pod, deleted);
    }
    Emit(notes);
    for (const auto& ev : replay) HandleEvent(ev);
  }

  // One pod's state into its component (mu held).
  void Pod(std::vector<Note>& notes, const std::string& attempt_id, Tracked& t,
           const std::string& comp, ComponentView& c, const json::value& pod, bool deleted) {
    if (c.ended) return;
    const Micros now = clock.Now();
    PodState st = kubernetes::ReadPod(pod, c.container);
    if (!st.node_name.empty()) c.status.node = st.node_name;
    if (c.app_id.empty()) c.app_id = StringAt(pod, {"metadata", "labels", "spark-app-selector"});
    const bool running = st.phase == PodState::Phase::kRunning || st.started_at > 0;
    if (running) {
      if (c.status.started_at == 0) c.status.started_at = st.started_at > 0 ? st.started_at : now;
      if (st.phase == PodState::Phase::kRunning) c.status.state = "running";
      StartFollowerLocked(t, attempt_id, comp, c);
      if (Driverish(comp) && !c.start_noted && st.phase == PodState::Phase::kRunning) {
        c.start_noted = true;
        NoteLocked(
            notes, attempt_id, t, "running " + c.pod,
            fmt::format("EMR {} pod {} running on node {}", PodWhat(comp), c.pod, st.node_name),
            c.status.started_at);
      }
    }
    if (st.phase == PodState::Phase::kEnded) {
      End(notes, attempt_id, t, comp, c, st.status, st.outcome,
          st.ended_at > 0 ? st.ended_at : now);
      return;
    }
    if (deleted) {
      Outcome o{std::nullopt, "Deleted", "the pod was deleted while the job run ran"};
      if (st.disruption) o = Outcome{std::nullopt, "NodeLost", st.disruption_message};
      End(notes, attempt_id, t, comp, c, AttemptStatus::kFailed, o, now);
      return;
    }
    if (!st.waiting_reason.empty() && st.waiting_reason != c.waiting_reason) {
      c.waiting_reason = st.waiting_reason;
      c.waiting_since = now;
      c.status.reason = st.waiting_reason;
      c.status.message = st.waiting_message;
      // Executors wait alike (one image, one node pool): one note per reason for all of them.
      NoteLocked(notes, attempt_id, t,
                 "waiting " + (Driverish(comp) ? c.pod : std::string("executors")) + " " +
                     st.waiting_reason,
                 fmt::format("EMR {} pod {} waiting: {}{}", PodWhat(comp), c.pod, st.waiting_reason,
                             st.waiting_message.empty() ? "" : ": " + st.waiting_message),
                 now);
    }
  }

  void End(std::vector<Note>& notes, const std::string& attempt_id, Tracked& t,
           const std::string& comp, ComponentView& c, AttemptStatus status, const Outcome& o,
           Micros at) {
    kubernetes::MarkEnded(c, status, o, at, clock.Now());
    if (auto e = t.pod_ended.find(comp); e != t.pod_ended.end()) e->second->store(true);
    const bool failed = status != AttemptStatus::kSucceeded;
    // Spark tears executors down with SIGTERM (143) or deletes them at the end: no news.
    const bool teardown = o.reason == "Deleted" || (o.exit_code && *o.exit_code == 143);
    if (!Driverish(comp) && (!failed || teardown)) return;
    std::string how = failed ? o.reason : "succeeded";
    if (failed && o.exit_code) how += fmt::format(" (exit code {})", *o.exit_code);
    if (failed && !o.message.empty()) how += ": " + o.message;
    NoteLocked(notes, attempt_id, t, "ended " + c.pod,
               fmt::format("EMR {} pod {} ended: {}", PodWhat(comp), c.pod, how), at);
  }

  void StartFollowerLocked(Tracked& t, const std::string& attempt_id, const std::string& comp,
                           const ComponentView& c) {
    if (stopping || t.followers.count(comp) > 0) return;
    if (t.followers.size() >= options.max_log_followers) return;
    auto f = std::make_shared<LogFollower>();
    f->log_path = PodsPath() + "/" + kube::Escape(c.pod) + "/log";
    f->container = c.container.empty() ? std::string(kubernetes::kContainerName) : c.container;
    f->component = kLivePrefix + comp;
    f->cap_bytes = options.component_log_cap;
    f->total_cap_bytes = options.attempt_log_cap;
    f->total_written = t.log_bytes;
    auto file = logs.PathFor(t.run_id, attempt_id, kLivePrefix + comp);
    if (!file.ok()) return;
    f->file = *file;
    f->ResumeFromFile();
    t.followers[comp] = f;
    auto ended = std::make_shared<std::atomic<bool>>(c.ended);
    t.pod_ended[comp] = ended;
    f->thread = std::thread([this, f, ended] {
      SetThreadName("tug-emr-log");
      kubernetes::FollowLog(client, *f, [&](std::chrono::milliseconds pause) {
        // A pod that ended has nothing more to stream (Finish reads what is left).
        if (ended->load()) return false;
        std::unique_lock lock(mu);
        cv.wait_for(lock, pause, [&] { return f->cancel.cancelled() || stopping; });
        return !stopping;
      });
    });
  }

  void HandleEvent(const json::value& ev) {
    if (StringAt(ev, {"type"}) != "Warning") return;
    const std::string pod = StringAt(ev, {"involvedObject", "name"});
    std::vector<Note> notes;
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      auto it = by_pod.find(pod);
      if (it == by_pod.end()) {
        Remember(recent_events, pod, ev);
        return;
      }
      auto t = tracked.find(it->second.attempt_id);
      if (t == tracked.end()) return;
      const std::string reason = StringAt(ev, {"reason"});
      const std::string message = StringAt(ev, {"message"});
      Micros at = kubernetes::EventTime(ev);
      NoteLocked(notes, it->second.attempt_id, t->second,
                 "event " + it->second.component + " " + reason + " " + message,
                 fmt::format("k8s Warning {} ({}): {}", reason, it->second.component, message),
                 at != 0 ? at : clock.Now());
    }
    Emit(notes);
  }

  // Stops and forgets an attempt; returns its followers to join (mu held).
  std::vector<std::shared_ptr<LogFollower>> DropLocked(const std::string& attempt_id, Tracked& t) {
    std::vector<std::shared_ptr<LogFollower>> out;
    for (auto& [name, f] : t.followers) {
      f->cancel.Cancel();
      out.push_back(f);
    }
    by_job.erase(t.job_run_id);
    for (auto it = by_pod.begin(); it != by_pod.end();) {
      it = it->second.attempt_id == attempt_id ? by_pod.erase(it) : std::next(it);
    }
    return out;
  }
};

EmrPodWatcher::EmrPodWatcher(EmrPodOptions options, kube::Client& client, logs::LogStore& logs,
                             const Clock& clock, EventFn on_event)
    : impl_(std::make_unique<Impl>(options, client, logs, clock, std::move(on_event))),
      options_(std::move(options)) {}

EmrPodWatcher::~EmrPodWatcher() { Shutdown(); }

void EmrPodWatcher::Track(const std::string& attempt_id, const std::string& run_id,
                          const std::string& job_run_id) {
  Impl& m = *impl_;
  std::vector<json::value> replay;
  std::vector<Impl::Note> notes;
  {
    std::lock_guard lock(m.mu);
    if (m.stopping || job_run_id.empty() || m.tracked.count(attempt_id) > 0) return;
    Impl::Tracked& t = m.tracked[attempt_id];
    t.run_id = run_id;
    t.job_run_id = job_run_id;
    t.budget = TimelineBudget(options_.max_timeline_entries);
    m.by_job[job_run_id] = attempt_id;
    for (auto it = m.recent_pods.begin(); it != m.recent_pods.end();) {
      if (it->first == job_run_id) {
        replay.push_back(std::move(it->second));
        it = m.recent_pods.erase(it);
      } else {
        ++it;
      }
    }
    if (m.kube_failing) m.TellKubeErrorLocked(notes, attempt_id, t);
    // The informers start with the first job run (no cluster traffic before); their threads
    // wait for this lock before handling anything.
    if (!m.started) {
      m.started = true;
      m.Start();
    }
  }
  m.Emit(notes);
  for (const auto& p : replay) m.HandlePod(p, false);
}

std::vector<ComponentStatus> EmrPodWatcher::Finish(const std::string& attempt_id) {
  Impl& m = *impl_;
  std::vector<std::shared_ptr<LogFollower>> followers;
  {
    std::lock_guard lock(m.mu);
    auto it = m.tracked.find(attempt_id);
    if (it == m.tracked.end()) return {};
    followers = m.DropLocked(attempt_id, it->second);
  }
  m.cv.notify_all();
  for (auto& f : followers) {
    if (f->thread.joinable()) f->thread.join();
    Status rest = kubernetes::ReadRestOfLog(m.client, *f);
    if (!rest.ok() && rest.error().code() != Code::kNotFound) {
      log::Debug("emr-on-eks: the last read of a pod's log failed",
                 {{"attempt", attempt_id}, {"error", rest.error().ToString()}});
    }
  }
  std::vector<ComponentStatus> out;
  std::lock_guard lock(m.mu);
  auto it = m.tracked.find(attempt_id);
  if (it == m.tracked.end()) return out;
  kubernetes::MarkExecutorEvidence(it->second.components, false);
  for (const auto& [name, c] : it->second.components) out.push_back(c.status);
  m.tracked.erase(it);
  return out;
}

void EmrPodWatcher::Forget(const std::string& attempt_id) {
  Impl& m = *impl_;
  std::vector<std::shared_ptr<LogFollower>> followers;
  {
    std::lock_guard lock(m.mu);
    auto it = m.tracked.find(attempt_id);
    if (it == m.tracked.end()) return;
    followers = m.DropLocked(attempt_id, it->second);
    m.tracked.erase(it);
  }
  m.cv.notify_all();
  for (auto& f : followers) {
    if (f->thread.joinable()) f->thread.join();
  }
}

void EmrPodWatcher::Shutdown() {
  Impl& m = *impl_;
  std::vector<std::shared_ptr<LogFollower>> followers;
  {
    std::lock_guard lock(m.mu);
    if (m.stopping) return;
    m.stopping = true;
    for (auto& [id, t] : m.tracked) {
      for (auto& [name, f] : t.followers) {
        f->cancel.Cancel();
        followers.push_back(f);
      }
    }
  }
  m.cv.notify_all();
  if (m.pods) m.pods->Stop();
  if (m.events) m.events->Stop();
  for (auto& f : followers) {
    if (f->thread.joinable()) f->thread.join();
  }
}

int64_t EmrPodWatcher::pods_seen() const { return impl_->pods_seen.load(); }
int64_t EmrPodWatcher::kube_errors() const { return impl_->errors.load(); }

}  // namespace tug::engine::emr
