// The controller's engine updates: update workers (each attempt's updates in order on one
// thread), recording them in the store, deferring what the store cannot take yet, and the end
// of an attempt (diagnosis, retry planning, the store's EndAttempt).
#include <chrono>
#include <functional>
#include <iterator>
#include <thread>

#include <boost/json/parse.hpp>

#include "control/controller.h"
#include "control/controller_internal.h"
#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"
#include "core/thread_name.h"

namespace tug::control {

using internal::Transient;

void Controller::StartUpdateWorkers() {
  if (!update_queues_.empty()) return;
  for (int i = 0; i < options_.update_workers; ++i) {
    update_queues_.push_back(std::make_unique<UpdateQueue>());
  }
  for (auto& q : update_queues_) {
    q->worker = std::thread([this, queue = q.get()] {
      SetThreadName("tug-updates");
      UpdateLoop(*queue);
    });
  }
}

void Controller::StopUpdateWorkers() {
  for (auto& q : update_queues_) {
    {
      std::lock_guard lock(q->mu);
      q->stop = true;
    }
    q->cv.notify_all();
  }
  for (auto& q : update_queues_) {
    if (q->worker.joinable()) q->worker.join();
  }
  // The queues stay (stopped): a late update finds its queue stopped and records inline.
}

void Controller::UpdateLoop(UpdateQueue& queue) {
  while (true) {
    engine::Update u;
    {
      std::unique_lock lock(queue.mu);
      queue.cv.wait(lock, [&] { return queue.stop || !queue.updates.empty(); });
      if (queue.updates.empty()) {
        queue.exited = true;
        queue.cv.notify_all();
        return;
      }
      u = std::move(queue.updates.front());
      queue.updates.pop_front();
    }
    RecordUpdate(u);
  }
}

void Controller::OnUpdate(const engine::Update& u) {
  if (!update_queues_.empty()) {
    UpdateQueue& q =
        *update_queues_[std::hash<std::string>{}(u.attempt_id) % update_queues_.size()];
    std::unique_lock lock(q.mu);
    if (!q.stop) {
      q.updates.push_back(u);
      lock.unlock();
      q.cv.notify_one();
      return;
    }
    // Stopping: the attempt's earlier updates go first, then this one here.
    q.cv.wait(lock, [&] { return q.exited; });
  }
  RecordUpdate(u);
}

void Controller::RecordUpdate(const engine::Update& u) {
  if (u.kind == engine::Update::Kind::kUsage) {
    RecordUsage(u);
    return;
  }
  bool behind = false;
  {
    std::lock_guard lock(deferred_mu_);
    behind = !deferred_.empty();
  }
  // Behind earlier deferred updates, this one waits its turn (a start before its end).
  const auto start = std::chrono::steady_clock::now();
  if (behind || !ApplyUpdate(u)) Defer(Deferred{u, {}, {}});
  update_seconds_
      .With({{"kind", u.kind == engine::Update::Kind::kStarted ? "started"
                      : u.kind == engine::Update::Kind::kEnded ? "ended"
                                                               : "event"}})
      .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

void Controller::RecordUsage(const engine::Update& u) {
  // The run id comes from the attempt id: no store read per sample.
  const std::string run_id = RunIdOfAttempt(u.attempt_id);
  if (run_id.empty() || u.usage.empty()) return;
  std::vector<store::UsageSample> samples;
  samples.reserve(u.usage.size());
  for (const UsageReading& r : u.usage) {
    samples.push_back(store::UsageSample{run_id, u.attempt_id, u.at, u.started_at, r});
  }
  // Usage is a chart, not a record the platform acts on: while the store is unreachable the
  // samples are dropped (and counted) rather than queued behind the updates that matter.
  if (Status st = store_.AppendUsage(samples); !st.ok()) {
    usage_dropped_.With({}).Inc(static_cast<double>(samples.size()));
    log::Debug("usage samples dropped",
               {{"attempt", u.attempt_id}, {"error", st.error().ToString()}});
  }
}

void Controller::Defer(Deferred d) {
  deferred_total_.With({}).Inc();
  log::Warn("the store is unreachable; keeping an engine update to record later",
            {{"attempt", d.update ? d.update->attempt_id : d.attempt.id}});
  std::lock_guard lock(deferred_mu_);
  deferred_.push_back(std::move(d));
}

void Controller::RetryDeferred() {
  std::vector<Deferred> pending;
  {
    std::lock_guard lock(deferred_mu_);
    if (deferred_.empty()) return;
    pending.swap(deferred_);
  }
  size_t done = 0;
  for (; done < pending.size(); ++done) {
    Deferred& d = pending[done];
    if (d.update) {
      if (!ApplyUpdate(*d.update)) break;
    } else if (Status st = EndAttempt(d.attempt, d.end); !st.ok() && Transient(st)) {
      break;
    }
  }
  std::lock_guard lock(deferred_mu_);
  // What arrived meanwhile goes after what is still pending.
  deferred_.insert(deferred_.begin(),
                   std::make_move_iterator(pending.begin() + static_cast<std::ptrdiff_t>(done)),
                   std::make_move_iterator(pending.end()));
  if (done > 0) {
    log::Info("recorded deferred engine updates",
              {{"count", std::to_string(done)}, {"left", std::to_string(deferred_.size())}});
  }
}

bool Controller::ApplyUpdate(const engine::Update& u) {
  if (u.kind == engine::Update::Kind::kStarted) {
    // The commonest update needs nothing but the attempt id: one store call, no read first.
    if (auto st = store_.MarkRunning(u.attempt_id, u.at); !st.ok()) {
      if (Transient(st)) return false;
      log::Debug("mark running skipped",
                 {{"attempt", u.attempt_id}, {"why", st.error().ToString()}});
    }
    return true;
  }
  auto attempt = store_.GetAttempt(u.attempt_id);
  if (!attempt.ok()) {
    if (Transient(attempt.error())) return false;
    log::Warn("engine update for unknown attempt", {{"attempt", u.attempt_id}});
    return true;
  }
  switch (u.kind) {
    case engine::Update::Kind::kStarted:
      return true;  // handled above
    case engine::Update::Kind::kEnded: {
      store::AttemptEnd end;
      end.status = u.status;
      end.outcome = u.outcome;
      end.ended_at = u.at;
      end.peak_memory_bytes = u.peak_memory_bytes;
      end.cpu_micros = u.cpu_micros;
      end.components = ComponentsJson(u.components);
      end.app_id = u.app_id;
      // The engine's record (status.json) is removed by Cleanup, so it may only go once the
      // store has the outcome; while the store is unreachable the update is retried, and if
      // this process dies meanwhile the record stays for the next server's reconcile to read.
      // The end and the cleanup are one step for HealOwn, which relaunches attempts that look
      // unlaunched: between them, its stale read and an idempotent Launch that no longer finds
      // the record would start the job again.
      std::lock_guard attempt_lock(AttemptMutex(u.attempt_id));
      Status st = EndAttempt(*attempt, end);
      if (!st.ok() && Transient(st)) return false;
      if (!st.ok() && st.error().code() != Code::kFailedPrecondition) {
        log::Error("recording the end of an attempt failed; keeping its engine record",
                   {{"attempt", u.attempt_id}, {"error", st.error().ToString()}});
        return true;
      }
      // Archived before the engine cleans up: an engine's cleanup may drop what the logs
      // were read from. A failed archive keeps the local copy, which stays readable.
      if (options_.logs != nullptr) {
        if (auto a = options_.logs->Archive(attempt->run_id, u.attempt_id); !a.ok()) {
          log::Warn("archiving the attempt's logs failed; they stay in the local spool",
                    {{"attempt", u.attempt_id}, {"error", a.error().ToString()}});
        }
      }
      engine::Engine* engine = EngineFor(attempt->engine);
      if (auto c = engine != nullptr ? engine->Cleanup(u.attempt_id) : OkStatus(); !c.ok()) {
        log::Warn("engine cleanup failed",
                  {{"attempt", u.attempt_id}, {"error", c.error().ToString()}});
      }
      return true;
    }
    case engine::Update::Kind::kUsage:
      RecordUsage(u);
      return true;
    case engine::Update::Kind::kEvent: {
      tug::Event e;
      e.run_id = attempt->run_id;
      e.attempt_id = u.attempt_id;
      e.at = u.at != 0 ? u.at : clock_.Now();
      e.type = "engine";
      e.message = u.message;
      if (auto st = store_.AppendEvent(e); !st.ok()) {
        if (Transient(st)) return false;
        log::Warn("appending event failed", {{"run", e.run_id}, {"error", st.error().ToString()}});
      }
      return true;
    }
  }
  return true;
}

Status Controller::EndAttempt(const Attempt& attempt, store::AttemptEnd end) {
  if (options_.diagnose && end.diagnosis.empty()) {
    // The diagnoser reads per-component evidence (an executor OOMKilled mid-job) from the
    // attempt as it ends, not as it was stored while running.
    Attempt ending = attempt;
    ending.components = end.components;
    ending.app_id = end.app_id;
    end.diagnosis = options_.diagnose(ending, end.status, end.outcome);
  }
  bool planned = false;
  const bool failed = end.status == AttemptStatus::kFailed || end.status == AttemptStatus::kLost;
  // The run is read for the planner and, with pricing on, for the cost counters' labels.
  std::optional<Run> run;
  if (failed || options_.cost != nullptr) {
    if (auto r = store_.GetRun(attempt.run_id); r.ok()) {
      run = std::move(*r);
    } else if (failed) {
      // Without the run the planner cannot decide; the run ends with this attempt.
      log::Warn("planning a retry: run unreadable",
                {{"attempt", attempt.id}, {"error", r.error().ToString()}});
    }
  }
  if (failed && run) {
    Micros now = clock_.Now();
    adapt::Climate climate = options_.climate ? options_.climate->Get(now) : adapt::Climate{};
    PlanRetryInto(*run, attempt, end, climate, options_.platform, attempt.engine, now);
    planned = end.next.has_value();
  }
  if (options_.cost != nullptr && !end.cost_usd) {
    // The attempt as stored may predate its start (a deferred end): the run's copy is newer.
    const Attempt* stored = &attempt;
    if (run) {
      for (const Attempt& a : run->attempts) {
        if (a.id == attempt.id) stored = &a;
      }
    }
    options_.cost->Price(*stored, end, clock_.Now());
  }
  Status st = store_.EndAttempt(attempt.id, end);
  for (int i = 0; i < 2 && !st.ok() &&
                  (st.error().code() == Code::kUnavailable || st.error().code() == Code::kInternal);
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200 << i));
    st = store_.EndAttempt(attempt.id, end);
  }
  if (st.ok()) {
    // Its queue has room again: admit the next run now rather than at the next poll.
    if (admission_) Wake();
    ended_.With({{"reason", end.outcome.reason}}).Inc();
    if (options_.cost != nullptr && run) options_.cost->Count(*run, end);
    if (!end.failure_class.empty()) failed_.With({{"class", end.failure_class}}).Inc();
    if (!end.decision.empty()) {
      // The decision is stored as JSON (adapt::ToJson); its rule is a small closed set of ids.
      boost::system::error_code ec;
      boost::json::value d = boost::json::parse(end.decision, ec);
      if (!ec && d.is_object()) {
        const auto* rule = d.as_object().if_contains("rule");
        decisions_
            .With({{"rule", rule != nullptr && rule->is_string() ? std::string(rule->as_string())
                                                                 : std::string("unknown")},
                   {"retry", planned ? "true" : "false"}})
            .Inc();
      }
    }
    log::Info("attempt ended",
              {{"run", attempt.run_id},
               {"attempt", attempt.id},
               {"reason", end.outcome.reason},
               {"exit_code", end.outcome.exit_code ? std::to_string(*end.outcome.exit_code)
                                                   : std::string("none")},
               {"retry", planned ? end.next->id : std::string("none")}});
    if (planned) Wake();
  } else if (st.error().code() == Code::kFailedPrecondition) {
    log::Debug("end attempt skipped: already ended",
               {{"attempt", attempt.id}, {"why", st.error().ToString()}});
  }
  return st;
}

}  // namespace tug::control
