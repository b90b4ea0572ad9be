#pragma once
// Internal to src/sim: the state and event handlers of one simulation (simulation.h is the
// surface). fleet_sim.cpp holds the event loop, the cluster events and the scheduling pass;
// fleet_attempts.cpp the attempt lifecycle (pods, progress, failures, the planner's calls).
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <vector>

#include "adapt/adapt.h"
#include "queue/queue.h"
#include "sim/autoscaler.h"
#include "sim/cluster.h"
#include "sim/event_queue.h"
#include "sim/planner.h"
#include "sim/rng.h"
#include "sim/simulation.h"

namespace tug::sim::internal {

enum class Ev : uint8_t { kSubmit, kDue, kProgress, kReady, kInterrupt, kTick, kSchedule };

struct Event {
  Micros t = 0;
  uint64_t seq = 0;
  Ev type = Ev::kTick;
  int32_t id = 0;
  uint32_t version = 0;
};

struct Earlier {
  bool operator()(const Event& a, const Event& b) const {
    return a.t != b.t ? a.t < b.t : a.seq < b.seq;
  }
};

enum class PodState : uint8_t { kPending, kBound, kGone };

struct Pod {
  int attempt = 0;
  int64_t cpu = 0;
  int64_t mem = 0;
  int64_t peak_mem = 0;  // what it really uses at its peak, capped at its limit
  int64_t gpu = 0;
  Affinity affinity = Affinity::kAny;
  PodState state = PodState::kPending;
  bool main = false;  // the driver or the container
  int executor = 0;   // executor number (1-based) for executors
  int node = -1;
  Micros created = 0;
  Micros bound = -1;
};

struct FailPoint {
  double at = std::numeric_limits<double>::infinity();  // fraction of the work
  FailureKind kind = FailureKind::kNone;
  int executor = 0;
};

struct AttemptState {
  int id = 0;  // index in FleetSim::attempts_
  int job = 0;
  int number = 1;
  Plan plan;
  Micros due = 0;
  int main_pod = -1;
  std::vector<int> executors;  // live executor pods (pending or bound)
  int target = 0;              // executors wanted
  int running = 0;             // executors bound
  int next_executor = 1;
  bool main_running = false;
  double work = 0;  // nominal seconds done
  double total = 0;
  FailPoint fail;
  double rate = 0;
  Micros last = 0;
  uint32_t version = 0;
  int lost = 0;
  Micros started = -1;
  bool ended = false;
  bool on_spot = false;
  // Team queues (Policy::queues): the queue's index in FleetSim::queue_specs_, the footprint
  // it was admitted with, and when (-1: not admitted).
  int queue = -1;
  queue::Vec footprint;
  Micros admitted = -1;
  double share_node_seconds = 0;
  double share_cost = 0;
  // Pod shapes.
  int64_t main_cpu = 0, main_mem = 0, main_peak = 0, main_gpu = 0;
  int64_t exec_cpu = 0, exec_mem = 0, exec_peak = 0, exec_gpu = 0;
  Affinity main_aff = Affinity::kAny, exec_aff = Affinity::kAny;
};

struct JobState {
  Definition spec;
  std::vector<Attempt> attempts;  // what adapt reads
  int current = -1;               // AttemptState index
  bool done = false;
};

class FleetSim {
 public:
  /// Runs of jobs [measured_begin, measured_end) and time in [window_from, window_to) are
  /// what the result reports.
  FleetSim(const Trace& trace, const Policy& policy, const SimConfig& config, size_t measured_begin,
           size_t measured_end, Micros window_from, Micros window_to);
  Result<PolicyResult> Run();

  // ---- fleet_attempts.cpp
  void Submit(int job);
  void StartAttempt(int job, const Plan& plan, Micros due);
  void Due(int attempt);
  void OnBound(int pod);
  void Progress(int attempt, uint32_t version);
  void PodLost(int pod);
  void EndAttempt(int attempt, FailureKind failure, int executor);
  FailPoint FailurePoint(const TraceJob& job, const Resources& r, int number) const;
  void StartPods(int attempt);

  // ---- fleet_queues.cpp: admission through team queues (Policy::queues)
  Status InitQueues();
  void Enqueue(int attempt);
  void Dispatch();
  void FinishInQueue(AttemptState& a);
  void CountBound(const Pod& p, int sign);
  void NotifyQueues();
  void RecordWait(const AttemptState& a);
  void CloseTeams();

 private:
  // ---- fleet_sim.cpp
  void Push(Micros t, Ev type, int32_t id = 0, uint32_t version = 0);
  void RequestSchedule();
  void SchedulePass();
  void Tick();
  void Launch(int type, Capacity capacity);
  void Interrupt(int node);
  void Sample();
  adapt::Climate CurrentClimate();
  int NewPod(int attempt, int64_t cpu, int64_t mem, int64_t peak, Affinity a, bool main, int ex,
             int64_t gpu = 0);
  void ReleasePod(int pod);
  void UpdateRate(AttemptState& a);
  void Advance(AttemptState& a);
  bool Fits(int64_t cpu, int64_t mem, int64_t gpu) const;
  Affinity AffinityFor(const std::string& capacity) const;
  bool Finished() const;
  bool Measured(int job) const {
    return static_cast<size_t>(job) >= measured_begin_ && static_cast<size_t>(job) < measured_end_;
  }
  bool InWindow() const { return now_ >= window_from_ && now_ < window_to_; }

  const Trace& trace_;
  size_t measured_begin_;
  size_t measured_end_;
  Micros window_from_;
  Micros window_to_;
  int64_t measured_done_ = 0;
  const Policy& policy_;
  const SimConfig& config_;
  Cluster cluster_;
  Planner planner_;
  Rng spot_rng_;
  AutoscalerConfig autoscaler_;
  StaticSize static_;
  QuaternaryHeap<Event, Earlier> queue_;
  uint64_t seq_ = 0;
  Micros now_ = 0;
  bool schedule_requested_ = false;
  std::vector<JobState> jobs_;
  // Deques: handlers hold references across calls that add attempts or pods.
  std::deque<AttemptState> attempts_;
  std::deque<Pod> pods_;
  std::vector<int> pending_;
  std::vector<int> incoming_;  // pods created during a scheduling pass
  bool in_pass_ = false;
  int pending_count_ = 0;
  int running_attempts_ = 0;
  // Climate window: (ended at, lost to node loss) of attempts placed on spot.
  std::deque<std::pair<Micros, bool>> spot_ends_;
  int64_t spot_losses_in_window_ = 0;
  // Team queues.
  std::optional<queue::Scheduler> scheduler_;
  std::vector<queue::QueueSpec> queue_specs_;  // as the Scheduler has them (by name)
  std::vector<QueueBooks::Usage> queue_usage_;
  std::vector<int> job_queue_;  // per job: index in queue_specs_
  Status queue_error_;          // a Scheduler call that failed (a bug): Run returns it
  // Per team (the trace's `queue`): waits of measured attempts, seconds.
  bool has_teams_ = false;
  std::map<std::string, std::vector<double>> team_waits_;
  std::map<std::string, std::vector<double>> team_queued_;
  std::vector<double> attempt_delays_;
  std::vector<double> pod_delays_;
  std::vector<double> gpu_attempt_delays_;  // of measured attempts that ask for GPUs
  PolicyResult result_;
};

}  // namespace tug::sim::internal
