#include "engine/emr/emr_on_eks_engine.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/ids.h"
#include "core/log.h"
#include "core/thread_name.h"

namespace tug::engine::emr {
namespace json = boost::json;

namespace {

constexpr char kAttemptTag[] = "tugboat.attempt";

std::string Str(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

bool Terminal(const std::string& state) {
  return state == "COMPLETED" || state == "FAILED" || state == "CANCELLED";
}

}  // namespace

std::string EncodeRef(const EmrRef& ref) {
  json::object o{{"virtual_cluster_id", ref.virtual_cluster_id},
                 {"job_run_id", ref.job_run_id},
                 {"run_id", ref.run_id},
                 {"name", ref.name},
                 {"log_uri", ref.log_uri}};
  if (ref.deadline > 0) o["deadline"] = ref.deadline;
  return json::serialize(o);
}

Result<EmrRef> DecodeRef(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return InvalidArgument(fmt::format("engine ref '{}' is not an emr-on-eks ref", text));
  }
  const json::object& o = v.as_object();
  EmrRef ref;
  ref.virtual_cluster_id = Str(o, "virtual_cluster_id");
  ref.job_run_id = Str(o, "job_run_id");
  ref.run_id = Str(o, "run_id");
  ref.name = Str(o, "name");
  ref.log_uri = Str(o, "log_uri");
  if (const json::value* d = o.if_contains("deadline"); d != nullptr && d->is_int64()) {
    ref.deadline = d->as_int64();
  }
  return ref;
}

EmrOnEksEngine::EmrOnEksEngine(EmrEngineOptions options,
                               std::unique_ptr<aws::EmrContainersClient> emr,
                               std::unique_ptr<aws::S3Client> s3, logs::LogStore& logs,
                               const Clock& clock, kube::Client* kube)
    : options_(std::move(options)),
      emr_(std::move(emr)),
      s3_(std::move(s3)),
      logs_(logs),
      clock_(clock) {
  if (kube != nullptr && options_.pods) {
    EmrPodOptions po = *options_.pods;
    if (po.virtual_cluster_id.empty()) po.virtual_cluster_id = options_.settings.virtual_cluster_id;
    pods_ = std::make_unique<EmrPodWatcher>(
        po, *kube, logs_, clock_,
        [this](const std::string& attempt_id, Micros at, const std::string& text) {
          QueueEvent(attempt_id, at, text);
        });
  }
}

EmrOnEksEngine::~EmrOnEksEngine() { Shutdown(); }

void EmrOnEksEngine::SetSink(UpdateSink sink) { sink_ = std::move(sink); }

void EmrOnEksEngine::Shutdown() {
  // First the pod watcher (its threads queue events under mu_; not held here).
  if (pods_) pods_->Shutdown();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (poller_.joinable() && poller_.get_id() != std::this_thread::get_id()) poller_.join();
}

void EmrOnEksEngine::Send(const Update& u) {
  if (sink_) sink_(u);
}

void EmrOnEksEngine::QueueEvent(const std::string& attempt_id, Micros at, const std::string& text) {
  {
    std::lock_guard lock(mu_);
    auto it = tracked_.find(attempt_id);
    // Also after the end was seen: Finish sends what came until the pods were let go.
    if (it == tracked_.end()) return;
    it->second.pending_events.push_back({at, text});
  }
  cv_.notify_all();
}

void EmrOnEksEngine::SendPending(const std::string& attempt_id, std::vector<PendingEvent> events) {
  for (PendingEvent& e : events) {
    if (e.text.empty()) continue;
    Update u;
    u.kind = Update::Kind::kEvent;
    u.attempt_id = attempt_id;
    u.at = e.at != 0 ? e.at : clock_.Now();
    u.message = std::move(e.text);
    Send(u);
  }
}

bool EmrOnEksEngine::WaitFor(Micros d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, std::chrono::microseconds(std::max<Micros>(d, 0)),
                       [this] { return stopping_; });
}

Result<std::optional<aws::JobRunInfo>> EmrOnEksEngine::FindExisting(const std::string& attempt_id,
                                                                    const std::string& name) {
  ASSIGN_OR_RETURN(std::vector<aws::JobRunInfo> runs,
                   emr_->ListJobRuns(options_.settings.virtual_cluster_id, name));
  // The tag is the proof (a name filter may match more than the name: moto matches
  // substrings). Should there be several (a server that ignored clientToken), the one still
  // running is the one to follow.
  std::optional<aws::JobRunInfo> found;
  for (aws::JobRunInfo& r : runs) {
    auto tag = r.tags.find(kAttemptTag);
    bool ours = (tag != r.tags.end() && tag->second == attempt_id) || r.client_token == attempt_id;
    if (!ours) continue;
    if (!found || (Terminal(found->state) && !Terminal(r.state))) found = std::move(r);
  }
  return found;
}

