// The controller's housekeeping: taking over orphaned attempts (reconcile) and retention.
#include <unistd.h>
#include <csignal>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <map>
#include <set>

#include <fmt/format.h>

#include "control/controller.h"
#include "core/log.h"

namespace tug::control {
namespace {

// Whether the server process named by `owner` ("<host>/<pid>/<random>") is certainly gone. Only
// meaningful for owners on this host; a live pid (even a reused one) counts as alive, so a
// doubtful case waits for the lease to expire instead.
bool OwnerProcessGone(const std::string& owner) {
  const size_t a = owner.find('/');
  const size_t b = a == std::string::npos ? a : owner.find('/', a + 1);
  if (b == std::string::npos) return false;
  int pid = 0;
  for (size_t i = a + 1; i < b; ++i) {
    if (owner[i] < '0' || owner[i] > '9') return false;
    pid = pid * 10 + (owner[i] - '0');
    if (pid > 1 << 22) return false;  // above Linux's pid_max
  }
  if (pid <= 0) return false;
  // Our own pid in another owner's name is an earlier incarnation (a restarted container).
  if (pid == ::getpid()) return true;
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace

bool Controller::IsOrphan(const Attempt& a, Micros now, bool cluster) const {
  if (a.claimed_by == options_.owner) return false;
  engine::Engine* engine = EngineFor(a.engine);
  if (engine == nullptr) return false;  // another server's engine: it is that server's
  const bool same_host = a.claimed_by.empty() || OwnerHost(a.claimed_by) == options_.host;
  // Local processes can only be re-attached on their own host.
  if (engine->HostBound() && !same_host) return false;
  if (!same_host) return a.lease_expires_at <= now && cluster;
  if (a.claimed_by.empty()) return a.lease_expires_at <= now;
  // On this host we can see whether the owner died: then at once, lease or not. A live owner
  // whose lease lapsed (the database was away and it could not renew yet) keeps its attempts;
  // only one that has not renewed for three leases is taken to be hung.
  const bool gone =
      options_.owner_gone ? options_.owner_gone(a.claimed_by) : OwnerProcessGone(a.claimed_by);
  return gone || a.lease_expires_at + 2 * options_.lease <= now;
}

void Controller::Sweep(bool cluster) {
  auto active = store_.ListActiveAttempts();
  if (!active.ok()) {
    log::Warn("reconcile: listing active attempts failed", {{"error", active.error().ToString()}});
    return;
  }
  int adopted = 0;
  int lost = 0;
  int relaunched = 0;
  const Micros now = clock_.Now();
  // What each engine watches, read once per sweep (a replica may own thousands of attempts).
  std::map<engine::Engine*, std::set<std::string>> watched;
  for (const Attempt& a : *active) {
    if (a.claimed_by == options_.owner) {
      engine::Engine* engine = EngineFor(a.engine);
      if (engine == nullptr) continue;
      auto it = watched.find(engine);
      if (it == watched.end()) {
        std::vector<std::string> ids = engine->Active();
        it = watched.emplace(engine, std::set<std::string>(ids.begin(), ids.end())).first;
      }
      if (it->second.count(a.id) == 0) HealOwn(*engine, a);
      continue;
    }
    if (!IsOrphan(a, now, cluster)) continue;
    // Compare-and-swap on the owner we saw: if another replica (or the owner itself, renewing)
    // got there first, we leave the attempt alone.
    if (auto st = store_.TakeOver(a.id, options_.owner, clock_.Now(), options_.lease, a.claimed_by);
        !st.ok()) {
      log::Debug("reconcile: not taking over attempt",
                 {{"attempt", a.id}, {"why", st.error().ToString()}});
      continue;
    }
    engine::Engine* engine = EngineFor(a.engine);
    if (a.engine_ref.empty()) {
      // Claimed but the launch was never recorded: the owner died somewhere around
      // engine.Launch. Launch is idempotent by attempt id, so calling it again either finds the
      // process that did start, or starts it for the first (and only) time.
      Launch(a);
      ++relaunched;
      adopted_.With({{"outcome", "relaunched"}}).Inc();
      continue;
    }
    auto st = engine->Adopt(a.id, a.engine_ref);
    if (st.ok()) {
      ++adopted;
      adopted_.With({{"outcome", "adopted"}}).Inc();
      Event(a.run_id, a.id, "adopted",
            fmt::format("owner {} is gone; re-attached to attempt {} (now {})",
                        a.claimed_by.empty() ? std::string("(none)") : a.claimed_by, a.number,
                        options_.owner));
      continue;
    }
    ++lost;
    adopted_.With({{"outcome", "lost"}}).Inc();
    store::AttemptEnd end;
    end.status = AttemptStatus::kLost;
    end.outcome.reason = std::string(reason::kLost);
    end.outcome.message = fmt::format(
        "its server stopped and the attempt could not be re-attached: {}", st.error().message());
    end.ended_at = clock_.Now();
    if (auto e = EndAttempt(a, end); !e.ok()) {
      log::Warn("reconcile: marking attempt lost failed",
                {{"attempt", a.id}, {"error", e.error().ToString()}});
    }
  }
  if (adopted + lost + relaunched > 0) {
    log::Info("reconcile took over orphaned attempts",
              {{"adopted", std::to_string(adopted)},
               {"lost", std::to_string(lost)},
               {"relaunched", std::to_string(relaunched)}});
  }
}

void Controller::HealOwn(engine::Engine& engine, const Attempt& a) {
  {
    std::lock_guard lock(launching_mu_);
    if (launching_.count(a.id) > 0) return;  // the dispatcher has it in hand
  }
  // Read it again now that we know the engine does not watch it: the listing may predate its
  // end. An end is stored before the engine's record is cleaned up, and both happen under this
  // attempt's mutex (ApplyUpdate), so an attempt still active here still has its record, and
  // Launch/Adopt below find it instead of starting it again.
  std::lock_guard attempt_lock(AttemptMutex(a.id));
  auto fresh = store_.GetAttempt(a.id);
  if (!fresh.ok() || IsTerminal(fresh->status) || fresh->claimed_by != options_.owner) return;
  // The sweep's view of what the engine watches predates the re-read: look again (rare: only
  // attempts that looked unwatched get here).
  const std::vector<std::string> now_watched = engine.Active();
  if (std::find(now_watched.begin(), now_watched.end(), a.id) != now_watched.end()) return;
  HealOwnFresh(engine, *fresh);
}

void Controller::HealOwnFresh(engine::Engine& engine, const Attempt& a) {
  if (a.status == AttemptStatus::kLaunching && a.engine_ref.empty()) {
    // Our claim committed but its reply never came back (the database went away mid-call), so
    // nothing launched it; Launch is idempotent by attempt id.
    log::Warn("launching an attempt whose claim reply was lost", {{"attempt", a.id}});
    Launch(a);
    return;
  }
  if (!engine.HostBound()) return;
  // Ours and running, yet the engine no longer watches it: its end never reached the store.
  // Adopt reads the engine's record and reports the end again (the first end recorded wins).
  log::Warn("re-adopting an attempt whose end was not recorded", {{"attempt", a.id}});
  if (auto st = engine.Adopt(a.id, a.engine_ref); !st.ok()) {
    store::AttemptEnd end;
    end.status = AttemptStatus::kLost;
    end.outcome.reason = std::string(reason::kLost);
    end.outcome.message =
        fmt::format("the attempt's process and record are gone: {}", st.error().message());
    end.ended_at = clock_.Now();
    if (auto e = EndAttempt(a, end); !e.ok()) {
      log::Debug("marking attempt lost skipped",
                 {{"attempt", a.id}, {"why", e.error().ToString()}});
    }
  }
}

void Controller::HousekeepingLoop() {
  Micros next_retention = clock_.Now();
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, std::chrono::microseconds(options_.sweep_every),
                       [this] { return stopping_; })) {
        return;
      }
    }
    // Every replica looks after its own host's local orphans; cluster orphans are looked after
    // by whichever replica holds the reconcile lease.
    auto lease = store_.AcquireLease("reconcile", options_.owner, clock_.Now(),
                                     std::max(3 * options_.sweep_every, options_.lease));
    Sweep(lease.ok() && *lease);
    ++sweeps_;
    // Retention also purges expired idempotency keys, so it runs when runs are kept forever.
    if (clock_.Now() >= next_retention) {
      Retain();
      next_retention = clock_.Now() + options_.retention_every;
    }
  }
}

