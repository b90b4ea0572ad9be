// The rules every Store backend applies the same way (see rules.h).
#include "store/rules.h"

#include <charconv>

#include <fmt/format.h>

#include "core/ids.h"
#include "store/encoding.h"

namespace tug::store {
namespace {

constexpr std::string_view kCursorPrefix = "v1.";
constexpr std::string_view kCostCursorPrefix = "c1.";
constexpr size_t kMaxCursorIdBytes = 128;

}  // namespace

// --- cursors: "v1." + lower-case hex of the last id of the page ---

std::string EncodeCursor(std::string_view id) {
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out(kCursorPrefix);
  for (unsigned char c : id) {
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

Result<std::string> DecodeCursor(std::string_view cursor) {
  auto bad = [&] {
    std::string_view shown = cursor.substr(0, 48);
    return InvalidArgument(fmt::format(
        "cursor '{}{}' is not valid; pass next_cursor from the previous page unchanged, or leave "
        "it empty for the first page",
        shown, cursor.size() > shown.size() ? "..." : ""));
  };
  if (!cursor.starts_with(kCursorPrefix)) return bad();
  std::string_view hex = cursor.substr(kCursorPrefix.size());
  if (hex.empty() || hex.size() % 2 != 0 || hex.size() > 2 * kMaxCursorIdBytes) return bad();
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;  // upper case is rejected too: we never write it
  };
  std::string id;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]);
    int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return bad();
    char c = static_cast<char>(hi * 16 + lo);
    if (c < '!' || c > '~') return bad();  // ids are printable ASCII without spaces
    id += c;
  }
  return id;
}

Error TransitionError(const std::string& attempt_id, AttemptStatus from, AttemptStatus to) {
  return FailedPrecondition(fmt::format(
      "attempt '{}' cannot go from {} to {}; {}", attempt_id, ToString(from), ToString(to),
      IsTerminal(from) ? "it already ended and the first end wins"
                       : "re-read the attempt and act on its current status"));
}

Error RunTransitionError(const std::string& run_id, RunStatus from, RunStatus to) {
  return FailedPrecondition(fmt::format(
      "run '{}' cannot go from {} to {}; {}", run_id, ToString(from), ToString(to),
      IsTerminal(from) ? "it already ended" : "re-read the run and act on its current status"));
}

Error RunNotFound(const std::string& id) {
  return NotFound(
      fmt::format("run '{}' not found; check the id or list runs with `tug get runs`", id));
}

Error IdempotencyKeyTaken(const std::string& owner, const std::string& key) {
  return Error(Code::kAborted,
               fmt::format("idempotency key '{}' of '{}' already names another run", key, owner),
               std::string(kIdempotencyKeyTakenDetail));
}

Error AttemptNotFound(const std::string& id) {
  return NotFound(fmt::format("attempt '{}' not found; attempt ids look like '<run id>-1'", id));
}

Error DefinitionNotFound(const std::string& name) {
  return NotFound(fmt::format(
      "definition '{}' not found; check the name or list definitions with `tug get definitions`",
      name));
}

Error TokenNotFound(const std::string& id) {
  return NotFound(fmt::format("token '{}' not found; list your tokens with `tug token list`", id));
}

std::string SubmittedMessage(const Run& run) {
  std::string who;
  if (!run.owner.empty()) who = fmt::format(" by '{}'", run.owner);
  if (!run.group.empty()) who += fmt::format(" (group '{}')", run.group);
  return fmt::format("submitted{}: definition '{}' version {}", who, run.definition,
                     run.definition_version);
}

std::string StopRequestedMessage(const std::string& by) {
  return by.empty() ? std::string("stop requested") : fmt::format("stop requested by '{}'", by);
}

Status CheckNewToken(const ApiToken& token) {
  if (token.id.empty() || token.user.empty() || token.role.empty() || token.hash.size() != 64) {
    return InvalidArgument("a token needs an id, a user, a role and a SHA-256 hash; set them all");
  }
  return OkStatus();
}

