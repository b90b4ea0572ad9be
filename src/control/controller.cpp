#include "control/controller.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "control/controller_internal.h"
#include "core/log.h"
#include "core/quantity.h"
#include "core/thread_name.h"

namespace tug::control {

using internal::Transient;

std::string MakeOwner(const std::string& host) {
  std::random_device rd;
  return fmt::format("{}/{}/{:08x}", host, ::getpid(), rd());
}

std::string OwnerHost(const std::string& owner) { return owner.substr(0, owner.find('/')); }

Controller::Controller(ControlOptions options, store::Store& store,
                       std::vector<engine::Engine*> engines, metrics::Registry& registry,
                       const Clock& clock)
    : options_(std::move(options)),
      store_(store),
      clock_(clock),
      launched_(
          registry.AddCounter("tug_attempts_launched_total", "Attempts launched on an engine")),
      ended_(registry.AddCounter("tug_attempts_ended_total", "Attempts ended, by outcome reason")),
      submit_to_launch_(
          registry.AddHistogram("tug_submit_to_launch_seconds",
                                "Time from an attempt becoming due to its process being started",
                                {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60})),
      launch_seconds_(registry.AddHistogram(
          "tug_launch_seconds", "Time an engine's Launch call takes, by engine",
          {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5})),
      update_seconds_(registry.AddHistogram(
          "tug_engine_update_seconds",
          "Time to record an engine update in the store (and clean up after an end), by kind",
          {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1})),
      adopted_(registry.AddCounter("tug_attempts_adopted_total",
                                   "Orphaned attempts taken over from a dead owner, by outcome")),
      deferred_total_(registry.AddCounter(
          "tug_store_updates_deferred_total",
          "Engine updates kept in memory because the store was unreachable, retried until taken")),
      usage_dropped_(registry.AddCounter(
          "tug_usage_samples_dropped_total",
          "Usage readings not stored because the store refused them (charts have a gap)")),
      failed_(registry.AddCounter("tug_attempts_failed_total",
                                  "Failed or lost attempts, by the failure class acted on")),
      decisions_(registry.AddCounter(
          "tug_retry_decisions_total",
          "The planner's decisions after failed attempts, by rule and whether it retried")) {
  for (engine::Engine* e : engines) engines_[e->Name()] = e;
  if (!options_.queues.empty()) {
    admission_ = std::make_unique<Admission>(options_.queues, options_.queue_capacity, store_,
                                             options_.owner, options_.lease, clock_, &registry);
  }
}

Controller::~Controller() { Stop(); }

engine::Engine* Controller::EngineFor(const std::string& name) const {
  auto it = engines_.find(name);
  return it == engines_.end() ? nullptr : it->second;
}

Status Controller::Start() {
  StartUpdateWorkers();
  for (auto& [name, e] : engines_) {
    e->SetSink([this](const engine::Update& u) { OnUpdate(u); });
  }
  Reconcile();
  {
    std::lock_guard lock(mu_);
    started_ = true;
    stopping_ = false;
  }
  if (options_.dispatch) {
    for (int i = 0; i < std::max(options_.launch_workers, 1); ++i) {
      launchers_.emplace_back([this] {
        SetThreadName("tug-launch");
        LaunchLoop();
      });
    }
    dispatcher_ = std::thread([this] {
      SetThreadName("tug-dispatch");
      DispatchLoop();
    });
  }
  lease_keeper_ = std::thread([this] {
    SetThreadName("tug-lease");
    LeaseLoop();
  });
  housekeeper_ = std::thread([this] {
    SetThreadName("tug-housekeep");
    HousekeepingLoop();
  });
  return OkStatus();
}

void Controller::Stop() {
  {
    std::lock_guard lock(mu_);
    if (!started_) return;
    started_ = false;
    stopping_ = true;
  }
  cv_.notify_all();
  launch_cv_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  // The workers launch what was already claimed before they exit (a launch is short), so no
  // claim waits for its lease to expire before the next server takes it.
  for (std::thread& t : launchers_) t.join();
  launchers_.clear();
  if (lease_keeper_.joinable()) lease_keeper_.join();
  if (housekeeper_.joinable()) housekeeper_.join();
  // Updates already handed over are recorded; later ones are recorded on the engine's thread.
  StopUpdateWorkers();
  // Let another replica take the singleton loops over at once.
  (void)store_.ReleaseLease("reconcile", options_.owner);
  (void)store_.ReleaseLease("retention", options_.owner);
  if (admission_) admission_->Release();
}

void Controller::Wake() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void Controller::Event(const std::string& run_id, const std::string& attempt_id,
                       const std::string& type, const std::string& message) {
  tug::Event e;
  e.run_id = run_id;
  e.attempt_id = attempt_id;
  e.at = clock_.Now();
  e.type = type;
  e.message = message;
  if (auto st = store_.AppendEvent(e); !st.ok()) {
    log::Warn("appending event failed", {{"run", run_id}, {"error", st.error().ToString()}});
  }
}

void Controller::Reconcile() {
  Sweep(/*cluster=*/true);
  for (auto& [name, e] : engines_) e->AfterReconcile();
}

void Controller::DispatchLoop() {
  // Claimed attempts wait in launch_queue_ for a worker; no more are claimed than twice the
  // workers can take, so a claim is launched soon after it is made (its lease is renewed
  // meanwhile by the lease keeper) and other replicas can claim the rest.
  const int max_in_flight = 2 * std::max(options_.launch_workers, 1);
  while (true) {
    int room = 0;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || launches_in_flight_ < max_in_flight; });
      if (stopping_) return;
      wake_ = false;
      room = max_in_flight - launches_in_flight_;
    }
    const int batch = std::min(options_.claim_batch, room);
    auto claimed = admission_
                       ? admission_->Round(batch)
                       : store_.ClaimAttempts(options_.owner, clock_.Now(), options_.lease, batch);
    ++claim_rounds_;
    if (!claimed.ok()) {
      log::Warn("dispatcher: claim failed", {{"error", claimed.error().ToString()}});
    } else if (!claimed->empty()) {
      {
        std::lock_guard lock(launching_mu_);
        for (const Attempt& a : *claimed) launching_.insert(a.id);
      }
      {
        std::lock_guard lock(mu_);
        launches_in_flight_ += static_cast<int>(claimed->size());
        for (Attempt& a : *claimed) launch_queue_.push_back(std::move(a));
      }
      launch_cv_.notify_all();
      continue;  // there may be more due work
    }
    // Sleep until woken, until the next attempt is due, or a slow poll (expired leases).
    Micros wait = options_.idle_poll;
    // With queues, due attempts may wait on limits: poll (capacity frees when runs end)
    // rather than spin on their past due times.
    if (admission_) {
      // nothing: the idle poll, or a Wake on submit
    } else if (auto next = store_.NextDueAt(); next.ok() && next->has_value()) {
      wait = std::min(wait, std::max<Micros>(**next - clock_.Now(), 0));
    }
    std::unique_lock lock(mu_);
    if (!claimed.ok()) wait = std::max<Micros>(wait, 200 * kMicrosPerMilli);  // don't spin
    cv_.wait_for(lock, std::chrono::microseconds(wait), [this] { return wake_ || stopping_; });
  }
}

