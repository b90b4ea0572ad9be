#include "sim/planner.h"

#include <algorithm>

#include <fmt/format.h>
#include <boost/json.hpp>

namespace tug::sim {
namespace {

std::string PlainCapacity(const Policy& p) { return p.capacity == "spot" ? "spot" : "on-demand"; }

}  // namespace

std::string_view FailureClass(FailureKind k) {
  switch (k) {
    case FailureKind::kNone:
      return "";
    case FailureKind::kDriverHeapOom:
    case FailureKind::kDriverContainerOom:
      return "driver_oom";
    case FailureKind::kExecutorHeapOom:
      return "executor_oom";
    case FailureKind::kExecutorContainerOom:
      return "executor_container_oom";
    case FailureKind::kContainerOom:
      return "batch_container_oom";
    case FailureKind::kUserError:
      return "user_code_error";
    case FailureKind::kTransient:
      return "transient_dependency";
    case FailureKind::kTimeout:
      return "timeout";
    case FailureKind::kNodeLoss:
      return "node_loss";
    case FailureKind::kUnschedulable:
      return "k8s_scheduling";
  }
  return "";
}

bool IsOom(FailureKind k) {
  return k == FailureKind::kDriverHeapOom || k == FailureKind::kDriverContainerOom ||
         k == FailureKind::kExecutorHeapOom || k == FailureKind::kExecutorContainerOom ||
         k == FailureKind::kContainerOom;
}

std::string_view FailureGroup(FailureKind k) {
  if (IsOom(k)) return "oom";
  switch (k) {
    case FailureKind::kUserError:
      return "user_error";
    case FailureKind::kTransient:
      return "transient";
    case FailureKind::kTimeout:
      return "timeout";
    case FailureKind::kNodeLoss:
      return "node_loss";
    case FailureKind::kUnschedulable:
      return "unschedulable";
    default:
      return "";
  }
}

Outcome OutcomeFor(FailureKind k, int executor) {
  Outcome o;
  switch (k) {
    case FailureKind::kDriverContainerOom:
    case FailureKind::kContainerOom:
      o.exit_code = 137;
      o.reason = std::string(reason::kOomKilled);
      o.message = "the container exceeded its memory limit";
      break;
    case FailureKind::kNodeLoss:
      o.exit_code = 143;
      o.reason = "NodeLost";
      o.message = "the node was reclaimed (spot interruption)";
      break;
    case FailureKind::kUnschedulable:
      o.reason = "Unschedulable";
      o.message = "no node type can hold a pod of this attempt";
      break;
    case FailureKind::kExecutorHeapOom:
    case FailureKind::kExecutorContainerOom:
      o.exit_code = 1;
      o.reason = std::string(reason::kError);
      o.message = fmt::format("job aborted after executor {} failed", executor);
      break;
    default:
      o.exit_code = 1;
      o.reason = std::string(reason::kError);
      o.message = "the job failed";
      break;
  }
  return o;
}

std::string DiagnosisJson(FailureKind k, int executor, const TraceJob& job) {
  bool spark = job.spark();
  std::string root_component = spark ? "driver" : "main";
  std::string failed_component;
  std::string text;
  bool retryable = true;
  switch (k) {
    case FailureKind::kDriverHeapOom:
      text = "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space";
      failed_component = "driver";
      break;
    case FailureKind::kDriverContainerOom:
      text =
          "Exception in thread \"main\" org.apache.spark.SparkUserAppException: User "
          "application exited with 137";
      failed_component = "driver";
      break;
    case FailureKind::kExecutorHeapOom:
      root_component = "executor";
      failed_component = fmt::format("executor-{}", executor);
      text = fmt::format(
          "ERROR Executor: Exception in task 3.0 in stage 2.0 (TID {}): "
          "java.lang.OutOfMemoryError: "
          "Java heap space",
          40 + executor);
      break;
    case FailureKind::kExecutorContainerOom:
      failed_component = fmt::format("executor-{}", executor);
      text = fmt::format(
          "The executor with id {} exited with exit code 137(SIGKILL, possible container OOM).",
          executor);
      break;
    case FailureKind::kContainerOom:
      text = "Memory cgroup out of memory: Killed process 4242 (python)";
      failed_component = "main";
      break;
    case FailureKind::kUserError:
      retryable = false;
      text = spark ? "pyspark.sql.utils.AnalysisException: Table or view not found: "
                     "analytics.events_v2"
                   : "KeyError: 'customer_id'";
      break;
    case FailureKind::kTransient:
      text =
          "com.amazonaws.services.s3.model.AmazonS3Exception: Slow Down (Service: Amazon S3; "
          "Status Code: 503; Error Code: 503 Slow Down)";
      break;
    case FailureKind::kTimeout:
      text = spark ? "Could not execute broadcast in 300 secs. You can increase the timeout for "
                     "broadcasts via spark.sql.broadcastTimeout"
                   : "java.net.SocketTimeoutException: Read timed out";
      break;
    case FailureKind::kNodeLoss:
      text = spark ? fmt::format("The executor with id {} was deleted by a user or the framework.",
                                 executor)
                   : "Pod was deleted: the node was reclaimed (spot interruption)";
      break;
    case FailureKind::kUnschedulable:
      root_component = "k8s-events";
      text = "0/12 nodes are available: 12 Insufficient memory.";
      break;
    case FailureKind::kNone:
      return "";
  }
  boost::json::object o{
      {"class", FailureClass(k)},
      {"retryable", retryable},
      {"root_cause",
       boost::json::object{{"component", root_component}, {"line", 1}, {"text", text}}}};
  if (!failed_component.empty()) o["component"] = failed_component;
  return boost::json::serialize(o);
}

Planner::Planner(const Policy& policy, const SimConfig& /*config*/) : policy_(policy) {
  // Production defaults (Limits: 64Gi per container, 200 executors; climate threshold 20 %).
  platform_ = adapt::Platform{};
}

Resources Planner::Requested(const TraceJob& job) {
  Resources r;
  if (job.spark()) {
    r.spark.driver = {job.driver.cpu_millis, job.driver.memory_bytes, job.driver.overhead_bytes};
    r.spark.executor = {job.executor.cpu_millis, job.executor.memory_bytes,
                        job.executor.overhead_bytes};
    r.spark.instances = job.instances;
  } else {
    r.cpu_millis = job.container.cpu_millis;
    r.memory_bytes = job.container.memory_bytes;
  }
  r.gpu = job.gpu;  // per container, per executor for Spark
  return r;
}

Definition Planner::MakeDefinition(const TraceJob& job) const {
  Definition d;
  d.name = job.name;
  d.kind = job.spark() ? "spark" : "container";
  d.resources = Requested(job);
  d.retry.max_attempts = policy_.max_attempts;
  d.adapt.rightsizing = policy_.rightsizing ? "apply" : "off";
  d.adapt.capacity = policy_.capacity;
  d.adapt.critical = job.critical;
  return d;
}

Plan Planner::First(const Definition& spec, const TraceJob& job, const adapt::Climate& climate,
                    Micros now) {
  Plan p;
  p.run = true;
  if (!policy_.adapt) {
    p.resources = spec.resources;
    p.placement.capacity = PlainCapacity(policy_);
    if (job.spark()) p.placement.executor_capacity = PlainCapacity(policy_);
    p.rule = "plain.as_requested";
    return p;
  }
  static const std::vector<adapt::HistorySample> kNone;
  auto it = history_.find(job.name);
  const std::vector<adapt::HistorySample>& samples = it == history_.end() ? kNone : it->second;
  adapt::Decision d = adapt::PlanFirst(spec, RunOverrides{}, samples, climate, platform_, now);
  p.resources = d.resources;
  p.placement = d.placement;
  p.rule = d.rule;
  return p;
}

Plan Planner::Next(const Definition& spec, const TraceJob& job, std::vector<Attempt>& attempts,
                   const Plan& current, const AttemptEnd& end, const adapt::Climate& climate) {
  Attempt a;
  a.number = static_cast<int>(attempts.size()) + 1;
  a.run_id = job.id;
  a.id = fmt::format("{}-{}", job.id, a.number);
  a.status = end.failure == FailureKind::kNone ? AttemptStatus::kSucceeded : AttemptStatus::kFailed;
  a.resources = current.resources;
  a.placement = current.placement;
  a.engine = job.spark() ? "spark" : "kubernetes";
  a.started_at = end.started_at;
  a.ended_at = end.ended_at;
  a.peak_memory_bytes = end.peak_memory_bytes;
  if (end.failure != FailureKind::kNone) {
    a.outcome = OutcomeFor(end.failure, end.executor);
    a.diagnosis = DiagnosisJson(end.failure, end.executor, job);
  }
  attempts.push_back(std::move(a));
  Plan next;
  if (end.failure == FailureKind::kNone) return next;
  if (!policy_.adapt) {
    if (static_cast<int>(attempts.size()) >= policy_.max_attempts) {
      next.rule = "plain.no_attempts_left";
      return next;
    }
    next = current;
    next.run = true;
    next.delay = policy_.plain_retry_delay;
    next.rule = "plain.retry";
    return next;
  }
  adapt::Decision d = adapt::PlanRetry(spec, attempts, climate, platform_);
  next.run = d.retry;
  next.delay = d.delay;
  next.resources = d.resources;
  next.placement = d.placement;
  next.rule = d.rule;
  return next;
}

void Planner::Succeeded(const TraceJob& job, const Resources& resources, const AttemptEnd& end) {
  if (!policy_.adapt || !policy_.rightsizing || job.spark()) return;
  std::vector<adapt::HistorySample>& h = history_[job.name];
  h.push_back({end.ended_at, end.peak_memory_bytes, resources});
  // adapt keeps the newest max_samples; older ones only cost copies.
  auto keep = static_cast<size_t>(std::max(platform_.max_samples, 1));
  if (h.size() > keep) h.erase(h.begin(), h.end() - static_cast<std::ptrdiff_t>(keep));
}

}  // namespace tug::sim
