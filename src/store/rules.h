#pragma once
/// The rules every Store backend applies the same way, so their answers (codes and messages)
/// match word for word: the ListRuns cursor, the checks of a new run and of a planned retry, and
/// the errors for unknown rows and illegal moves. Pure functions; safe from any thread.
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/model.h"
#include "store/store.h"

namespace tug::store {

inline constexpr int kMaxRunsPerPage = 500;
inline constexpr int kMaxHistoryRows = 500;
inline constexpr int kMaxEventsPerPage = 10'000;
inline constexpr int kMaxPurgeRuns = 10'000;

/// ListRuns cursors: "v1." + lower-case hex of the last id of the page (newest first), or
/// "c1.<cost in nano-dollars>.<hex id>" (by cost). Decoding anything else is kInvalidArgument
/// (the message asks for next_cursor unchanged).
std::string EncodeCursor(std::string_view id);
std::string EncodeCursor(RunFilter::Sort sort, const Run& last);
[[nodiscard]] Result<std::string> DecodeCursor(std::string_view cursor);

/// Where a page starts: after the run `id` (empty: the first page) and, sorted by cost, after
/// cost `cost_nanos` (runs of equal cost by id, descending).
struct PageAfter {
  std::string id;
  int64_t cost_nanos = 0;
};

/// What an end adds to its run's stored costs (nano-dollars): all of the attempt's cost, and to
/// the retries' cost when it FAILED or was LOST. Zero when the end carries no cost.
struct CostAdded {
  int64_t nanos = 0;
  int64_t retries_nanos = 0;
};
CostAdded CostOfEnd(const AttemptEnd& end);

/// kFailedPrecondition for an illegal state move.
Error TransitionError(const std::string& attempt_id, AttemptStatus from, AttemptStatus to);
Error RunTransitionError(const std::string& run_id, RunStatus from, RunStatus to);

/// kNotFound, naming the id and how to find a good one.
Error RunNotFound(const std::string& id);
/// kAborted: a live idempotency key of `owner` already names another run. The API answers it
/// by looking the key up (Store::FindIdempotencyKey).
Error IdempotencyKeyTaken(const std::string& owner, const std::string& key);

Error AttemptNotFound(const std::string& id);
Error DefinitionNotFound(const std::string& name);
Error TokenNotFound(const std::string& id);

/// The texts of the "submitted" and "stop_requested" events, naming who did it (the run's
/// owner; `by`) when known: "submitted by 'ada' (group 'science'): definition 'etl' version 3".
std::string SubmittedMessage(const Run& run);
std::string StopRequestedMessage(const std::string& by);

/// kInvalidArgument unless the token has an id, a user, a role and a 64-character hash.
[[nodiscard]] Status CheckNewToken(const ApiToken& token);

/// kInvalidArgument unless `run` and `first` have ids, `first` belongs to `run` and both are
/// QUEUED.
[[nodiscard]] Status CheckNewRun(const Run& run, const Attempt& first);
/// Checks end.next (set) against the attempt it follows: attempt number + 1 of the same run,
/// QUEUED, and not after a success (kInvalidArgument).
[[nodiscard]] Status CheckNext(const Attempt& ended, const AttemptEnd& end);
/// The events written with an end, checked before anything is written: an event without run_id
/// belongs to the attempt's run, one without a time happened at `ended_at`. kInvalidArgument for
/// an event of another run or without a type.
[[nodiscard]] Result<std::vector<Event>> EndEvents(const Attempt& ended, const AttemptEnd& end,
                                                   Micros ended_at);

/// Argument checks shared by the backends (kInvalidArgument with what to fix).
[[nodiscard]] Status CheckClaim(const std::string& owner, Micros lease, int max = 1);
/// `doing` names the call in the message: "renewing leases", "taking over an attempt".
[[nodiscard]] Status CheckOwnerLease(const std::string& owner, Micros lease,
                                     std::string_view doing);
/// A ListRuns filter's limit (1..kMaxRunsPerPage); returns where its cursor points after (an empty
/// id for the first page). kInvalidArgument for a cursor of the other sort.
[[nodiscard]] Result<PageAfter> CheckPage(const RunFilter& filter);
[[nodiscard]] Status CheckLease(const std::string& name, const std::string& owner, Micros ttl);
[[nodiscard]] Status CheckPurgeLimit(int limit);
/// The take-over rules on the attempt as locked in the caller's transaction: it must be
/// LAUNCHING or RUNNING (kFailedPrecondition) and, when `expected_owner` is set, still claimed
/// by it (kAborted).
[[nodiscard]] Status CheckTakeOver(const Attempt& a, const std::string& expected_owner);

/// The SQL condition of a Visibility: "" when it shows everything, else " AND (...)" with one
/// placeholder per group and one for the owner, their values appended to `params` (numbered on
/// from its size: $N for PostgreSQL when `dollar`, else ?N). Rows without a group are matched
/// only through their owner; an empty owner matches nothing.
std::string VisibilityCondition(const Visibility& visible, std::vector<std::string>& params,
                                bool dollar);

/// The ListRuns statement for a filter: "SELECT <columns>, <attempt count>, <failure class of the
/// latest failed attempt> FROM runs WHERE ..." (the two extra columns follow `columns`) with one
/// bound parameter per filter that is set (status, each of statuses, definition, owner, the
/// visibility, the creation range as an id range, the cursor) and the page size last; `dollar`
/// numbers them $1.. (PostgreSQL), else ?1.. (SQLite). `after` is CheckPage's. Sorted by cost the
/// order is (cost_nanos, id) descending: a keyset over the runs_cost index, so pages neither
/// repeat nor skip a run whose cost is unchanged (only an attempt ending between two pages moves
/// its run, as a newer run appears on no later newest-first page).
struct RunsQuery {
  std::string sql;
  std::vector<std::string> params;  // in placeholder order, then the limit (filter.limit + 1)
  int64_t limit = 0;
};
RunsQuery ListRunsQuery(const RunFilter& filter, const PageAfter& after, const char* columns,
                        bool dollar);

/// Usage downsampling: 1 s buckets for an attempt's first 2 minutes, 5 s up to 10 minutes, 1 min
/// up to 2 hours, 5 min after (a day-long attempt keeps about 560 buckets per component).
Micros UsageBucketWidth(Micros age);
/// The bucket a sample goes into: its width by the attempt's age, aligned to the attempt's start
/// (so buckets of different widths never share a start), or to the epoch without a start time.
struct UsageBucket {
  Micros at = 0;
  Micros width = 0;
};
UsageBucket UsageBucketOf(const UsageSample& sample);
/// kInvalidArgument for a sample AppendUsage refuses.
[[nodiscard]] Status CheckUsage(const std::vector<UsageSample>& samples);

}  // namespace tug::store