void Controller::LaunchLoop() {
  while (true) {
    Attempt attempt;
    {
      std::unique_lock lock(mu_);
      launch_cv_.wait(lock, [this] { return stopping_ || !launch_queue_.empty(); });
      if (launch_queue_.empty()) return;  // stopping, and nothing claimed is left
      // Oldest claim first (the queue is short: at most two claims per worker).
      attempt = std::move(launch_queue_.front());
      launch_queue_.erase(launch_queue_.begin());
    }
    Launch(attempt);
    {
      std::lock_guard lock(launching_mu_);
      launching_.erase(attempt.id);
    }
    {
      std::lock_guard lock(mu_);
      --launches_in_flight_;
    }
    cv_.notify_all();  // the dispatcher may claim again
  }
}

void Controller::LeaseLoop() {
  const Micros tick = std::min<Micros>(options_.renew_every, kMicrosPerSecond);
  Micros next_renew = clock_.Now() + options_.renew_every;
  bool renew_failed = false;
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, std::chrono::microseconds(tick), [this] { return stopping_; })) {
        return;
      }
    }
    // After a failed renewal (the store was down) retry every tick, so the leases are back
    // before they expire and another replica mistakes our attempts for orphans.
    if (renew_failed || clock_.Now() >= next_renew) {
      auto n = store_.RenewLeases(options_.owner, clock_.Now(), options_.lease);
      renew_failed = !n.ok();
      if (renew_failed) log::Warn("renewing leases failed", {{"error", n.error().ToString()}});
      next_renew = clock_.Now() + options_.renew_every;
    }
    RetryDeferred();
  }
}

void Controller::SetServerUrl(std::string url) {
  std::lock_guard lock(mu_);
  server_url_ = std::move(url);
}

