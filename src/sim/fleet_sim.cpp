#include "sim/fleet_sim.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "cost/pricing.h"

namespace tug::sim {

namespace {

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr int64_t kSparkDefaultHeap = int64_t{1} << 30;
constexpr int64_t kDefaultCpu = 1000;

double Secs(Micros d) { return static_cast<double>(d) / kMicrosPerSecond; }

}  // namespace

// ---------------------------------------------------------------- public helpers

Distribution Distribution::Of(std::vector<double> v) {
  Distribution d;
  d.count = static_cast<int64_t>(v.size());
  if (v.empty()) return d;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  d.mean = sum / static_cast<double>(v.size());
  auto rank = [&v](double q) {
    // Nearest rank: the smallest value with at least q of the values at or below it.
    auto k = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::clamp<size_t>(k, 1, v.size()) - 1];
  };
  d.p50 = rank(0.50);
  d.p90 = rank(0.90);
  d.p99 = rank(0.99);
  d.max = v.back();
  return d;
}

int64_t PodMemory(const Resources& r, bool spark, bool driver) {
  if (!spark) return r.memory_bytes;
  SparkRole role = driver ? r.spark.driver : r.spark.executor;
  if (role.memory_bytes <= 0) role.memory_bytes = kSparkDefaultHeap;
  return role.memory_bytes + EffectiveOverhead(role);
}

int64_t PodCpu(const Resources& r, bool spark, bool driver) {
  int64_t c =
      !spark ? r.cpu_millis : (driver ? r.spark.driver.cpu_millis : r.spark.executor.cpu_millis);
  return c > 0 ? c : kDefaultCpu;
}

Result<PolicyResult> Simulate(const Trace& trace, const Policy& policy, const SimConfig& config) {
  size_t n = trace.jobs.size();
  if (!config.steady_state || n == 0) {
    internal::FleetSim sim(trace, policy, config, 0, n, 0, std::numeric_limits<Micros>::max());
    return sim.Run();
  }
  Micros span = 0;
  for (const TraceJob& j : trace.jobs) span = std::max(span, j.submit);
  constexpr Micros kHour = 3600 * kMicrosPerSecond;
  Micros period = std::max(config.day, (span / kHour + 1) * kHour);
  // Yesterday, the day, tomorrow: only the middle copy's runs and [P, 2P) are measured.
  Trace days;
  days.source = trace.source;
  days.jobs.reserve(3 * n);
  for (int copy = 0; copy < 3; ++copy) {
    for (const TraceJob& j : trace.jobs) {
      days.jobs.push_back(j);
      days.jobs.back().submit += copy * period;
      if (copy != 1) days.jobs.back().id += copy == 0 ? "~prev" : "~next";
    }
  }
  internal::FleetSim sim(days, policy, config, n, 2 * n, period, 2 * period);
  return sim.Run();
}

