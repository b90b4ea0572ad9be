// The queue scheduler: ordered sets keyed so that every decision is a lookup at the front.
//
// Structure (n queued items, Q queues):
//  - each user of a queue keeps its fitting queued items in priority/FIFO order (`waiting`);
//  - a queue keeps the first item of every user who is within their per-user limits
//    (`candidates`): its first candidate is the queue's next item;
//  - `ready` holds the queues whose next item fits the queue's limits (and its cohort's),
//    ordered by queue priority and weighted dominant share: the first is the next decision.
// A change to an item or to a queue's usage refreshes one user and one queue (O(log n)), plus
// the other queues of its cohort when usage changes (their borrowing room changed).
#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

#include <fmt/format.h>
#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>

#include "core/quantity.h"
#include "queue/queue.h"

namespace tug::queue {
namespace {

struct Key {
  int neg_priority = 0;
  Micros submitted_at = 0;
  std::string id;
  auto operator<=>(const Key&) const = default;
};

// An ordered set with rank queries: an item's position in O(log n).
using OrderTree =
    __gnu_pbds::tree<Key, __gnu_pbds::null_type, std::less<Key>, __gnu_pbds::rb_tree_tag,
                     __gnu_pbds::tree_order_statistics_node_update>;

struct ReadyKey {
  int neg_priority = 0;
  double share = 0;
  std::string name;
  auto operator<=>(const ReadyKey&) const = default;
};

constexpr int kResources = 3;

int64_t& At(Vec& v, int r) { return r == 0 ? v.cpu_millis : r == 1 ? v.memory_bytes : v.gpu; }
int64_t At(const Vec& v, int r) { return r == 0 ? v.cpu_millis : r == 1 ? v.memory_bytes : v.gpu; }

std::string Amount(int r, int64_t v) {
  if (r == 0) return FormatCores(v);
  if (r == 1) return FormatMemory(v);
  return fmt::format("{}", v);
}

std::string_view Unit(int r) { return r == 0 ? "CPUs" : r == 1 ? "memory" : "GPUs"; }

// "40 of 40 CPUs", "60Gi of 64Gi memory", "2 of 2 GPUs"
std::string OfLimit(int r, int64_t used, int64_t limit) {
  return fmt::format("{} of {} {}", Amount(r, used), Amount(r, limit), Unit(r));
}

// When the limit is not reached yet, the next run is simply too big for what is left.
std::string Needs(int r, int64_t used, int64_t limit, int64_t need) {
  if (used >= limit) return "";
  return fmt::format(", the next run needs {}", Amount(r, need));
}

constexpr int64_t kInfinite = std::numeric_limits<int64_t>::max() / 4;

}  // namespace

struct Scheduler::Impl {
  struct Queued {
    Item item;
    Key key;
    std::string never;  // why it can never start ("" : it can)
  };
  struct User {
    Vec usage;
    int64_t running = 0;
    std::set<Key> waiting;         // its items that can fit, in order
    std::optional<Key> candidate;  // its first item, while it is within the user's limits
  };
  struct Cohort;
  struct Queue {
    QueueSpec spec;
    Vec usage;
    int64_t running = 0;
    std::map<std::string, User, std::less<>> users;
    std::set<std::pair<Key, std::string>> candidates;  // (first item, user)
    OrderTree order;                                   // every queued item
    std::optional<ReadyKey> ready;
    Cohort* cohort = nullptr;
  };
  struct Cohort {
    std::string name;
    std::vector<Queue*> members;
    Vec usage;
    Vec total;  // sum of the members' quotas; kInfinite when one has none
  };

  std::map<std::string, Queue, std::less<>> queues;
  std::map<std::string, Cohort, std::less<>> cohorts;
  std::unordered_map<std::string, Queued> queued;
  std::unordered_map<std::string, Item> running;
  std::set<ReadyKey> ready;
  Vec denominator;  // 0: the resource is left out of shares

  double Share(const Queue& q) const {
    double dominant = 0;
    bool any = false;
    for (int r = 0; r < kResources; ++r) {
      if (At(denominator, r) <= 0) continue;
      any = true;
      dominant = std::max(
          dominant, static_cast<double>(At(q.usage, r)) / static_cast<double>(At(denominator, r)));
    }
    if (!any) dominant = static_cast<double>(q.running);
    return dominant / q.spec.weight;
  }

  // The most the queue may use of resource r: its quota, plus what it may borrow.
  int64_t QueueCeiling(const Queue& q, int r) const {
    int64_t own = At(q.spec.limits.quota, r);
    if (own == kUnlimited) return kInfinite;
    if (q.cohort == nullptr) return own;
    int64_t borrow = At(q.spec.borrowing_limit, r);
    if (borrow == kUnlimited) return At(q.cohort->total, r);
    return own + borrow;
  }

