// API v1: GET /api/v1/queues — each team queue's limits, usage, waiting and running runs and
// fair share (src/queue), computed from the store as the dispatcher sees it.
#include <boost/json.hpp>

#include "control/admission.h"
#include "core/quantity.h"
#include "queue/queue.h"
#include "server/api.h"
#include "server/api_internal.h"

namespace tug::server {

using api_internal::Err;
using api_internal::Json;
namespace json = boost::json;

namespace {

json::value Limit(int64_t v) {
  return v == queue::kUnlimited ? json::value(nullptr) : json::value(v);
}

json::object Amounts(const queue::Vec& v) {
  return {{"cpu_millis", Limit(v.cpu_millis)},
          {"memory_bytes", Limit(v.memory_bytes)},
          {"gpu", Limit(v.gpu)}};
}

json::object LimitsJson(const queue::Limits& l) {
  json::object o = Amounts(l.quota);
  o["max_running"] = Limit(l.max_running);
  return o;
}

}  // namespace

Result<queue::Scheduler> Api::BuildQueueView() {
  ASSIGN_OR_RETURN(auto entries, store_.ListQueueEntries(clock_.Now()));
  return control::BuildScheduler(options_.queues, options_.queue_capacity, entries);
}

int64_t Api::QueuePosition(const tug::Run& run) {
  if (options_.queues.empty() || run.attempts.empty()) return 0;
  const Attempt& last = run.attempts.back();
  if (last.status != AttemptStatus::kQueued || last.due_at > clock_.Now()) return 0;
  auto sched = queue_view_.Get();
  if (!sched.ok()) return 0;
  auto e = (*sched)->Explain(last.id);
  return e.ok() && !e->running ? e->position : 0;
}

// Queues are configuration and totals, not any one run: every signed-in caller may read them.
net::Response Api::ListQueues(net::Request&, Who) {
  json::array out;
  if (options_.queues.empty()) {
    return Json(200, json::object{{"enabled", false}, {"queues", std::move(out)}});
  }
  auto view = queue_view_.Get();
  if (!view.ok()) return Err(view.error());
  const queue::Scheduler* sched = view->get();
  auto counts = store_.CountRunsByQueue();
  if (!counts.ok()) return Err(counts.error());
  for (const queue::QueueStatus& s : sched->Snapshot()) {
    json::object q;
    q["name"] = s.spec.name;
    q["weight"] = s.spec.weight;
    q["priority"] = s.spec.priority;
    q["cohort"] = s.spec.cohort.empty() ? json::value(nullptr) : json::value(s.spec.cohort);
    q["limits"] = LimitsJson(s.spec.limits);
    q["per_user"] = LimitsJson(s.spec.user_limits);
    q["usage"] = json::object{{"cpu_millis", s.usage.cpu_millis},
                              {"memory_bytes", s.usage.memory_bytes},
                              {"gpu", s.usage.gpu},
                              {"cpu", queue::FormatCores(s.usage.cpu_millis)},
                              {"memory", FormatMemory(s.usage.memory_bytes)}};
    // Runs waiting (QUEUED or RETRYING, due or not) and RUNNING, from the runs table; `admitted`
    // counts attempts holding quota (launching or running).
    int64_t queued = 0;
    int64_t running = 0;
    for (const store::QueueCount& c : *counts) {
      const bool mine = c.queue == s.spec.name ||
                        (s.spec.name == queue::kDefaultQueue && !sched->HasQueue(c.queue));
      if (mine) {
        queued += c.queued;
        running += c.running;
      }
    }
    q["queued"] = queued;
    q["running"] = running;
    q["admitted"] = s.running;
    q["due"] = s.queued;
    q["share"] = s.share;
    q["blocked"] = s.blocked.empty() ? json::value(nullptr) : json::value(s.blocked);
    out.push_back(std::move(q));
  }
  return Json(200, json::object{{"enabled", true}, {"queues", std::move(out)}});
}

}  // namespace tug::server
