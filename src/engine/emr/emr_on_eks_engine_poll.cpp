// The emr-on-eks engine's poll thread: DescribeJobRun per followed attempt with back-off, the
// deadline's cancel, the state changes on the timeline, and at the end EMR's logs from S3, the
// driver's exit from the job runner's log and kEnded.
#include <algorithm>
#include <chrono>
#include <fstream>

#include <fmt/format.h>

#include "core/log.h"
#include "engine/emr/emr_logs.h"
#include "engine/emr/emr_on_eks_engine.h"

namespace tug::engine::emr {
namespace {

constexpr char kEmrLog[] = "emr";

// The state change as people read it on the run's timeline.
std::string StateEvent(const aws::JobRunInfo& job) {
  std::string text = fmt::format("EMR job run {} is {}", job.id, job.state);
  if (!job.failure_reason.empty()) text += " (" + job.failure_reason + ")";
  if (!job.state_details.empty()) text += ": " + job.state_details;
  return text;
}

}  // namespace

void EmrOnEksEngine::PollLoop() {
  while (true) {
    std::vector<std::string> due;
    std::vector<std::pair<std::string, std::vector<PendingEvent>>> notes;
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
            // The pod watcher's notes go out now, not at the next describe.
            if (!t.pending_events.empty()) notes.emplace_back(id, std::move(t.pending_events));
            t.pending_events.clear();
          }
        }
        if (!due.empty() || !notes.empty()) break;
        cv_.wait_for(lock, std::chrono::microseconds(next - now));
      }
      if (stopping_) return;
    }
    for (auto& [id, events] : notes) SendPending(id, std::move(events));
    for (const std::string& id : due) PollOne(id);
  }
}

void EmrOnEksEngine::PollOne(const std::string& attempt_id) {
  Tracked t;
  std::vector<PendingEvent> events;
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
  SendPending(attempt_id, std::move(events));

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
  // The pods first: their log followers stop (after one last read) before EMR's copy is
  // imported, and their last notes go out before the end.
  std::vector<ComponentStatus> pods;
  if (pods_) {
    pods = pods_->Finish(attempt_id);
    std::vector<PendingEvent> events;
    {
      std::lock_guard lock(mu_);
      if (auto it = tracked_.find(attempt_id); it != tracked_.end()) {
        events.swap(it->second.pending_events);
      }
    }
    SendPending(attempt_id, std::move(events));
  }
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
  // Live-followed logs: dropped where EMR's copy came, kept where it did not.
  if (pods_) {
    for (std::string& kept : SettleLiveLogs(logs_, ref.run_id, attempt_id, components)) {
      components.push_back(std::move(kept));
    }
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
  ApplyPodStates(u, pods, job.state == "FAILED" && job.failure_reason == "USER_ERROR");
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
