// Admission of FleetSim's attempts through team queues: the dispatcher's own queue::Scheduler
// (src/queue) decides which due attempt gets its pods next; the simulation keeps its own books
// per queue beside it (SimConfig::on_queue, the tests' independent check).
#include <charconv>

#include <fmt/format.h>

#include "sim/fleet_sim.h"

namespace tug::sim::internal {
namespace {

double Secs(Micros d) { return static_cast<double>(d) / kMicrosPerSecond; }

/// The sum of a field over the queues; unlimited when any queue has no limit.
int64_t Total(const std::vector<queue::QueueSpec>& qs, int64_t queue::Limits::*limits_field) {
  int64_t sum = 0;
  for (const queue::QueueSpec& q : qs) {
    int64_t v = q.limits.*limits_field;
    if (v == queue::kUnlimited) return queue::kUnlimited;
    sum += v;
  }
  return sum;
}

int64_t TotalQuota(const std::vector<queue::QueueSpec>& qs, int64_t queue::Vec::*field) {
  int64_t sum = 0;
  for (const queue::QueueSpec& q : qs) {
    int64_t v = q.limits.quota.*field;
    if (v == queue::kUnlimited) return queue::kUnlimited;
    sum += v;
  }
  return sum;
}

void Add(queue::Vec& into, const queue::Vec& v, int sign) {
  into.cpu_millis += sign * v.cpu_millis;
  into.memory_bytes += sign * v.memory_bytes;
  into.gpu += sign * v.gpu;
}

}  // namespace

Status FleetSim::InitQueues() {
  for (const TraceJob& j : trace_.jobs) has_teams_ = has_teams_ || !j.queue.empty();
  if (policy_.queues == Policy::Queues::kOff) return OkStatus();
  std::vector<queue::QueueSpec> specs = config_.queues;
  if (policy_.queues == Policy::Queues::kFifo) {
    // One queue for everyone, as big as the teams' quotas together: a cap without fairness.
    queue::QueueSpec all;
    all.name = "fifo";
    if (!specs.empty()) {
      all.limits.max_running = Total(specs, &queue::Limits::max_running);
      all.limits.quota = {TotalQuota(specs, &queue::Vec::cpu_millis),
                          TotalQuota(specs, &queue::Vec::memory_bytes),
                          TotalQuota(specs, &queue::Vec::gpu)};
    }
    specs = {all};
  }
  ASSIGN_OR_RETURN(queue::Scheduler s, queue::Scheduler::Create(specs, config_.queue_capacity));
  queue_specs_ = s.Queues();
  queue_usage_.assign(queue_specs_.size(), {});
  auto index = [this](std::string_view name) {
    for (size_t i = 0; i < queue_specs_.size(); ++i) {
      if (queue_specs_[i].name == name) return static_cast<int>(i);
    }
    return -1;
  };
  job_queue_.resize(trace_.jobs.size());
  for (size_t i = 0; i < trace_.jobs.size(); ++i) {
    const TraceJob& j = trace_.jobs[i];
    std::string_view name = policy_.queues == Policy::Queues::kFifo ? std::string_view("fifo")
                            : j.queue.empty()                       ? queue::kDefaultQueue
                                                                    : std::string_view(j.queue);
    job_queue_[i] = index(name);
    if (job_queue_[i] < 0) {
      return InvalidArgument(fmt::format(
          "trace job '{}' is in queue '{}', which no --queue defines; add --queue {}:cpu=...,"
          "memory=... or run the policy with queues=off",
          j.id, name, name));
    }
  }
  scheduler_.emplace(std::move(s));
  return OkStatus();
}

void FleetSim::Enqueue(int id) {
  AttemptState& a = attempts_[id];
  a.queue = job_queue_[a.job];
  a.footprint = queue::Footprint(a.plan.resources);
  queue::Item item;
  item.id = std::to_string(id);
  item.queue = queue_specs_[a.queue].name;
  item.user = trace_.jobs[a.job].user;
  item.submitted_at = now_;  // FIFO by when the attempt became due (a retry: after back-off)
  item.footprint = a.footprint;
  if (Status st = scheduler_->Enqueue(std::move(item)); !st.ok() && queue_error_.ok()) {
    queue_error_ = st;
  }
  ++queue_usage_[a.queue].queued;
  Dispatch();
}

void FleetSim::Dispatch() {
  while (const queue::Item* next = scheduler_->Next()) {
    std::string key = next->id;  // `next` dies with the Start below
    int id = 0;
    std::from_chars(key.data(), key.data() + key.size(), id);
    if (Status st = scheduler_->Start(key); !st.ok()) {
      if (queue_error_.ok()) queue_error_ = st;
      return;
    }
    AttemptState& a = attempts_[id];
    a.admitted = now_;
    QueueBooks::Usage& u = queue_usage_[a.queue];
    --u.queued;
    ++u.running;
    Add(u.admitted, a.footprint, 1);
    if (Measured(a.job)) team_queued_[trace_.jobs[a.job].queue].push_back(Secs(now_ - a.due));
    NotifyQueues();
    StartPods(id);
  }
}

void FleetSim::FinishInQueue(AttemptState& a) {
  if (!scheduler_ || a.admitted < 0) return;
  if (Status st = scheduler_->Finish(std::to_string(a.id)); !st.ok() && queue_error_.ok()) {
    queue_error_ = st;
  }
  QueueBooks::Usage& u = queue_usage_[a.queue];
  --u.running;
  Add(u.admitted, a.footprint, -1);
  a.admitted = -1;
  NotifyQueues();
  Dispatch();
}

void FleetSim::CountBound(const Pod& p, int sign) {
  const AttemptState& a = attempts_[p.attempt];
  if (!scheduler_ || a.queue < 0) return;
  Add(queue_usage_[a.queue].bound, queue::Vec{p.cpu, p.mem, p.gpu}, sign);
}

void FleetSim::NotifyQueues() {
  if (!config_.on_queue) return;
  QueueBooks b;
  b.now = now_;
  b.specs = &queue_specs_;
  b.usage = &queue_usage_;
  config_.on_queue(b);
}

void FleetSim::RecordWait(const AttemptState& a) {
  if (has_teams_ && Measured(a.job)) {
    team_waits_[trace_.jobs[a.job].queue].push_back(Secs(now_ - a.due));
  }
}

void FleetSim::CloseTeams() {
  if (!has_teams_) return;
  for (size_t i = measured_begin_; i < measured_end_; ++i) {
    ++result_.teams[trace_.jobs[i].queue].runs;
  }
  for (auto& [team, waits] : team_waits_) result_.teams[team].wait = Distribution::Of(waits);
  for (auto& [team, waits] : team_queued_) result_.teams[team].queued = Distribution::Of(waits);
}

}  // namespace tug::sim::internal