Status CheckNewRun(const Run& run, const Attempt& first) {
  if (run.id.empty() || first.id.empty()) {
    return InvalidArgument("a run and its first attempt need ids; generate them with NewId");
  }
  if (first.run_id != run.id) {
    return InvalidArgument(fmt::format(
        "attempt '{}' names run '{}' but is created with run '{}'; set its run_id to the new run",
        first.id, first.run_id, run.id));
  }
  if (run.status != RunStatus::kQueued || first.status != AttemptStatus::kQueued) {
    return InvalidArgument(
        fmt::format("run '{}' must be created QUEUED with a QUEUED first attempt (got {} and {})",
                    run.id, ToString(run.status), ToString(first.status)));
  }
  return OkStatus();
}

// Checks a planned retry against the attempt it follows. Only the planned fields of `next` are
// stored (see EndAttempt), so nothing else is checked.
Status CheckNext(const Attempt& ended, const AttemptEnd& end) {
  const Attempt& next = *end.next;
  if (end.status == AttemptStatus::kSucceeded) {
    return InvalidArgument(fmt::format(
        "attempt '{}' succeeded, so its run ends; a retry is only planned after a failure",
        ended.id));
  }
  if (next.id.empty() || next.run_id != ended.run_id || next.number != ended.number + 1) {
    return InvalidArgument(fmt::format(
        "the retry of attempt '{}' must be attempt {} of run '{}' (got '{}', number {} of run "
        "'{}'); build it with AttemptId(run id, {})",
        ended.id, ended.number + 1, ended.run_id, next.id, next.number, next.run_id,
        ended.number + 1));
  }
  if (next.status != AttemptStatus::kQueued) {
    return InvalidArgument(fmt::format("the retry '{}' must be created QUEUED (got {})", next.id,
                                       ToString(next.status)));
  }
  return OkStatus();
}

// The events written with an end, checked before anything is written: an event without run_id
// belongs to the attempt's run, one without a time happened at the end.
Result<std::vector<Event>> EndEvents(const Attempt& ended, const AttemptEnd& end, Micros ended_at) {
  std::vector<Event> events = end.events;
  for (Event& e : events) {
    if (e.run_id.empty()) e.run_id = ended.run_id;
    if (e.at == 0) e.at = ended_at;
    if (e.run_id != ended.run_id || e.type.empty()) {
      return InvalidArgument(fmt::format(
          "an event written with the end of attempt '{}' needs a type and run '{}' (got type "
          "'{}', run '{}')",
          ended.id, ended.run_id, e.type, e.run_id));
    }
  }
  return events;
}

Status CheckClaim(const std::string& owner, Micros lease, int max) {
  if (owner.empty() || lease <= 0) {
    return InvalidArgument("claiming needs an owner name and a positive lease; set both");
  }
  if (max < 1 || max > 1000) {
    return InvalidArgument(fmt::format("claim batch {} is outside 1..1000", max));
  }
  return OkStatus();
}

Status CheckOwnerLease(const std::string& owner, Micros lease, std::string_view doing) {
  if (owner.empty() || lease <= 0) {
    return InvalidArgument(
        fmt::format("{} needs an owner name and a positive lease; set both", doing));
  }
  return OkStatus();
}

std::string EncodeCursor(RunFilter::Sort sort, const Run& last) {
  if (sort == RunFilter::Sort::kNewest) return EncodeCursor(last.id);
  return fmt::format("{}{}.{}", kCostCursorPrefix, UsdToNanos(last.cost_usd),
                     EncodeCursor(last.id).substr(kCursorPrefix.size()));
}

CostAdded CostOfEnd(const AttemptEnd& end) {
  CostAdded c;
  if (!end.cost_usd) return c;
  c.nanos = UsdToNanos(*end.cost_usd);
  if (end.status == AttemptStatus::kFailed || end.status == AttemptStatus::kLost) {
    c.retries_nanos = c.nanos;
  }
  return c;
}