engine::LaunchSpec LaunchSpecFor(const Run& run, const Attempt& attempt,
                                 const std::string& server_url) {
  engine::LaunchSpec spec;
  spec.run_id = attempt.run_id;
  spec.attempt_id = attempt.id;
  spec.attempt_number = attempt.number;
  spec.definition = run.definition;
  spec.argv = run.spec.Argv();
  spec.env = run.spec.env;
  spec.secret_env = run.spec.secret_env;
  // Lineage (issue 26): what a job needs to submit children. Assembled here, once, so the local,
  // kubernetes, spark (driver and executors) and EMR engines all pass the same variables.
  spec.env["TUG_RUN_ID"] = run.id;
  spec.secret_env.erase("TUG_RUN_ID");
  if (!run.parent_run_id.empty()) {
    spec.env["TUG_PARENT_RUN_ID"] = run.parent_run_id;
    spec.secret_env.erase("TUG_PARENT_RUN_ID");
  }
  if (!server_url.empty()) {
    spec.env["TUG_SERVER"] = server_url;
    spec.secret_env.erase("TUG_SERVER");
  }
  spec.working_dir = run.spec.working_dir;
  spec.image = run.spec.image;
  spec.resources = attempt.resources;
  spec.timeout_seconds = run.spec.timeout_seconds;
  spec.placement = attempt.placement;
  spec.kubernetes = run.spec.kubernetes;
  spec.kind = run.spec.kind;
  spec.spark = run.spec.spark;
  return spec;
}

void Controller::Launch(const Attempt& attempt) {
  auto run = store_.GetRun(attempt.run_id);
  if (!run.ok()) {
    log::Error("dispatcher: run of claimed attempt unreadable",
               {{"attempt", attempt.id}, {"error", run.error().ToString()}});
    return;
  }
  std::string server_url;
  {
    std::lock_guard lock(mu_);
    server_url = server_url_.empty() ? options_.server_url : server_url_;
  }
  engine::LaunchSpec spec = LaunchSpecFor(*run, attempt, server_url);

  engine::Engine* engine = EngineFor(attempt.engine);
  const auto launch_start = std::chrono::steady_clock::now();
  Result<std::string> ref =
      engine != nullptr
          ? engine->Launch(spec)
          : Result<std::string>(FailedPrecondition(fmt::format(
                "this server has no engine '{}'; configure it (see docs/configuration.md)",
                attempt.engine)));
  launch_seconds_.With({{"engine", attempt.engine}})
      .Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - launch_start).count());
  Micros now = clock_.Now();
  if (!ref.ok()) {
    store::AttemptEnd end;
    end.status = AttemptStatus::kFailed;
    // A spec the engine refuses (the API server's 422, a bad working dir) fails the same way
    // every time: a configuration error, not an infrastructure hiccup to retry.
    const Code code = ref.error().code();
    end.outcome.reason = code == Code::kInvalidArgument || code == Code::kFailedPrecondition
                             ? std::string(reason::kInvalidSpec)
                             : std::string(reason::kLaunchFailed);
    end.outcome.message = ref.error().message();
    end.ended_at = now;
    log::Warn("launch failed", {{"attempt", attempt.id}, {"error", ref.error().ToString()}});
    if (Status st = EndAttempt(attempt, end); !st.ok() && Transient(st)) {
      Defer(Deferred{std::nullopt, attempt, std::move(end)});
    }
    return;
  }
  launched_.With({{"engine", attempt.engine}}).Inc();
  if (attempt.due_at > 0 && attempt.launched_at == 0) {
    submit_to_launch_.With({}).Observe(static_cast<double>(now - attempt.due_at) / 1e6);
  }
  if (auto st = store_.MarkLaunched(attempt.id, options_.owner, *ref, now); !st.ok()) {
    // The attempt may already have ended (fast jobs report before this line), or another server
    // took the lease over; either way the engine's record is the truth and nothing runs twice.
    log::Debug("mark launched skipped", {{"attempt", attempt.id}, {"why", st.error().ToString()}});
  }
  log::Info("attempt launched", {{"run", attempt.run_id},
                                 {"attempt", attempt.id},
                                 {"memory", FormatMemory(attempt.resources.memory_bytes)}});
  // A stop requested while we were launching must still reach the process.
  bool stop = run->stop_requested;
  if (!stop) {
    auto again = store_.GetRun(attempt.run_id);
    stop = again.ok() && again->stop_requested;
  }
  if (stop) (void)engine->Stop(attempt.id);
}

Status Controller::StopRun(const std::string& run_id, const std::string& requested_by) {
  ASSIGN_OR_RETURN(bool stopped_now, store_.RequestStop(run_id, clock_.Now(), requested_by));
  if (stopped_now) return OkStatus();
  ASSIGN_OR_RETURN(Run run, store_.GetRun(run_id));
  for (const Attempt& a : run.attempts) {
    if (IsTerminal(a.status)) continue;
    engine::Engine* engine = EngineFor(a.engine);
    if (engine == nullptr) continue;
    auto st = engine->Stop(a.id);
    if (!st.ok() && st.error().code() != Code::kNotFound) return st;
    // kNotFound: not launched yet; the dispatcher sees stop_requested right after launching.
  }
  return OkStatus();
}

}  // namespace tug::control