  bool UserFits(const Queue& q, const User& u, const std::string& user, const Vec& fp,
                std::string* why) const {
    const Limits& l = q.spec.user_limits;
    if (l.max_running != kUnlimited && u.running + 1 > l.max_running) {
      if (why != nullptr) {
        *why = fmt::format("{}: {} of {} running runs in {}", user, u.running, l.max_running,
                           q.spec.name);
      }
      return false;
    }
    for (int r = 0; r < kResources; ++r) {
      int64_t limit = At(l.quota, r);
      if (limit == kUnlimited || At(u.usage, r) + At(fp, r) <= limit) continue;
      if (why != nullptr) {
        *why = fmt::format("{}: {} in use in {}{}", user, OfLimit(r, At(u.usage, r), limit),
                           q.spec.name, Needs(r, At(u.usage, r), limit, At(fp, r)));
      }
      return false;
    }
    return true;
  }

  bool QueueFits(const Queue& q, const Vec& fp, std::string* why) const {
    const Limits& l = q.spec.limits;
    if (l.max_running != kUnlimited && q.running + 1 > l.max_running) {
      if (why != nullptr) {
        *why = fmt::format("{}: {} of {} running runs", q.spec.name, q.running, l.max_running);
      }
      return false;
    }
    for (int r = 0; r < kResources; ++r) {
      int64_t used = At(q.usage, r);
      int64_t ceiling = QueueCeiling(q, r);
      if (used + At(fp, r) > ceiling) {
        if (why != nullptr) {
          *why = fmt::format("{}: {} in use{}", q.spec.name, OfLimit(r, used, ceiling),
                             Needs(r, used, ceiling, At(fp, r)));
        }
        return false;
      }
      if (q.cohort == nullptr) continue;
      int64_t cohort_used = At(q.cohort->usage, r);
      int64_t total = At(q.cohort->total, r);
      if (cohort_used + At(fp, r) > total) {
        if (why != nullptr) {
          *why =
              fmt::format("{}: cohort {} has {} in use{}", q.spec.name, q.cohort->name,
                          OfLimit(r, cohort_used, total), Needs(r, cohort_used, total, At(fp, r)));
        }
        return false;
      }
    }
    return true;
  }

  // Why an item could not start even with its queue empty ("" : it could).
  std::string NeverFits(const Queue& q, const Vec& fp) const {
    const std::string& name = q.spec.name;
    if (q.spec.limits.max_running == 0) {
      return fmt::format("{} admits no runs (max_running: 0); raise it or use another queue", name);
    }
    if (q.spec.user_limits.max_running == 0) {
      return fmt::format(
          "{} admits no runs per user (per_user.max_running: 0); raise it or use another queue",
          name);
    }
    for (int r = 0; r < kResources; ++r) {
      int64_t ceiling = QueueCeiling(q, r);
      if (At(fp, r) > ceiling) {
        return fmt::format(
            "the run needs {} but {} may use at most {}; lower the request or raise the quota",
            Amount(r, At(fp, r)) + (r == 0   ? " CPUs"
                                    : r == 1 ? " memory"
                                             : " GPUs"),
            name, Amount(r, ceiling));
      }
      int64_t user_limit = At(q.spec.user_limits.quota, r);
      if (user_limit != kUnlimited && At(fp, r) > user_limit) {
        return fmt::format(
            "the run needs {} {} but one user may use at most {} in {}; lower the request or "
            "raise per_user",
            Amount(r, At(fp, r)), Unit(r), Amount(r, user_limit), name);
      }
    }
    return "";
  }

  void RefreshUser(Queue& q, User& u, const std::string& user) {
    if (u.candidate) {
      q.candidates.erase({*u.candidate, user});
      u.candidate.reset();
    }
    if (u.waiting.empty()) return;
    const Key& head = *u.waiting.begin();
    if (!UserFits(q, u, user, queued.at(head.id).item.footprint, nullptr)) return;
    q.candidates.insert({head, user});
    u.candidate = head;
  }

  void RefreshQueue(Queue& q) {
    if (q.ready) {
      ready.erase(*q.ready);
      q.ready.reset();
    }
    if (q.candidates.empty()) return;
    const Key& head = q.candidates.begin()->first;
    if (!QueueFits(q, queued.at(head.id).item.footprint, nullptr)) return;
    q.ready = ReadyKey{-q.spec.priority, Share(q), q.spec.name};
    ready.insert(*q.ready);
  }

