#include "engine/emr/emr_on_eks_engine.h"

#include <algorithm>
#include <chrono>
#include <fstream>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/ids.h"
#include "core/log.h"
#include "core/thread_name.h"
#include "engine/emr/emr_logs.h"

namespace tug::engine::emr {
namespace json = boost::json;

namespace {

constexpr char kAttemptTag[] = "tugboat.attempt";
constexpr char kEmrLog[] = "emr";

std::string Str(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

bool Terminal(const std::string& state) {
  return state == "COMPLETED" || state == "FAILED" || state == "CANCELLED";
}

// The state change as people read it on the run's timeline.
std::string StateEvent(const aws::JobRunInfo& job) {
  std::string text = fmt::format("EMR job run {} is {}", job.id, job.state);
  if (!job.failure_reason.empty()) text += " (" + job.failure_reason + ")";
  if (!job.state_details.empty()) text += ": " + job.state_details;
  return text;
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
                               const Clock& clock)
    : options_(std::move(options)),
      emr_(std::move(emr)),
      s3_(std::move(s3)),
      logs_(logs),
      clock_(clock) {}

EmrOnEksEngine::~EmrOnEksEngine() { Shutdown(); }

void EmrOnEksEngine::SetSink(UpdateSink sink) { sink_ = std::move(sink); }

void EmrOnEksEngine::Shutdown() {
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
  std::lock_guard lock(mu_);
  last_error_.clear();
  TrackLocked(id, ref);
  tracked_[id].pending_events.push_back(event);
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
  std::lock_guard lock(mu_);
  if (tracked_.count(attempt_id) == 0) TrackLocked(attempt_id, ref);
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
        fmt::format("stop requested: cancelling EMR job run {}", ref.job_run_id));
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

void EmrOnEksEngine::PollLoop() {
  while (true) {
    std::vector<std::string> due;
    {
      std::unique_lock lock(mu_);
      while (!stopping_) {
        const Micros now = clock_.Now();
        Micros next = now + options_.poll.cap;
        for (auto& [id, t] : tracked_) {
          if (t.ended || t.polling) continue;
          if (t.next_poll <= now) {
            t.polling = true;
            due.push_back(id);
          } else {
            next = std::min(next, t.next_poll);
          }
        }
        if (!due.empty()) break;
        cv_.wait_for(lock, std::chrono::microseconds(next - now));
      }
      if (stopping_) return;
    }
    for (const std::string& id : due) PollOne(id);
  }
}

void EmrOnEksEngine::PollOne(const std::string& attempt_id) {
  Tracked t;
  std::vector<std::string> events;
  {
    std::lock_guard lock(mu_);
    auto it = tracked_.find(attempt_id);
    if (it == tracked_.end()) return;
    events.swap(it->second.pending_events);
    t = it->second;
  }
  // Applies what this poll learnt and hands the attempt back to the poll loop (or forgets it,
  // when Cleanup came while the poll was in flight).
  auto release = [&](auto&& change) {
    std::lock_guard lock(mu_);
    auto it = tracked_.find(attempt_id);
    if (it == tracked_.end()) return;
    change(it->second);
    it->second.polling = false;
    if (it->second.forget) tracked_.erase(it);
  };
  for (const std::string& e : events) {
    if (e.empty()) continue;
    Update u;
    u.kind = Update::Kind::kEvent;
    u.attempt_id = attempt_id;
    u.at = clock_.Now();
    u.message = e;
    Send(u);
  }

  Micros now = clock_.Now();
  bool cancel_sent = t.cancel_sent;
  bool deadline_hit = t.deadline_hit;
  if (t.ref.deadline > 0 && now >= t.ref.deadline && !deadline_hit && !t.stop_requested) {
    deadline_hit = true;
    AppendEmrLog(t.ref.run_id, attempt_id,
                 fmt::format("timeout reached: cancelling job run {}", t.ref.job_run_id));
    Update u;
    u.kind = Update::Kind::kEvent;
    u.attempt_id = attempt_id;
    u.at = now;
    u.message = fmt::format("timeout reached: cancelling EMR job run {}", t.ref.job_run_id);
    Send(u);
    cancel_sent = Cancel(t.ref);
  } else if ((t.stop_requested || deadline_hit) && !cancel_sent) {
    cancel_sent = Cancel(t.ref);
  }

  ++describes_;
  auto job = emr_->DescribeJobRun(t.ref.virtual_cluster_id, t.ref.job_run_id);
  now = clock_.Now();
  if (!job.ok()) {
    if (job.error().code() == Code::kNotFound || job.error().code() == Code::kInvalidArgument) {
      Update u;
      u.kind = Update::Kind::kEnded;
      u.attempt_id = attempt_id;
      u.at = now;
      u.status = AttemptStatus::kLost;
      u.outcome.reason = std::string(reason::kLost);
      u.outcome.message = fmt::format("EMR no longer knows job run {}: {}", t.ref.job_run_id,
                                      job.error().message());
      {
        std::lock_guard lock(mu_);
        if (auto it = tracked_.find(attempt_id); it != tracked_.end()) it->second.ended = true;
      }
      Send(u);
      release([](Tracked&) {});
      return;
    }
    {
      std::lock_guard lock(mu_);
      last_error_ = job.error().message();
    }
    log::Debug("emr-on-eks: describing a job run failed",
               {{"attempt", attempt_id}, {"error", job.error().ToString()}});
    release([&](Tracked& x) {
      x.errors++;
      x.cancel_sent = cancel_sent;
      x.deadline_hit = deadline_hit;
      x.next_poll = now + NextPollDelay(x.state, 0, x.errors, options_.poll);
    });
    return;
  }
  {
    std::lock_guard lock(mu_);
    last_error_.clear();
  }
  auto phase = PhaseOf(job->state, job->failure_reason, job->state_details);
  if (!phase.ok()) {
    log::Warn("emr-on-eks: unknown job run state; polling on",
              {{"attempt", attempt_id}, {"state", job->state}});
    release([&](Tracked& x) {
      x.next_poll = now + NextPollDelay(job->state, x.unchanged_polls++, 0, options_.poll);
    });
    return;
  }
  const bool changed = job->state != t.state;
  if (changed) {
    AppendEmrLog(t.ref.run_id, attempt_id, StateEvent(*job));
    Update u;
    u.kind = Update::Kind::kEvent;
    u.attempt_id = attempt_id;
    u.at = now;
    u.message = StateEvent(*job);
    Send(u);
  }
  bool started_sent = t.started_sent;
  if (phase->started && !started_sent && !phase->ended) {
    Update u;
    u.kind = Update::Kind::kStarted;
    u.attempt_id = attempt_id;
    u.at = now;
    u.started_at = now;
    u.message = fmt::format("EMR job run {} is running", job->id);
    Send(u);
    started_sent = true;
  }
  if (phase->ended) {
    {
      // Still `polling` until Finish is done, so a Cleanup meanwhile only marks it.
      std::lock_guard lock(mu_);
      if (auto it = tracked_.find(attempt_id); it != tracked_.end()) {
        it->second.ended = true;
        it->second.state = job->state;
      }
    }
    Finish(attempt_id, t.ref, *job, *phase, started_sent, t.stop_requested, deadline_hit);
    release([](Tracked&) {});
    return;
  }
  release([&](Tracked& x) {
    x.state = job->state;
    x.started_sent = started_sent;
    x.cancel_sent = cancel_sent;
    x.deadline_hit = deadline_hit;
    x.errors = 0;
    x.unchanged_polls = changed ? 0 : x.unchanged_polls + 1;
    Micros next = now + NextPollDelay(job->state, x.unchanged_polls, 0, options_.poll);
    // Wake for the deadline too.
    if (x.ref.deadline > 0 && !x.deadline_hit) next = std::min(next, x.ref.deadline);
    // While a stop or deadline cancel is on its way, look again soon.
    if (x.stop_requested || x.deadline_hit) next = std::min(next, now + options_.poll.base);
    x.next_poll = next;
  });
}

std::vector<std::string> EmrOnEksEngine::ImportLogs(const EmrRef& ref,
                                                    const std::string& attempt_id,
                                                    const std::string& job_run_id) {
  if (!s3_ || ref.log_uri.empty()) return {};
  auto written = ImportEmrLogs(*s3_, ref.log_uri, ref.virtual_cluster_id, job_run_id, logs_,
                               ref.run_id, attempt_id, clock_.Now());
  if (!written.ok()) {
    log::Warn("emr-on-eks: importing EMR's logs failed",
              {{"attempt", attempt_id}, {"error", written.error().ToString()}});
    AppendEmrLog(
        ref.run_id, attempt_id,
        "importing EMR's logs from " + ref.log_uri + " failed: " + written.error().message());
    return {};
  }
  return *written;
}

void EmrOnEksEngine::AppendEmrLog(const std::string& run_id, const std::string& attempt_id,
                                  const std::string& line) {
  auto path = logs_.PathFor(run_id, attempt_id, kEmrLog);
  if (!path.ok()) return;
  std::ofstream out(*path, std::ios::binary | std::ios::app);
  out << FormatTimestamp(clock_.Now()) << " tugboat " << line << '\n';
}

void EmrOnEksEngine::Finish(const std::string& attempt_id, const EmrRef& ref,
                            const aws::JobRunInfo& job, const JobRunPhase& phase, bool started_sent,
                            bool stop_requested, bool deadline_hit) {
  // The job ran (or may have): its logs, tried again while the driver's is not there yet.
  std::vector<std::string> components;
  const bool ran = phase.started || job.state == "CANCELLED";
  for (int i = 0; i < std::max(options_.log_import_tries, 1); ++i) {
    components = ImportLogs(ref, attempt_id, job.id);
    bool have_driver =
        std::find(components.begin(), components.end(), "driver") != components.end();
    if (have_driver || !ran || !s3_ || ref.log_uri.empty()) break;
    if (i + 1 < options_.log_import_tries && !WaitFor(options_.log_import_wait)) break;
  }
  std::optional<DriverExit> driver;
  if (std::find(components.begin(), components.end(), "controller") != components.end()) {
    std::string text;
    int64_t offset = 0;
    while (text.size() < (size_t{16} << 20)) {
      auto chunk = logs_.Read(ref.run_id, attempt_id, "controller", offset, 1 << 20);
      if (!chunk.ok() || chunk->data.empty()) break;
      offset = chunk->next_offset;
      text += logs::StripLinePrefixes(chunk->data);
    }
    driver = DriverExitFromJobRunnerLog(text);
  }

  Update u;
  u.kind = Update::Kind::kEnded;
  u.attempt_id = attempt_id;
  u.at = clock_.Now();
  u.status = phase.status;
  u.outcome = phase.outcome;
  if (job.state == "CANCELLED" && deadline_hit && !stop_requested) {
    u.status = AttemptStatus::kFailed;
    u.outcome.reason = std::string(reason::kDeadlineExceeded);
    u.outcome.exit_code.reset();
    u.outcome.message =
        fmt::format("the timeout was reached; EMR job run {} was cancelled", job.id);
  } else if (job.state == "CANCELLED" && stop_requested) {
    u.outcome.message = fmt::format("stopped by request; EMR job run {} was cancelled", job.id);
  } else if (job.state == "FAILED" && job.failure_reason == "USER_ERROR" && driver) {
    // EMR says the application failed; the job runner saw how the driver ended.
    if (driver->exit_code && *driver->exit_code != 0) u.outcome.exit_code = driver->exit_code;
    if (driver->reason == "OOMKilled") u.outcome.reason = std::string(reason::kOomKilled);
  }
  AppendEmrLog(ref.run_id, attempt_id,
               JobRunEndLine(job.id, job.state, job.failure_reason, job.state_details));

  // Components for the run's view and the diagnosis' platform facts: the job runner, with the
  // attempt's reason (the diagnosis reads config errors from it), and the driver when the job
  // runner's log told how it ended.
  ComponentStatus controller;
  controller.name = "controller";
  controller.state = u.status == AttemptStatus::kSucceeded ? "succeeded" : "failed";
  controller.reason = u.outcome.reason;
  controller.message = StateEvent(job);
  controller.ended_at = u.at;
  u.components.push_back(controller);
  if (driver) {
    ComponentStatus d;
    d.name = "driver";
    d.exit_code = driver->exit_code;
    d.reason = driver->reason;
    d.state = driver->exit_code == 0 ? "succeeded" : "failed";
    d.ended_at = u.at;
    u.components.push_back(d);
  }
  if (phase.started && !started_sent) {
    // It ran and ended between two polls: its start comes first.
    Update s;
    s.kind = Update::Kind::kStarted;
    s.attempt_id = attempt_id;
    s.at = u.at;
    s.started_at = u.at;
    s.message = fmt::format("EMR job run {} ran", job.id);
    Send(s);
  }
  Send(u);
}

}  // namespace tug::engine::emr