Result<PageAfter> CheckPage(const RunFilter& filter) {
  if (filter.limit < 1 || filter.limit > kMaxRunsPerPage) {
    return InvalidArgument(fmt::format("limit {} is out of range; ask for 1 to {} runs per page",
                                       filter.limit, kMaxRunsPerPage));
  }
  PageAfter after;
  if (filter.cursor.empty()) return after;
  const bool by_cost = filter.sort == RunFilter::Sort::kCost;
  const std::string_view cursor = filter.cursor;
  if (cursor.starts_with(by_cost ? kCursorPrefix : kCostCursorPrefix)) {
    return InvalidArgument(fmt::format(
        "this cursor is from a listing sorted {}; keep the sort of the listing it came from, or "
        "leave the cursor empty for the first page",
        by_cost ? "newest first" : "by cost"));
  }
  if (!by_cost) {
    ASSIGN_OR_RETURN(after.id, DecodeCursor(cursor));
    return after;
  }
  // c1.<nanos>.<hex id>: the id part decodes as a v1 cursor.
  const size_t dot = cursor.find('.', kCostCursorPrefix.size());
  std::string_view nanos = cursor.substr(kCostCursorPrefix.size(), dot - kCostCursorPrefix.size());
  auto [end, ec] = std::from_chars(nanos.data(), nanos.data() + nanos.size(), after.cost_nanos);
  if (!cursor.starts_with(kCostCursorPrefix) || dot == std::string_view::npos || nanos.empty() ||
      ec != std::errc() || end != nanos.data() + nanos.size()) {
    return InvalidArgument(fmt::format(
        "cursor '{}' is not valid; pass next_cursor from the previous page unchanged, or leave "
        "it empty for the first page",
        cursor.substr(0, 48)));
  }
  ASSIGN_OR_RETURN(after.id,
                   DecodeCursor(std::string(kCursorPrefix) + std::string(cursor.substr(dot + 1))));
  return after;
}

Status CheckLease(const std::string& name, const std::string& owner, Micros ttl) {
  if (name.empty() || owner.empty() || ttl <= 0) {
    return InvalidArgument("a lease needs a name, an owner and a positive duration; set all three");
  }
  return OkStatus();
}

Status CheckPurgeLimit(int limit) {
  if (limit < 1 || limit > kMaxPurgeRuns) {
    return InvalidArgument(fmt::format("purge limit {} is outside 1..{}", limit, kMaxPurgeRuns));
  }
  return OkStatus();
}

Status CheckTakeOver(const Attempt& a, const std::string& expected_owner) {
  if (a.status != AttemptStatus::kLaunching && a.status != AttemptStatus::kRunning) {
    return FailedPrecondition(
        fmt::format("attempt '{}' is {}, not launching or running; there is nothing to take over",
                    a.id, ToString(a.status)));
  }
  if (!expected_owner.empty() && a.claimed_by != expected_owner) {
    return Aborted(fmt::format("attempt '{}' is now claimed by '{}', not '{}'; left to it", a.id,
                               a.claimed_by, expected_owner));
  }
  return OkStatus();
}

// --- ListRuns ---

std::string VisibilityCondition(const Visibility& visible, std::vector<std::string>& params,
                                bool dollar) {
  if (visible.all) return "";
  auto placeholder = [&](std::string value) {
    params.push_back(std::move(value));
    return fmt::format("{}{}", dollar ? '$' : '?', params.size());
  };
  std::string terms;
  if (!visible.groups.empty()) {
    terms = "group_name IN (";
    for (size_t i = 0; i < visible.groups.size(); ++i) {
      if (i > 0) terms += ", ";
      terms += placeholder(visible.groups[i]);
    }
    terms += ")";
  }
  if (!visible.owner.empty()) {
    if (!terms.empty()) terms += " OR ";
    terms += "owner = " + placeholder(visible.owner);
  }
  if (terms.empty()) return " AND 1 = 0";
  return " AND (" + terms + ")";
}