namespace internal {

// ---------------------------------------------------------------- the loop

FleetSim::FleetSim(const Trace& trace, const Policy& policy, const SimConfig& config,
                   size_t measured_begin, size_t measured_end, Micros window_from, Micros window_to)
    : trace_(trace),
      measured_begin_(measured_begin),
      measured_end_(measured_end),
      window_from_(window_from),
      window_to_(window_to),
      policy_(policy),
      config_(config),
      cluster_(config.node_types),
      planner_(policy, config),
      spot_rng_(Rng(config.seed).Fork(0x5907)),
      autoscaler_(config.autoscaler) {
  autoscaler_.unneeded_time = policy.unneeded_time;
  autoscaler_.spare_on_demand = policy.spare_on_demand;
  autoscaler_.spare_spot = policy.spare_spot;
  result_.policy = policy;
  jobs_.resize(trace.jobs.size());
  cluster_.SetWindow(window_from, window_to);
  cluster_.SetGpuNodesShared(policy.gpu_nodes_shared);
}

Result<PolicyResult> FleetSim::Run() {
  if (!policy_.autoscale) {
    ASSIGN_OR_RETURN(static_, SizeStaticCluster(trace_, policy_, config_.node_types));
    for (int i = 0; i < static_.nodes; ++i) {
      int id = cluster_.Launch(static_.type, Capacity::kOnDemand, 0, 0);
      cluster_.MarkReady(id, 0);
    }
    result_.static_nodes = static_.nodes;
    result_.static_type = config_.node_types[static_.type].name;
    for (int i = 0; i < static_.gpu_nodes; ++i) {
      int id = cluster_.Launch(static_.gpu_type, Capacity::kOnDemand, 0, 0);
      cluster_.MarkReady(id, 0);
    }
    result_.static_gpu_nodes = static_.gpu_nodes;
    if (static_.gpu_type >= 0) result_.static_gpu_type = config_.node_types[static_.gpu_type].name;
  }
  RETURN_IF_ERROR(InitQueues());
  // Submits are read in (time, job) order beside the queue instead of sitting in it: the heap
  // then holds only what is in flight (thousands of events, not the 200,000 submits of a large
  // trace), and stays in cache. Submits take the sequence numbers 0..n-1, as if pushed first,
  // so at equal times they still come before every other event, in job order.
  const size_t n = trace_.jobs.size();
  std::vector<int32_t> submits(n);
  std::iota(submits.begin(), submits.end(), 0);
  std::stable_sort(submits.begin(), submits.end(), [this](int32_t a, int32_t b) {
    return trace_.jobs[a].submit < trace_.jobs[b].submit;
  });
  seq_ = n;
  Micros last_submit = n > 0 ? trace_.jobs[submits.back()].submit : 0;
  Push(0, Ev::kTick);
  Micros horizon = last_submit + config_.drain_limit;
  size_t next_submit = 0;
  while (next_submit < n || !queue_.empty()) {
    bool submit = next_submit < n &&
                  (queue_.empty() || trace_.jobs[submits[next_submit]].submit <= queue_.top().t);
    Event ev;
    if (submit) {
      int32_t job = submits[next_submit];
      ev = Event{trace_.jobs[job].submit, static_cast<uint64_t>(job), Ev::kSubmit, job, 0};
    } else {
      ev = queue_.top();
    }
    if (ev.t > horizon) break;
    if (submit) {
      ++next_submit;
    } else {
      queue_.pop();
    }
    now_ = ev.t;
    ++result_.events;
    switch (ev.type) {
      case Ev::kSubmit:
        Submit(ev.id);
        break;
      case Ev::kDue:
        Due(ev.id);
        break;
      case Ev::kProgress:
        Progress(ev.id, ev.version);
        break;
      case Ev::kReady:
        if (!cluster_.node(ev.id).removed) {
          cluster_.MarkReady(ev.id, now_);
          RequestSchedule();
        }
        break;
      case Ev::kInterrupt:
        Interrupt(ev.id);
        break;
      case Ev::kTick:
        Tick();
        break;
      case Ev::kSchedule:
        if (schedule_requested_) SchedulePass();
        break;
    }
    if (Finished()) break;
  }
  result_.end = now_ - window_from_;
  result_.books = cluster_.Close(now_);
  result_.jobs = static_cast<int64_t>(measured_end_ - measured_begin_);
  for (size_t i = measured_begin_; i < measured_end_; ++i) {
    if (!jobs_[i].done) ++result_.unfinished;
  }
  result_.peak_nodes = result_.static_nodes;
  for (const struct Sample& x : result_.series) {
    result_.peak_nodes = std::max(result_.peak_nodes, x.on_demand + x.spot + x.provisioning);
  }
  result_.attempt_delay = Distribution::Of(std::move(attempt_delays_));
  result_.gpu_attempt_delay = Distribution::Of(std::move(gpu_attempt_delays_));
  for (size_t i = measured_begin_; i < measured_end_; ++i) {
    if (trace_.jobs[i].gpu > 0) ++result_.gpu_jobs;
  }
  result_.pod_delay = Distribution::Of(std::move(pod_delays_));
  CloseTeams();
  if (!queue_error_.ok()) return std::move(queue_error_).take_error();
  return std::move(result_);
}

bool FleetSim::Finished() const {
  if (measured_done_ < static_cast<int64_t>(measured_end_ - measured_begin_)) return false;
  // Steady state: the window is over too; otherwise wait for the autoscaler to cull.
  if (window_to_ != std::numeric_limits<Micros>::max()) return now_ >= window_to_;
  return !policy_.autoscale || cluster_.live_nodes() == 0;
}

void FleetSim::Push(Micros t, Ev type, int32_t id, uint32_t version) {
  queue_.push(Event{t, seq_++, type, id, version});
}

void FleetSim::RequestSchedule() {
  if (schedule_requested_ || in_pass_) return;
  schedule_requested_ = true;
  Push(now_, Ev::kSchedule);
}

// ---------------------------------------------------------------- scheduling

void FleetSim::SchedulePass() {
  schedule_requested_ = false;
  in_pass_ = true;
  // Shapes that found no node in this pass: capacity only shrinks during a pass, so any pod at
  // least as large with the same affinity cannot fit either (Spark's executors share a shape).
  struct Shape {
    int64_t cpu;
    int64_t mem;
    Affinity affinity;
    int64_t gpu;
  };
  std::vector<Shape> failed;
  bool again = true;
  while (again) {
    size_t keep = 0;
    // Compacts in place: the kept ids are written behind the reading position.
    for (int id : pending_) {
      Pod& p = pods_[id];
      if (p.state != PodState::kPending) continue;
      bool hopeless = std::any_of(failed.begin(), failed.end(), [&p](const Shape& s) {
        // GPU and other pods go to different nodes: a shape says nothing across the two.
        return s.affinity == p.affinity && p.cpu >= s.cpu && p.mem >= s.mem &&
               (p.gpu > 0) == (s.gpu > 0) && p.gpu >= s.gpu;
      });
      int node = hopeless ? -1 : cluster_.Pick(p.cpu, p.mem, p.affinity, policy_.scoring, p.gpu);
      if (!hopeless && p.gpu == 0 && config_.on_pick) {
        config_.on_pick(cluster_, p.cpu, p.mem, p.affinity, policy_.scoring, node);
      }
      if (node < 0) {
        if (!hopeless && failed.size() < 64) failed.push_back({p.cpu, p.mem, p.affinity, p.gpu});
        pending_[keep++] = id;
        continue;
      }
      cluster_.Bind(node, id, p.cpu, p.mem, now_, p.gpu);
      CountBound(p, 1);
      p.state = PodState::kBound;
      p.node = node;
      p.bound = now_;
      --pending_count_;
      ++result_.placements;
      if (Measured(attempts_[p.attempt].job)) pod_delays_.push_back(Secs(now_ - p.created));
      OnBound(id);
    }
    pending_.resize(keep);
    // Pods created by binds (a driver's executors) join the queue and get their turn now.
    again = !incoming_.empty();
    pending_.insert(pending_.end(), incoming_.begin(), incoming_.end());
    incoming_.clear();
  }
  in_pass_ = false;
  NotifyQueues();
}

int FleetSim::NewPod(int attempt, int64_t cpu, int64_t mem, int64_t peak, Affinity a, bool main,
                     int ex, int64_t gpu) {
  Pod p;
  p.attempt = attempt;
  p.cpu = cpu;
  p.mem = mem;
  p.gpu = gpu;
  p.peak_mem = std::min(peak, mem);
  p.affinity = a;
  p.main = main;
  p.executor = ex;
  p.created = now_;
  pods_.push_back(p);
  int id = static_cast<int>(pods_.size()) - 1;
  ++pending_count_;
  if (in_pass_) {
    incoming_.push_back(id);
  } else {
    pending_.push_back(id);
    RequestSchedule();
  }
  return id;
}

void FleetSim::ReleasePod(int id) {
  Pod& p = pods_[id];
  if (p.state == PodState::kPending) {
    --pending_count_;
  } else if (p.state == PodState::kBound) {
    const Node& n = cluster_.node(p.node);
    const NodeType& t = cluster_.type(n);
    double secs = Secs(now_ - p.bound);
    // The server's pricing (src/cost): the pod's dominant share of its node × price × time.
    const cost::NodePrice price{t.name,       t.cpu_millis, t.memory_bytes, t.on_demand_price,
                                t.spot_price, t.gpus};
    AttemptState& a = attempts_[p.attempt];
    a.share_node_seconds += cost::ShareOfNode(p.cpu, p.mem, p.gpu, price) * secs;
    a.share_cost += cost::PodCost(p.cpu, p.mem, p.gpu, price, n.capacity == Capacity::kSpot, secs);
    Micros in_window =
        std::max<Micros>(0, std::min(now_, window_to_) - std::max(p.bound, window_from_));
    result_.mem_peak_gib_seconds += static_cast<double>(p.peak_mem) / kGiB * Secs(in_window);
    cluster_.Release(p.node, id, p.cpu, p.mem, now_, p.gpu);
    CountBound(p, -1);
  }
  p.state = PodState::kGone;
}

// ---------------------------------------------------------------- nodes and scans

bool FleetSim::Fits(int64_t cpu, int64_t mem, int64_t gpu) const {
  if (!policy_.autoscale) {
    const int type = gpu > 0 ? static_.gpu_type : static_.type;
    if (type < 0) return false;
    const NodeType& t = config_.node_types[type];
    return cpu <= t.cpu_millis && mem <= t.memory_bytes && gpu <= t.gpus;
  }
  return FirstTypeThatFits(cluster_, autoscaler_, cpu, mem, gpu) >= 0;
}

Affinity FleetSim::AffinityFor(const std::string& capacity) const {
  // A static cluster has one node group: a capacity-type preference cannot be honoured there.
  if (!policy_.autoscale) return Affinity::kAny;
  if (capacity == kSpot) return Affinity::kSpot;
  if (capacity == kOnDemand) return Affinity::kOnDemand;
  return Affinity::kAny;
}

void FleetSim::Launch(int type, Capacity capacity) {
  Micros ready = now_ + autoscaler_.provisioning_delay;
  int id = cluster_.Launch(type, capacity, now_, ready);
  Push(ready, Ev::kReady, id);
  if (capacity == Capacity::kSpot) {
    Micros at = config_.climate.InterruptionTime(now_, spot_rng_.Exponential(1.0));
    if (at >= 0) Push(at, Ev::kInterrupt, id);
  }
}

void FleetSim::Interrupt(int node) {
  Node& n = cluster_.node(node);
  if (n.removed) return;
  if (InWindow()) ++result_.spot_interruptions;
  // Copy: losing a driver ends its attempt, which releases its other pods on this node.
  std::vector<int> pods = n.pods;
  for (int id : pods) {
    if (pods_[id].state != PodState::kBound) continue;
    if (InWindow()) ++result_.pods_lost;
    PodLost(id);
  }
  cluster_.Remove(node, now_);
  RequestSchedule();
}

void FleetSim::Tick() {
  if (policy_.autoscale) {
    // The scheduler has had its turn: what is still pending is unschedulable right now.
    SchedulePass();
    std::vector<PendingPod> pending;
    for (int id : pending_) {
      const Pod& p = pods_[id];
      if (p.state != PodState::kPending) continue;
      pending.push_back({p.cpu, p.mem, p.affinity, p.gpu});
      // A pending driver's executors, which it asks for once it runs (Policy).
      const AttemptState& a = attempts_[p.attempt];
      if (policy_.anticipate_executors && p.main && a.executors.empty()) {
        for (int i = 0; i < a.target; ++i) {
          pending.push_back({a.exec_cpu, a.exec_mem, a.exec_aff, a.exec_gpu});
        }
      }
    }
    Capacity any = policy_.capacity == "spot" ? Capacity::kSpot : Capacity::kOnDemand;
    ScanPlan plan = Scan(cluster_, pending, autoscaler_, any, now_);
    for (int id : plan.remove) cluster_.Remove(id, now_);
    for (const ScaleUp& up : plan.add) {
      for (int i = 0; i < up.count; ++i) Launch(up.type, up.capacity);
    }
  }
  Sample();
  if (!Finished()) Push(now_ + autoscaler_.scan_interval, Ev::kTick);
}

void FleetSim::Sample() {
  if (!InWindow()) return;
  struct Sample s;
  s.at = now_ - window_from_;
  for (const Node& n : cluster_.nodes()) {
    if (n.removed) continue;
    if (!n.ready) {
      ++s.provisioning;
    } else if (n.capacity == Capacity::kSpot) {
      ++s.spot;
    } else {
      ++s.on_demand;
    }
  }
  s.pending_pods = pending_count_;
  s.running_attempts = running_attempts_;
  result_.series.push_back(s);
}

adapt::Climate FleetSim::CurrentClimate() {
  while (!spot_ends_.empty() && spot_ends_.front().first < now_ - config_.climate_window) {
    if (spot_ends_.front().second) --spot_losses_in_window_;
    spot_ends_.pop_front();
  }
  adapt::Climate c;
  c.samples = static_cast<int>(spot_ends_.size());
  c.spot_interruption_rate =
      c.samples > 0 ? static_cast<double>(spot_losses_in_window_) / c.samples : 0.0;
  return c;
}

// ---------------------------------------------------------------- progress

void FleetSim::Advance(AttemptState& a) {
  if (now_ > a.last) {
    a.work += a.rate * Secs(now_ - a.last);
    a.last = now_;
  }
}

void FleetSim::UpdateRate(AttemptState& a) {
  Advance(a);
  const TraceJob& job = trace_.jobs[a.job];
  double rate = 0;
  if (a.main_running) {
    if (!job.spark()) {
      rate = 1;
    } else if (a.running > 0) {
      double s = config_.serial_fraction;
      auto speed = [s](double n) { return 1.0 / (s + (1.0 - s) / n); };
      rate = speed(a.running) / speed(std::max(job.instances, 1));
    }
  }
  a.rate = rate;
  if (rate > 0 && a.started < 0) {
    a.started = now_;
    if (Measured(a.job)) {
      attempt_delays_.push_back(Secs(now_ - a.due));
      if (a.main_gpu > 0 || a.exec_gpu > 0) gpu_attempt_delays_.push_back(Secs(now_ - a.due));
    }
    RecordWait(a);
  }
  ++a.version;
  if (rate <= 0) return;
  double target = std::min(a.fail.at * a.total, a.total);
  double left = std::max(target - a.work, 0.0);
  auto dt = static_cast<Micros>(std::ceil(left / rate * kMicrosPerSecond));
  Push(now_ + std::max<Micros>(dt, 1), Ev::kProgress, a.id, a.version);
}

}  // namespace internal
}  // namespace tug::sim