void EmrOnEksEngine::TrackLocked(const std::string& attempt_id, const EmrRef& ref) {
  if (!poller_.joinable() && !stopping_) {
    // Started with the first attempt, after SetSink (the poll thread is the sink's caller).
    poller_ = std::thread([this] {
      SetThreadName("tug-emr-poll");
      PollLoop();
    });
  }
  Tracked& t = tracked_[attempt_id];
  t.attempt_id = attempt_id;
  t.ref = ref;
  t.next_poll = clock_.Now();
  cv_.notify_all();
}

Result<std::string> EmrOnEksEngine::Launch(const LaunchSpec& spec) {
  const std::string& id = spec.attempt_id;
  {
    std::unique_lock lock(mu_);
    // Two launches of one attempt at once: the second waits for the first and returns its ref.
    cv_.wait(lock, [&] { return stopping_ || launching_.count(id) == 0; });
    if (stopping_) return Unavailable("the emr-on-eks engine is shutting down");
    if (auto it = tracked_.find(id); it != tracked_.end()) return EncodeRef(it->second.ref);
    launching_.insert(id);
  }
  struct Done {
    EmrOnEksEngine* e;
    std::string id;
    ~Done() {
      {
        std::lock_guard lock(e->mu_);
        e->launching_.erase(id);
      }
      e->cv_.notify_all();
    }
  } done{this, id};

  const EmrSettings& s = options_.settings;
  ASSIGN_OR_RETURN(json::object body, StartJobRunBody(spec, s));
  EmrRef ref;
  ref.virtual_cluster_id = s.virtual_cluster_id;
  ref.run_id = spec.run_id;
  ref.name = JobRunName(spec);
  ref.log_uri = s.log_uri;
  if (spec.timeout_seconds > 0) {
    ref.deadline = clock_.Now() + spec.timeout_seconds * kMicrosPerSecond;
  }
  std::string event;
  auto existing = FindExisting(id, ref.name);
  if (!existing.ok()) return std::move(existing).take_error();
  if (*existing) {
    ref.job_run_id = (*existing)->id;
    event = fmt::format(
        "EMR job run {} ({}) was already started for this attempt; re-attached instead of "
        "starting it again",
        ref.job_run_id, (*existing)->state);
  }
  for (int attempt = 1; ref.job_run_id.empty(); ++attempt) {
    ++starts_;
    auto started = emr_->StartJobRun(s.virtual_cluster_id, body);
    if (started.ok()) {
      ref.job_run_id = started->id;
      event = fmt::format("EMR job run {} started on virtual cluster {} (release {})", started->id,
                          s.virtual_cluster_id, std::string(body.at("releaseLabel").as_string()));
      break;
    }
    const Error& err = started.error();
    if (err.code() == Code::kNotFound) {
      // A virtual cluster or release label that does not exist fails every attempt the same way.
      return FailedPrecondition(fmt::format(
          "{}; check emr.virtual_cluster_id and emr.release_labels in the server config",
          err.message()));
    }
    if (err.code() != Code::kUnavailable || attempt >= options_.start_tries) {
      std::lock_guard lock(mu_);
      last_error_ = err.message();
      return err;
    }
    // A timeout may hide a job run that did start: same clientToken again (idempotent on EMR),
    // after looking for it (servers that ignore clientToken).
    if (!WaitFor(options_.start_retry_wait)) return Unavailable("the engine is shutting down");
    auto again = FindExisting(id, ref.name);
    if (again.ok() && *again) {
      ref.job_run_id = (*again)->id;
      event = fmt::format("EMR job run {} started on virtual cluster {}", ref.job_run_id,
                          s.virtual_cluster_id);
    }
  }
  {
    std::lock_guard lock(mu_);
    last_error_.clear();
    TrackLocked(id, ref);
    tracked_[id].pending_events.push_back({0, event});
  }
  if (pods_) pods_->Track(id, ref.run_id, ref.job_run_id);
  return EncodeRef(ref);
}