void Controller::Retain() {
  auto lease = store_.AcquireLease("retention", options_.owner, clock_.Now(),
                                   options_.retention_every + options_.lease);
  if (!lease.ok() || !*lease) return;  // another replica does it (or the store is down)
  // Expired idempotency keys: free already (a new run takes one over), deleted to keep the
  // table small.
  constexpr int kKeyBatch = 1000;
  while (true) {
    auto keys = store_.PurgeIdempotencyKeys(clock_.Now(), kKeyBatch);
    if (!keys.ok()) {
      log::Warn("retention: purging idempotency keys failed", {{"error", keys.error().ToString()}});
      break;
    }
    if (*keys < kKeyBatch) break;
    std::lock_guard lock(mu_);
    if (stopping_) return;
  }
  if (options_.retention <= 0) return;
  const Micros cutoff = clock_.Now() - options_.retention;
  constexpr int kBatch = 500;
  int64_t purged = 0;
  while (true) {
    auto ids = store_.PurgeRuns(cutoff, kBatch);
    if (!ids.ok()) {
      log::Warn("retention: purging runs failed", {{"error", ids.error().ToString()}});
      break;
    }
    for (const std::string& id : *ids) {
      if (options_.logs == nullptr) break;
      if (auto st = options_.logs->RemoveRun(id); !st.ok()) {
        log::Warn("retention: removing logs failed",
                  {{"run", id}, {"error", st.error().ToString()}});
      }
    }
    purged += static_cast<int64_t>(ids->size());
    if (static_cast<int>(ids->size()) < kBatch) break;
    std::lock_guard lock(mu_);
    if (stopping_) break;
  }
  if (purged > 0) log::Info("retention deleted old runs", {{"runs", std::to_string(purged)}});
}

}  // namespace tug::control