RunsQuery ListRunsQuery(const RunFilter& filter, const PageAfter& after, const char* columns,
                        bool dollar) {
  RunsQuery q;
  // The summary columns read the attempts' (run_id, number) unique index, one probe per row.
  q.sql = fmt::format(
      "SELECT {}, "
      "COALESCE((SELECT MAX(a.number) FROM attempts AS a WHERE a.run_id = runs.id), 0), "
      "COALESCE((SELECT a.failure_class FROM attempts AS a WHERE a.run_id = runs.id "
      "AND a.failure_class <> '' ORDER BY a.number DESC LIMIT 1), '') "
      "FROM runs WHERE 1 = 1",
      columns);
  auto bind = [&](std::string_view condition, std::string value) {
    q.params.push_back(std::move(value));
    q.sql += fmt::format(" AND {} {}{}", condition, dollar ? '$' : '?', q.params.size());
  };
  if (filter.status) bind("status =", std::string(ToString(*filter.status)));
  if (!filter.statuses.empty()) {
    std::string in;
    for (RunStatus s : filter.statuses) {
      q.params.emplace_back(ToString(s));
      in += fmt::format("{}{}{}", in.empty() ? "" : ", ", dollar ? '$' : '?', q.params.size());
    }
    q.sql += " AND status IN (" + in + ")";
  }
  if (!filter.definition.empty()) bind("definition =", filter.definition);
  if (!filter.owner.empty()) bind("owner =", filter.owner);
  if (!filter.parent.empty()) bind("parent_run_id =", filter.parent);
  q.sql += VisibilityCondition(filter.visible, q.params, dollar);
  // Ids are time-ordered: a creation range is a primary-key range, so every shape stays an
  // index scan that stops after one page.
  if (filter.created_after > 0) bind("id >=", IdFloor(filter.created_after));
  std::string upper = filter.created_before > 0 ? IdFloor(filter.created_before) : "";
  const bool by_cost = filter.sort == RunFilter::Sort::kCost;
  if (!by_cost && !after.id.empty() && (upper.empty() || after.id < upper)) upper = after.id;
  if (!upper.empty()) bind("id <", upper);
  if (by_cost && !after.id.empty()) {
    auto placeholder = [&](std::string value) {
      q.params.push_back(std::move(value));
      return fmt::format("{}{}", dollar ? '$' : '?', q.params.size());
    };
    const std::string cost = placeholder(std::to_string(after.cost_nanos));
    const std::string id = placeholder(after.id);
    // Parameters are bound as text: the casts make both backends compare numbers.
    q.sql += fmt::format(
        " AND (cost_nanos < CAST({0} AS BIGINT) OR (cost_nanos = CAST({0} AS BIGINT) AND id < "
        "{1}))",
        cost, id);
  }
  q.limit = filter.limit + 1;  // one more than asked tells whether another page exists
  q.sql += fmt::format(" ORDER BY {}id DESC LIMIT {}{}", by_cost ? "cost_nanos DESC, " : "",
                       dollar ? '$' : '?', q.params.size() + 1);
  return q;
}

// --- usage ---

Micros UsageBucketWidth(Micros age) {
  constexpr Micros kMinute = 60 * kMicrosPerSecond;
  // Short jobs are the common case and chart poorly from a few wide buckets: full resolution
  // (engines sample every 2 s or slower) for the first two minutes.
  if (age < 2 * kMinute) return kMicrosPerSecond;
  if (age < 10 * kMinute) return 5 * kMicrosPerSecond;
  if (age < 120 * kMinute) return kMinute;
  return 5 * kMinute;
}

UsageBucket UsageBucketOf(const UsageSample& s) {
  if (s.started_at <= 0 || s.at < s.started_at) {
    const Micros width = UsageBucketWidth(0);
    return {s.at - s.at % width, width};
  }
  const Micros age = s.at - s.started_at;
  const Micros width = UsageBucketWidth(age);
  return {s.started_at + age - age % width, width};
}

Status CheckUsage(const std::vector<UsageSample>& samples) {
  for (const UsageSample& s : samples) {
    if (s.run_id.empty() || s.attempt_id.empty() || s.reading.component.empty()) {
      return InvalidArgument(
          fmt::format("usage sample of attempt '{}' needs a run id, an attempt id and a component",
                      s.attempt_id));
    }
    if (s.at <= 0) {
      return InvalidArgument(
          fmt::format("usage sample of attempt '{}' has no time; set `at`", s.attempt_id));
    }
    const UsageReading& r = s.reading;
    if (r.memory_bytes < 0 || r.cpu_millis < 0 || r.memory_limit_bytes < 0 ||
        r.cpu_limit_millis < 0) {
      return InvalidArgument(fmt::format(
          "usage sample of attempt '{}' has a negative value; readings and limits are >= 0",
          s.attempt_id));
    }
  }
  return OkStatus();
}

}  // namespace tug::store