Status EmrOnEksEngine::Adopt(const std::string& attempt_id, const std::string& engine_ref) {
  {
    std::lock_guard lock(mu_);
    if (tracked_.count(attempt_id) > 0) return OkStatus();
  }
  auto decoded = DecodeRef(engine_ref);
  EmrRef ref = decoded.ok() ? *decoded : EmrRef{};
  if (ref.virtual_cluster_id.empty()) ref.virtual_cluster_id = options_.settings.virtual_cluster_id;
  if (ref.log_uri.empty()) ref.log_uri = options_.settings.log_uri;
  if (ref.run_id.empty()) ref.run_id = RunIdOfAttempt(attempt_id);
  if (ref.job_run_id.empty()) {
    // No job run id (a ref from before the launch was recorded): the cluster's runs, by tag.
    auto found = FindExisting(attempt_id, ref.name);
    if (!found.ok()) return std::move(found).take_error();
    if (!*found) {
      return NotFound(fmt::format(
          "no EMR job run on virtual cluster '{}' carries tag {}={}; it was never started or "
          "EMR no longer lists it",
          ref.virtual_cluster_id, kAttemptTag, attempt_id));
    }
    ref.job_run_id = (*found)->id;
  } else {
    ++describes_;
    auto job = emr_->DescribeJobRun(ref.virtual_cluster_id, ref.job_run_id);
    if (!job.ok()) {
      if (job.error().code() == Code::kNotFound || job.error().code() == Code::kInvalidArgument) {
        return NotFound(fmt::format("EMR job run '{}' of attempt '{}' is gone: {}", ref.job_run_id,
                                    attempt_id, job.error().message()));
      }
      // EMR unreachable at restart: follow the job run anyway (the poll backs off and tries
      // again) rather than calling the attempt lost and running it twice.
      {
        std::lock_guard lock(mu_);
        last_error_ = job.error().message();
      }
      log::Warn("emr-on-eks: describing an adopted job run failed; following it anyway",
                {{"attempt", attempt_id}, {"error", job.error().ToString()}});
    }
  }
  {
    std::lock_guard lock(mu_);
    if (tracked_.count(attempt_id) == 0) TrackLocked(attempt_id, ref);
  }
  if (pods_) pods_->Track(attempt_id, ref.run_id, ref.job_run_id);
  return OkStatus();
}

bool EmrOnEksEngine::Cancel(const EmrRef& ref) {
  Status st = emr_->CancelJobRun(ref.virtual_cluster_id, ref.job_run_id);
  if (st.ok()) return true;
  // CancelJobRun's only client error in the service model is ValidationException: the job run
  // has ended or is being cancelled already. The next describe says which.
  if (st.error().code() == Code::kInvalidArgument || st.error().code() == Code::kNotFound) {
    return true;
  }
  log::Warn("emr-on-eks: cancelling a job run failed; trying again at the next poll",
            {{"job_run", ref.job_run_id}, {"error", st.error().ToString()}});
  return false;
}

Status EmrOnEksEngine::Stop(const std::string& attempt_id) {
  EmrRef ref;
  {
    std::lock_guard lock(mu_);
    auto it = tracked_.find(attempt_id);
    if (it == tracked_.end()) {
      return NotFound(
          fmt::format("attempt '{}' is not followed by the emr-on-eks engine", attempt_id));
    }
    if (it->second.ended || it->second.stop_requested) return OkStatus();
    it->second.stop_requested = true;
    ref = it->second.ref;
  }
  bool sent = Cancel(ref);
  std::lock_guard lock(mu_);
  if (auto it = tracked_.find(attempt_id); it != tracked_.end()) {
    it->second.cancel_sent = sent;
    it->second.pending_events.push_back(
        {0, fmt::format("stop requested: cancelling EMR job run {}", ref.job_run_id)});
    it->second.next_poll = clock_.Now();
  }
  cv_.notify_all();
  return OkStatus();
}

std::vector<std::string> EmrOnEksEngine::Active() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.reserve(tracked_.size());
  for (const auto& [id, t] : tracked_) out.push_back(id);
  return out;
}

Status EmrOnEksEngine::Cleanup(const std::string& attempt_id) {
  // Nothing of a job run can be deleted on EMR; the engine only forgets it.
  if (pods_) pods_->Forget(attempt_id);
  std::lock_guard lock(mu_);
  auto it = tracked_.find(attempt_id);
  if (it == tracked_.end()) return OkStatus();
  if (it->second.polling) {
    it->second.forget = true;  // the poll in flight erases it when done
  } else {
    tracked_.erase(it);
  }
  return OkStatus();
}

Health EmrOnEksEngine::GetHealth() const {
  std::lock_guard lock(mu_);
  Health h;
  h.degraded = !last_error_.empty();
  h.message = last_error_.empty() ? "" : "emr-containers: " + last_error_;
  return h;
}

}  // namespace tug::engine::emr