  // Usage of `q` changed: its share and room, and its cohort's room.
  void UsageChanged(Queue& q) {
    RefreshQueue(q);
    if (q.cohort == nullptr) return;
    for (Queue* m : q.cohort->members) {
      if (m != &q) RefreshQueue(*m);
    }
  }

  void DropUserIfIdle(Queue& q, const std::string& user) {
    auto it = q.users.find(user);
    if (it != q.users.end() && it->second.waiting.empty() && it->second.running == 0 &&
        !it->second.candidate) {
      q.users.erase(it);
    }
  }

  // Takes a queued item out of every structure; returns it.
  Item Unqueue(std::unordered_map<std::string, Queued>::iterator it) {
    Queued entry = std::move(it->second);
    queued.erase(it);
    Queue& q = queues.find(entry.item.queue)->second;
    q.order.erase(entry.key);
    if (entry.never.empty()) {
      User& u = q.users[entry.item.user];
      u.waiting.erase(entry.key);
      // The erased item may have been the user's candidate: RefreshUser drops it by its key
      // before looking at the new first item.
      RefreshUser(q, u, entry.item.user);
      RefreshQueue(q);
    }
    DropUserIfIdle(q, entry.item.user);
    return std::move(entry.item);
  }

  void AddRunning(Item item) {
    Queue& q = queues.find(item.queue)->second;
    User& u = q.users[item.user];
    q.usage += item.footprint;
    ++q.running;
    u.usage += item.footprint;
    ++u.running;
    if (q.cohort != nullptr) q.cohort->usage += item.footprint;
    const std::string user = item.user;
    std::string id = item.id;
    running.emplace(std::move(id), std::move(item));
    RefreshUser(q, u, user);
    UsageChanged(q);
  }
};

Scheduler::Scheduler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Scheduler::Scheduler(Scheduler&&) noexcept = default;
Scheduler& Scheduler::operator=(Scheduler&&) noexcept = default;
Scheduler::~Scheduler() = default;

Result<Scheduler> Scheduler::Create(std::vector<QueueSpec> queues, Vec capacity) {
  RETURN_IF_ERROR(ValidateQueues(queues));
  if (std::none_of(queues.begin(), queues.end(),
                   [](const QueueSpec& q) { return q.name == kDefaultQueue; })) {
    QueueSpec d;
    d.name = std::string(kDefaultQueue);
    queues.push_back(std::move(d));
  }
  auto impl = std::make_unique<Impl>();
  Vec quota_sum;
  for (QueueSpec& spec : queues) {
    for (int r = 0; r < kResources; ++r) {
      if (At(spec.limits.quota, r) != kUnlimited) At(quota_sum, r) += At(spec.limits.quota, r);
    }
    std::string name = spec.name;
    Impl::Queue& q = impl->queues[name];
    q.spec = std::move(spec);
  }
  for (int r = 0; r < kResources; ++r) {
    At(impl->denominator, r) = At(capacity, r) > 0 ? At(capacity, r) : At(quota_sum, r);
  }
  for (auto& [name, q] : impl->queues) {
    if (q.spec.cohort.empty()) continue;
    Impl::Cohort& c = impl->cohorts[q.spec.cohort];
    c.name = q.spec.cohort;
    c.members.push_back(&q);
    q.cohort = &c;
  }
  for (auto& [name, c] : impl->cohorts) {
    for (int r = 0; r < kResources; ++r) {
      int64_t total = 0;
      for (const Impl::Queue* m : c.members) {
        int64_t own = At(m->spec.limits.quota, r);
        total = own == kUnlimited || total == kInfinite ? kInfinite : total + own;
      }
      At(c.total, r) = total;
    }
  }
  return Scheduler(std::move(impl));
}

bool Scheduler::HasQueue(std::string_view name) const { return impl_->queues.contains(name); }

std::vector<QueueSpec> Scheduler::Queues() const {
  std::vector<QueueSpec> out;
  for (const auto& [name, q] : impl_->queues) out.push_back(q.spec);
  return out;
}

Status Scheduler::Enqueue(Item item) {
  auto qit = impl_->queues.find(item.queue);
  if (qit == impl_->queues.end()) {
    return InvalidArgument(fmt::format("queue '{}' is not configured", item.queue));
  }
  if (impl_->queued.contains(item.id) || impl_->running.contains(item.id)) {
    return AlreadyExists(fmt::format("item '{}' is already queued or running", item.id));
  }
  Impl::Queue& q = qit->second;
  Key key{-item.priority, item.submitted_at, item.id};
  std::string never = impl_->NeverFits(q, item.footprint);
  const bool fits = never.empty();
  const std::string user = item.user;
  std::string id = item.id;
  impl_->queued.emplace(std::move(id), Impl::Queued{std::move(item), key, std::move(never)});
  q.order.insert(key);
  if (fits) {
    Impl::User& u = q.users[user];
    u.waiting.insert(key);
    impl_->RefreshUser(q, u, user);
    impl_->RefreshQueue(q);
  }
  return OkStatus();
}

Status Scheduler::Remove(std::string_view id) {
  auto it = impl_->queued.find(std::string(id));
  if (it == impl_->queued.end()) return NotFound(fmt::format("item '{}' is not queued", id));
  impl_->Unqueue(it);
  return OkStatus();
}

Status Scheduler::Start(std::string_view id) {
  auto it = impl_->queued.find(std::string(id));
  if (it == impl_->queued.end()) return NotFound(fmt::format("item '{}' is not queued", id));
  impl_->AddRunning(impl_->Unqueue(it));
  return OkStatus();
}

Status Scheduler::AddRunning(Item item) {
  if (!impl_->queues.contains(item.queue)) {
    return InvalidArgument(fmt::format("queue '{}' is not configured", item.queue));
  }
  if (impl_->queued.contains(item.id) || impl_->running.contains(item.id)) {
    return AlreadyExists(fmt::format("item '{}' is already queued or running", item.id));
  }
  impl_->AddRunning(std::move(item));
  return OkStatus();
}

Status Scheduler::Finish(std::string_view id) {
  auto it = impl_->running.find(std::string(id));
  if (it == impl_->running.end()) return NotFound(fmt::format("item '{}' is not running", id));
  Item item = std::move(it->second);
  impl_->running.erase(it);
  Impl::Queue& q = impl_->queues.find(item.queue)->second;
  Impl::User& u = q.users[item.user];
  q.usage -= item.footprint;
  --q.running;
  u.usage -= item.footprint;
  --u.running;
  if (q.cohort != nullptr) q.cohort->usage -= item.footprint;
  impl_->RefreshUser(q, u, item.user);
  impl_->UsageChanged(q);
  impl_->DropUserIfIdle(q, item.user);
  return OkStatus();
}

const Item* Scheduler::Next() const {
  if (impl_->ready.empty()) return nullptr;
  const Impl::Queue& q = impl_->queues.find(impl_->ready.begin()->name)->second;
  return &impl_->queued.at(q.candidates.begin()->first.id).item;
}

Result<Explanation> Scheduler::Explain(std::string_view id) const {
  const std::string key_id(id);
  if (impl_->running.contains(key_id)) return Explanation{true, 0, ""};
  auto it = impl_->queued.find(key_id);
  if (it == impl_->queued.end()) return NotFound(fmt::format("item '{}' is unknown", id));
  const Impl::Queued& entry = it->second;
  const Impl::Queue& q = impl_->queues.find(entry.item.queue)->second;
  Explanation e;
  e.position = static_cast<int64_t>(q.order.order_of_key(entry.key)) + 1;
  if (!entry.never.empty()) {
    e.reason = entry.never;
    return e;
  }
  const Impl::User& u = q.users.find(entry.item.user)->second;
  if (!u.candidate) {
    const Key& head = *u.waiting.begin();
    impl_->UserFits(q, u, entry.item.user, impl_->queued.at(head.id).item.footprint, &e.reason);
    return e;
  }
  const Key& head = q.candidates.begin()->first;
  if (!q.ready) {
    impl_->QueueFits(q, impl_->queued.at(head.id).item.footprint, &e.reason);
    return e;
  }
  if (head != entry.key) {
    e.reason = fmt::format("{}: {} earlier runs ahead of it", q.spec.name, e.position - 1);
  }
  return e;
}

std::vector<QueueStatus> Scheduler::Snapshot() const {
  std::vector<QueueStatus> out;
  for (const auto& [name, q] : impl_->queues) {
    QueueStatus s;
    s.spec = q.spec;
    s.usage = q.usage;
    s.running = q.running;
    s.queued = static_cast<int64_t>(q.order.size());
    s.share = impl_->Share(q);
    if (!q.ready && !q.order.empty()) {
      auto e = Explain(q.order.begin()->id);
      if (e.ok()) s.blocked = e->reason;
    }
    out.push_back(std::move(s));
  }
  return out;
}

size_t Scheduler::queued() const { return impl_->queued.size(); }
size_t Scheduler::running() const { return impl_->running.size(); }

}  // namespace tug::queue
