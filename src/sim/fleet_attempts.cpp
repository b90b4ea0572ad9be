// The attempt lifecycle of FleetSim: submit, pods, progress, losses, the end and the planner's
// decision about what comes next.
#include <algorithm>
#include <cmath>

#include "sim/fleet_sim.h"

namespace tug::sim::internal {
namespace {

constexpr int64_t kSparkDefaultHeap = int64_t{1} << 30;
// Work counts as done within this many nominal seconds (progress events land on whole µs).
constexpr double kWorkEpsilon = 1e-6;

SparkRole WithDefaultHeap(SparkRole r) {
  if (r.memory_bytes <= 0) r.memory_bytes = kSparkDefaultHeap;
  return r;
}

/// What a Spark role's pod really holds at its peak: heap up to the heap limit (the JVM
/// cannot exceed -Xmx) plus non-heap up to the overhead (beyond it the kernel kills the pod).
int64_t RolePeak(const SparkRole& role, const Peak& peak) {
  SparkRole r = WithDefaultHeap(role);
  return std::min(peak.heap_bytes, r.memory_bytes) +
         std::min(peak.offheap_bytes, EffectiveOverhead(r));
}

bool Applies(const Injection& f, int number) {
  return f.attempts.empty() ||
         std::find(f.attempts.begin(), f.attempts.end(), number) != f.attempts.end();
}

bool OnSpot(const Placement& p, bool spark) {
  return spark ? (p.executor_capacity == kSpot || p.capacity == kSpot) : p.capacity == kSpot;
}

}  // namespace

void FleetSim::Submit(int job) {
  const TraceJob& tj = trace_.jobs[job];
  JobState& js = jobs_[job];
  js.spec = planner_.MakeDefinition(tj);
  Plan p = planner_.First(js.spec, tj, CurrentClimate(), now_);
  if (Measured(job)) ++result_.rules[p.rule];
  StartAttempt(job, p, now_);
}

void FleetSim::StartAttempt(int job, const Plan& plan, Micros due) {
  JobState& js = jobs_[job];
  AttemptState a;
  a.id = static_cast<int>(attempts_.size());
  a.job = job;
  a.number = static_cast<int>(js.attempts.size()) + 1;
  a.plan = plan;
  a.due = due;
  a.total = trace_.jobs[job].duration_s;
  a.last = due;
  attempts_.push_back(std::move(a));
  js.current = attempts_.back().id;
  if (due > now_) {
    Push(due, Ev::kDue, js.current);
  } else {
    Due(js.current);
  }
}

FailPoint FleetSim::FailurePoint(const TraceJob& job, const Resources& r, int number) const {
  FailPoint fp;
  // Earliest wins; on a tie the cause considered first (user code, memory, timeout,
  // transient) is the one the attempt dies of.
  auto consider = [&fp](double at, FailureKind k, int ex) {
    if (at < fp.at) fp = FailPoint{at, k, ex};
  };
  for (const Injection& f : job.failures) {
    if (f.kind == Injection::Kind::kUserError && Applies(f, number)) {
      consider(f.at, FailureKind::kUserError, 0);
    }
  }
  if (job.spark()) {
    SparkRole d = WithDefaultHeap(r.spark.driver);
    SparkRole e = WithDefaultHeap(r.spark.executor);
    int ex = 1 + (number - 1) % std::max(r.spark.instances, 1);
    if (job.driver_peak.heap_bytes > d.memory_bytes) {
      consider(job.peak_at, FailureKind::kDriverHeapOom, 0);
    }
    if (job.driver_peak.offheap_bytes > EffectiveOverhead(d)) {
      consider(job.peak_at, FailureKind::kDriverContainerOom, 0);
    }
    if (job.executor_peak.heap_bytes > e.memory_bytes) {
      consider(job.peak_at, FailureKind::kExecutorHeapOom, ex);
    }
    if (job.executor_peak.offheap_bytes > EffectiveOverhead(e)) {
      consider(job.peak_at, FailureKind::kExecutorContainerOom, ex);
    }
  } else if (r.memory_bytes > 0 && job.container_peak_bytes > r.memory_bytes) {
    consider(job.peak_at, FailureKind::kContainerOom, 0);
  }
  for (const Injection& f : job.failures) {
    if (f.kind != Injection::Kind::kTimeout || !Applies(f, number)) continue;
    // A Spark timeout that more parallelism cures fires only below its executor need.
    if (!job.spark() || f.min_executors <= 0 || r.spark.instances < f.min_executors) {
      consider(f.at, FailureKind::kTimeout, 0);
    }
  }
  for (const Injection& f : job.failures) {
    if (f.kind == Injection::Kind::kTransient && Applies(f, number)) {
      consider(f.at, FailureKind::kTransient, 0);
    }
  }
  return fp;
}

void FleetSim::Due(int id) {
  AttemptState& a = attempts_[id];
  const TraceJob& tj = trace_.jobs[a.job];
  const Resources& r = a.plan.resources;
  bool spark = tj.spark();
  a.last = now_;
  a.main_cpu = PodCpu(r, spark, true);
  a.main_mem = PodMemory(r, spark, true);
  a.main_peak = spark ? RolePeak(r.spark.driver, tj.driver_peak)
                      : std::min(tj.container_peak_bytes, a.main_mem);
  a.main_aff = AffinityFor(a.plan.placement.capacity);
  // GPUs: the container's, or each executor's (a Spark driver gets none).
  a.main_gpu = spark ? 0 : r.gpu;
  a.exec_gpu = spark ? r.gpu : 0;
  if (spark) {
    a.exec_cpu = PodCpu(r, true, false);
    a.exec_mem = PodMemory(r, true, false);
    a.exec_peak = RolePeak(r.spark.executor, tj.executor_peak);
    a.exec_aff = AffinityFor(a.plan.placement.executor_capacity);
    a.target = std::max(r.spark.instances, 1);
  }
  a.fail = FailurePoint(tj, r, a.number);
  // Fail fast when a pod can never be placed (no node type holds it), as the planner would.
  if (!Fits(a.main_cpu, a.main_mem, a.main_gpu) ||
      (spark && !Fits(a.exec_cpu, a.exec_mem, a.exec_gpu))) {
    ++running_attempts_;
    EndAttempt(id, FailureKind::kUnschedulable, 0);
    return;
  }
  // With team queues the attempt waits for admission (fleet_queues.cpp) before its pods exist.
  if (scheduler_) {
    Enqueue(id);
  } else {
    StartPods(id);
  }
}

void FleetSim::StartPods(int id) {
  AttemptState& a = attempts_[id];
  ++running_attempts_;
  a.main_pod = NewPod(id, a.main_cpu, a.main_mem, a.main_peak, a.main_aff, true, 0, a.main_gpu);
}

void FleetSim::OnBound(int pod) {
  const Pod& p = pods_[pod];
  AttemptState& a = attempts_[p.attempt];
  if (cluster_.node(p.node).capacity == Capacity::kSpot) a.on_spot = true;
  if (p.main) {
    a.main_running = true;
    // A running driver asks for its executors.
    for (int i = 0; i < a.target; ++i) {
      a.executors.push_back(NewPod(a.id, a.exec_cpu, a.exec_mem, a.exec_peak, a.exec_aff, false,
                                   a.next_executor++, a.exec_gpu));
    }
  } else {
    ++a.running;
  }
  UpdateRate(a);
}

void FleetSim::Progress(int id, uint32_t version) {
  AttemptState& a = attempts_[id];
  if (a.ended || version != a.version) return;
  Advance(a);
  if (a.fail.kind != FailureKind::kNone && a.work >= a.fail.at * a.total - kWorkEpsilon) {
    EndAttempt(id, a.fail.kind, a.fail.executor);
  } else if (a.work >= a.total - kWorkEpsilon) {
    EndAttempt(id, FailureKind::kNone, 0);
  } else {
    UpdateRate(a);
  }
}

void FleetSim::PodLost(int pod) {
  const Pod& p = pods_[pod];
  AttemptState& a = attempts_[p.attempt];
  if (a.ended) return;
  if (p.main) {
    EndAttempt(a.id, FailureKind::kNodeLoss, 0);
    return;
  }
  Advance(a);
  int executor = p.executor;
  ReleasePod(pod);
  a.executors.erase(std::find(a.executors.begin(), a.executors.end(), pod));
  --a.running;
  ++a.lost;
  // Its shuffle output is gone: its share of the work done is done again.
  a.work -= a.work / std::max(a.target, 1);
  if (a.lost > config_.executor_loss_tolerance) {
    EndAttempt(a.id, FailureKind::kNodeLoss, executor);
    return;
  }
  a.executors.push_back(NewPod(a.id, a.exec_cpu, a.exec_mem, a.exec_peak, a.exec_aff, false,
                               a.next_executor++, a.exec_gpu));
  UpdateRate(a);
}

void FleetSim::EndAttempt(int id, FailureKind failure, int executor) {
  AttemptState& a = attempts_[id];
  if (a.ended) return;
  Advance(a);
  a.ended = true;
  ++a.version;
  --running_attempts_;
  if (a.main_pod >= 0) ReleasePod(a.main_pod);
  for (int e : a.executors) ReleasePod(e);
  a.executors.clear();
  FinishInQueue(a);
  RequestSchedule();

  const TraceJob& tj = trace_.jobs[a.job];
  AttemptEnd end;
  end.failure = failure;
  end.executor = executor;
  end.started_at = a.started >= 0 ? a.started : now_;
  end.ended_at = now_;
  end.ran_on_spot = a.on_spot;
  // Measured peak: the monitor saw the pod's usage up to now; an OOM shows the limit.
  double reached = a.total > 0 ? std::min(1.0, a.work / a.total / tj.peak_at) : 0.0;
  if (IsOom(failure)) reached = 1;
  int64_t peak = std::max(a.main_peak, a.exec_peak);
  if (!tj.spark() && IsOom(failure)) peak = a.main_mem;
  end.peak_memory_bytes = static_cast<int64_t>(std::llround(static_cast<double>(peak) * reached));

  bool measured = Measured(a.job);
  if (measured) ++result_.attempts;
  if (measured && failure != FailureKind::kNone) {
    ++result_.attempt_failures[std::string(FailureClass(failure))];
    result_.wasted_node_hours += a.share_node_seconds / 3600.0;
    result_.wasted_cost += a.share_cost;
  }
  if (a.started >= 0 && OnSpot(a.plan.placement, tj.spark())) {
    bool lost = failure == FailureKind::kNodeLoss;
    spot_ends_.emplace_back(now_, lost);
    if (lost) ++spot_losses_in_window_;
  }

  JobState& js = jobs_[a.job];
  auto done = [this, &js, &tj, measured](bool ok, FailureKind f) {
    js.done = true;
    if (!measured) return;
    ++measured_done_;
    if (ok) {
      ++result_.succeeded;
      ++result_.ok_by_kind[tj.kind];
      if (tj.gpu > 0) ++result_.gpu_succeeded;
      ++result_.ok_by_class[tj.klass.empty() ? "unclassified" : tj.klass];
    } else {
      ++result_.failed;
      ++result_.failed_by[std::string(FailureGroup(f))];
      ++result_.failed_by_kind[tj.kind];
      ++result_.failed_by_class[tj.klass.empty() ? "unclassified" : tj.klass];
    }
  };
  if (failure == FailureKind::kNone) {
    planner_.Succeeded(tj, a.plan.resources, end);
    done(true, failure);
    return;
  }
  Plan next = planner_.Next(js.spec, tj, js.attempts, a.plan, end, CurrentClimate());
  if (measured) ++result_.rules[next.rule];
  if (next.run) {
    StartAttempt(a.job, next, now_ + next.delay);
  } else {
    done(false, failure);
  }
}

}  // namespace tug::sim::internal
