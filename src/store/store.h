#pragma once
/// The Store is the truth: every run, attempt, outcome and timeline event lives here, and
/// nothing the control loops know is kept only in memory.
///
/// Threading: implementations are safe to call from any thread concurrently.
/// Errors: kNotFound (unknown name/id), kAlreadyExists, kFailedPrecondition (illegal state
/// transition), kAborted (lost a race: lease taken, row changed), kInvalidArgument (bad cursor),
/// kUnavailable (database down/busy past the timeout), kInternal.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/model.h"

namespace tug::store {

/// What a listing may show a caller (src/auth's ListScope): everything, or the rows whose group
/// is one of `groups` plus those `owner` owns (an empty owner owns nothing). Filtered in SQL.
struct Visibility {
  bool all = true;
  std::vector<std::string> groups;
  std::string owner;
};

struct RunFilter {
  std::optional<RunStatus> status;
  /// Any of these statuses (empty: all); applies together with `status`.
  std::vector<RunStatus> statuses;
  std::string definition;  // empty: all
  std::string owner;       // empty: all
  std::string parent;      // the parent run's id (lineage); empty: all
  /// Creation time range [created_after, created_before), by the id's millisecond timestamp
  /// (ids are time-ordered); 0: unbounded.
  Micros created_after = 0;
  Micros created_before = 0;
  /// The order: kNewest (id descending), or kCost (Run::cost_usd descending, then id descending:
  /// the most expensive first; runs without a stored cost, active ones included, come last).
  enum class Sort { kNewest, kCost };
  Sort sort = Sort::kNewest;
  /// Opaque cursor from a previous page's next_cursor (of the same sort); empty: first page.
  std::string cursor;
  int limit = 50;  // 1..500
  Visibility visible;
};

struct RunPage {
  std::vector<Run> runs;    // in the filter's order; attempts not filled
  std::string next_cursor;  // empty when there is no further page
};

/// What an engine reported when an attempt ended (or a reconcile concluded).
struct AttemptEnd {
  AttemptStatus status = AttemptStatus::kFailed;  // terminal
  Outcome outcome;
  Micros ended_at = 0;
  int64_t peak_memory_bytes = 0;
  int64_t cpu_micros = 0;
  /// The attempt's diagnosis as a JSON object (see src/diagnose); empty when none.
  std::string diagnosis;
  /// The failure class acted on (the diagnosis class, "lost", ...); empty on success.
  std::string failure_class;
  /// The planner's decision as a JSON object (see src/adapt); empty when none was made.
  std::string decision;
  /// The attempt's components (Attempt::components) and Spark application id, when known.
  std::string components;
  std::string app_id;
  /// What the attempt cost (Attempt::cost_usd, cost_basis); unset: not priced. The store adds it
  /// to the run's cost_usd, and to retries_cost_usd when the attempt FAILED or was LOST.
  std::optional<double> cost_usd;
  std::string cost_basis;
  /// A planned retry: created QUEUED (due at next->due_at) in the same transaction, and the
  /// run becomes RETRYING instead of ending. Ignored (the run ends) if a stop was requested.
  std::optional<Attempt> next;
  /// Timeline events written in the same transaction (e.g. the decision sentence), after the
  /// "ended" event; an empty run_id means the attempt's run and at = 0 means the end time.
  std::vector<Event> events;
};

/// A successful attempt of an earlier run (right-sizing input).
struct HistoryRow {
  std::string run_id;
  Micros ended_at = 0;
  int64_t peak_memory_bytes = 0;
  Resources resources;
};

/// Attempts that ran on spot capacity and ended in the window, and how many of them were lost
/// to node loss (the spot "climate").
struct SpotOutcomes {
  int64_t spot_attempts = 0;
  int64_t node_losses = 0;
};

/// One usage reading of an attempt's component, as the engine sampled it.
struct UsageSample {
  std::string run_id;
  std::string attempt_id;
  Micros at = 0;
  Micros started_at = 0;  // the attempt's start: older samples are kept coarser
  UsageReading reading;
};

/// A stored usage bucket: the readings of one component in [at, at + width).
struct UsagePoint {
  std::string attempt_id;
  std::string component;
  Micros at = 0;
  Micros width = 0;
  int64_t memory_bytes = 0;  // the highest reading in the bucket
  int64_t cpu_millis = 0;    // the mean of the bucket's readings
  int64_t samples = 0;
  int64_t memory_limit_bytes = 0;  // the latest reading's
  int64_t cpu_limit_millis = 0;
  bool operator==(const UsagePoint&) const = default;
};

/// An idempotency key claimed with a new run (issue 26): unique per (run owner, key) until it
/// expires; the run's creation fails with kAborted while another live run holds it.
struct IdempotencyKey {
  std::string key;
  std::string request_hash;  // the canonical hash of the request that created the run
  Micros expires_at = 0;     // after this, the key may be taken again
};

/// A stored, unexpired idempotency key and the run it created.
struct IdempotencyRecord {
  std::string owner;
  std::string key;
  std::string run_id;
  std::string request_hash;
  Micros created_at = 0;
  Micros expires_at = 0;
  bool operator==(const IdempotencyRecord&) const = default;
};

/// The detail of the kAborted error CreateRuns gives a run whose idempotency key is held.
inline constexpr std::string_view kIdempotencyKeyTakenDetail = "idempotency_key_taken";
inline bool IsIdempotencyKeyTaken(const Error& e) {
  return e.code() == Code::kAborted && e.detail() == kIdempotencyKeyTakenDetail;
}

struct NewRun {
  Run run;
  Attempt first;
  /// Claimed in the run's own transaction: held by a live run, the run is not created (kAborted).
  std::optional<IdempotencyKey> idempotency;
};

/// An API bearer token (src/auth): only the SHA-256 of its text is kept.
struct ApiToken {
  std::string id;    // NewId; names the token in lists and revocations
  std::string name;  // what it is for: "laptop", "ci"
  std::string user;
  std::vector<std::string> groups;
  std::string role;  // "viewer" | "user" | "admin" (auth::Role; the store does not read it)
  std::string hash;  // lower-case hex SHA-256 of the token
  std::string created_by;
  Micros created_at = 0;
  Micros expires_at = 0;  // 0: never
  Micros revoked_at = 0;  // 0: live
  Micros last_used_at = 0;
  bool operator==(const ApiToken&) const = default;
};

/// An event with what a watcher of live changes needs of its run: who may see it (owner, group)
/// and the run's status when the change was read (not when the event was written).
struct Change {
  Event event;
  std::string owner;
  std::string group;
  RunStatus run_status = RunStatus::kQueued;
  bool operator==(const Change&) const = default;
};

struct StatusCount {
  RunStatus status;
  int64_t count;
};

/// An attempt the queue dispatcher weighs (src/control, src/queue), with its run's queue fields.
struct QueueEntry {
  std::string attempt_id;
  std::string run_id;
  AttemptStatus status = AttemptStatus::kQueued;
  Resources resources;  // the attempt's (memory, cpu, Spark sizes)
  std::string queue;
  int priority = 0;
  std::string owner;
  Micros run_created_at = 0;
  std::string queue_reason;  // as last recorded
  bool operator==(const QueueEntry&) const = default;
};

/// Runs of one queue by state, for the queue listing.
struct QueueCount {
  std::string queue;
  int64_t queued = 0;   // QUEUED or RETRYING
  int64_t running = 0;  // RUNNING
};

class Store {
 public:
  virtual ~Store() = default;

  // --- definitions (versioned; a PUT of a changed spec makes version N+1) ---

  /// Stores `def` as the newest version of its name. An unchanged spec (with the same owner and
  /// group) keeps the current version (idempotent apply). Returns the stored definition with
  /// version and created_at set.
  [[nodiscard]] virtual Result<Definition> PutDefinition(const Definition& def, Micros now) = 0;
  /// The newest live version; kNotFound if never created or deleted.
  [[nodiscard]] virtual Result<Definition> GetDefinition(const std::string& name) = 0;
  /// Newest live versions by name, only those `visible` allows.
  [[nodiscard]] virtual Result<std::vector<Definition>> ListDefinitions(
      const Visibility& visible) = 0;
  [[nodiscard]] Result<std::vector<Definition>> ListDefinitions() {
    return ListDefinitions(Visibility{});
  }
  /// Hides the definition (runs keep their snapshot); kNotFound if absent.
  [[nodiscard]] virtual Status DeleteDefinition(const std::string& name, Micros now) = 0;

  // --- runs and attempts ---

  /// Creates runs, each with its first attempt (QUEUED, due at first.due_at) and a "submitted"
  /// event, in as few transactions as the backend allows (a batch shares one commit); each run is
  /// all-or-nothing on its own. The store records CommandSignature(run.spec) with each run (for
  /// ListSuccessHistory). Returns one status per run, in order: kAlreadyExists if an id is
  /// taken, kInvalidArgument for a malformed run.
  [[nodiscard]] virtual std::vector<Status> CreateRuns(const std::vector<NewRun>& runs) = 0;
  /// An idempotency key (NewRun::idempotency) held by a live run fails that run with kAborted
  /// and writes nothing of it; an expired one is taken over.
  /// One run: CreateRuns of one.
  [[nodiscard]] Status CreateRun(const Run& run, const Attempt& first) {
    return CreateRuns({NewRun{run, first, std::nullopt}}).front();
  }
  /// The live (expires_at > now) idempotency key `key` of `owner`; nullopt when there is none.
  [[nodiscard]] virtual Result<std::optional<IdempotencyRecord>> FindIdempotencyKey(
      const std::string& owner, const std::string& key, Micros now) = 0;
  /// The run with its attempts (oldest first); kNotFound.
  [[nodiscard]] virtual Result<Run> GetRun(const std::string& id) = 0;
  [[nodiscard]] virtual Result<RunPage> ListRuns(const RunFilter& filter) = 0;
  [[nodiscard]] virtual Result<Attempt> GetAttempt(const std::string& attempt_id) = 0;

  /// Claims the oldest due attempt for `owner` with a lease until now + lease: a QUEUED attempt
  /// with due_at <= now (moved to LAUNCHING), or a LAUNCHING attempt whose lease expired (a dead
  /// server's claim, taken over). Returns nullopt when nothing is due.
  [[nodiscard]] virtual Result<std::optional<Attempt>> ClaimAttempt(const std::string& owner,
                                                                    Micros now, Micros lease) = 0;
  /// Claims up to `max` (1..1000) due attempts in one transaction, oldest first — what that many
  /// ClaimAttempt calls would claim, with the same events — for a dispatcher that launches in
  /// batches. Empty when nothing is due; kInvalidArgument for max outside 1..1000.
  [[nodiscard]] virtual Result<std::vector<Attempt>> ClaimAttempts(const std::string& owner,
                                                                   Micros now, Micros lease,
                                                                   int max) = 0;
  /// Takes over a LAUNCHING or RUNNING attempt for `owner` (lease until now + lease): the
  /// reconcile of a server adopting what a dead server left. `expected_owner` makes it a
  /// compare-and-swap: when not empty, the attempt must still be claimed by exactly that owner
  /// (kAborted otherwise, nothing written), so two replicas racing for one orphan cannot both win.
  /// Empty: whoever held it. Writes an "adopted" event naming the previous owner.
  /// kFailedPrecondition if the attempt is not active, kNotFound.
  [[nodiscard]] virtual Status TakeOver(const std::string& attempt_id, const std::string& owner,
                                        Micros now, Micros lease,
                                        const std::string& expected_owner) = 0;
  /// Extends every lease `owner` holds on non-terminal attempts to now + lease; returns how many.
  [[nodiscard]] virtual Result<int> RenewLeases(const std::string& owner, Micros now,
                                                Micros lease) = 0;
  /// Records a launch: sets engine_ref and launched_at (attempt stays LAUNCHING until started).
  /// kAborted if `owner` no longer holds the lease.
  [[nodiscard]] virtual Status MarkLaunched(const std::string& attempt_id, const std::string& owner,
                                            const std::string& engine_ref, Micros now) = 0;
  /// LAUNCHING -> RUNNING; the run becomes RUNNING too (from QUEUED or RETRYING; started_at keeps
  /// the first start). Idempotent when already RUNNING.
  [[nodiscard]] virtual Status MarkRunning(const std::string& attempt_id, Micros started_at) = 0;
  /// Ends the attempt and either its run or (end.next set) plans the next attempt, in one
  /// transaction, with an "ended" event and end.events. Stores end.failure_class and
  /// end.decision on the ended attempt. Of `next` only the planned fields are stored (number,
  /// resources, placement, engine, created_at, due_at); it starts QUEUED. When a stop was
  /// requested the run ends instead and a "retry_dropped" event follows end.events.
  /// kFailedPrecondition if the attempt already ended (the first end wins; nothing is written);
  /// kInvalidArgument for a `next` that is not attempt number + 1 of the same run, not QUEUED,
  /// has a taken id or follows a success, or an event of another run or without type.
  [[nodiscard]] virtual Status EndAttempt(const std::string& attempt_id, const AttemptEnd& end) = 0;
  /// Sets stop_requested. A QUEUED run, or a RETRYING one whose next attempt is still QUEUED, is
  /// stopped at once (returns true); a running or launching one is left for the engine (returns
  /// false). kFailedPrecondition if the run already ended.
  /// `requested_by` names who asked in the "stop_requested" event ("" : nobody named).
  [[nodiscard]] virtual Result<bool> RequestStop(const std::string& run_id, Micros now,
                                                 const std::string& requested_by) = 0;
  [[nodiscard]] Result<bool> RequestStop(const std::string& run_id, Micros now) {
    return RequestStop(run_id, now, "");
  }
  /// Attempts in LAUNCHING or RUNNING (for the monitor and reconcile after restart).
  [[nodiscard]] virtual Result<std::vector<Attempt>> ListActiveAttempts() = 0;
  /// When the next QUEUED attempt becomes due (for the dispatcher's sleep); nullopt if none.
  [[nodiscard]] virtual Result<std::optional<Micros>> NextDueAt() = 0;

  /// Newest successful attempts (peak memory > 0) of runs of `definition` whose command
  /// signature (CommandSignature) is `signature`, ended at or after `since`; at most `limit`
  /// (clamped to 1..500). Runs created before signatures were stored never match.
  [[nodiscard]] virtual Result<std::vector<HistoryRow>> ListSuccessHistory(
      const std::string& definition, const std::string& signature, Micros since, int limit) = 0;
  /// Attempts that ended at or after `since` with spot placement (capacity or
  /// executor_capacity), and how many of them have failure_class "node_loss". Attempts stopped
  /// before they were claimed never ran and are not counted.
  [[nodiscard]] virtual Result<SpotOutcomes> CountSpotOutcomes(Micros since) = 0;

  // --- singleton work and retention ---

  /// Acquires or renews the named lease (a singleton loop: reconcile, retention) for `owner`
  /// until now + ttl. True when it was free, expired or already `owner`'s; false when another
  /// owner holds it unexpired. kInvalidArgument for an empty name/owner or ttl <= 0.
  [[nodiscard]] virtual Result<bool> AcquireLease(const std::string& name, const std::string& owner,
                                                  Micros now, Micros ttl) = 0;
  /// Gives the lease up if `owner` holds it (a clean shutdown), so another replica takes the
  /// loop over at once; a no-op otherwise.
  [[nodiscard]] virtual Status ReleaseLease(const std::string& name, const std::string& owner) = 0;
  /// Deletes up to `limit` (1..10000) ended runs with ended_at < `ended_before`, oldest first,
  /// with their attempts, events and usage, in one transaction; returns their ids (the caller
  /// removes their logs). Active runs are never deleted.
  [[nodiscard]] virtual Result<std::vector<std::string>> PurgeRuns(Micros ended_before,
                                                                   int limit) = 0;
  /// Deletes up to `limit` (1..10000) idempotency keys that expired at or before `now`; returns
  /// how many. (PurgeRuns deletes the keys of the runs it deletes.)
  [[nodiscard]] virtual Result<int> PurgeIdempotencyKeys(Micros now, int limit) = 0;

  // --- timeline ---

  [[nodiscard]] virtual Status AppendEvent(const Event& event) = 0;
  /// Events of a run with seq > after_seq, oldest first, at most `limit`.
  [[nodiscard]] virtual Result<std::vector<Event>> ListEvents(const std::string& run_id,
                                                              int64_t after_seq, int limit) = 0;

  /// Live changes (server-sent events): events with seq > after_seq, oldest first, at most
  /// `limit` (1..kMaxEventsPerPage), of run `run_id` ("": of every run), each with its run's
  /// owner, group and status. Events of purged runs are gone. kInvalidArgument for a limit out
  /// of range.
  [[nodiscard]] virtual Result<std::vector<Change>> ListChanges(const std::string& run_id,
                                                                int64_t after_seq, int limit) = 0;
  /// The highest event seq written so far (0 when none).
  [[nodiscard]] virtual Result<int64_t> LatestEventSeq() = 0;

  // --- usage ---

  /// Adds readings, downsampled: each goes into its component's bucket of UsageBucketWidth(at -
  /// started_at) (store/rules.h), keeping the bucket's highest memory and mean CPU; a reading for
  /// a bucket that exists is merged into it. kInvalidArgument (nothing written) for a sample
  /// without run, attempt, component or time, or with negative values.
  [[nodiscard]] virtual Status AppendUsage(const std::vector<UsageSample>& samples) = 0;
  /// The run's usage buckets, ordered by attempt id, component and time (empty when none).
  [[nodiscard]] virtual Result<std::vector<UsagePoint>> ListUsage(const std::string& run_id) = 0;

  // --- API tokens ---

  /// kAlreadyExists when the id or the hash is taken; kInvalidArgument without id, user or
  /// hash.
  [[nodiscard]] virtual Status CreateToken(const ApiToken& token) = 0;
  /// The token with this hash, revoked or expired ones included (the caller decides); kNotFound.
  [[nodiscard]] virtual Result<ApiToken> GetTokenByHash(const std::string& hash) = 0;
  [[nodiscard]] virtual Result<ApiToken> GetToken(const std::string& id) = 0;
  /// Tokens of `user` ("" : everyone's), oldest first, revoked ones included.
  [[nodiscard]] virtual Result<std::vector<ApiToken>> ListTokens(const std::string& user) = 0;
  /// Sets revoked_at (a second revocation keeps the first time) and returns the token;
  /// kNotFound.
  [[nodiscard]] virtual Result<ApiToken> RevokeToken(const std::string& id, Micros now) = 0;
  /// Records a use: last_used_at becomes `at` unless it is later already. kNotFound.
  [[nodiscard]] virtual Status TouchToken(const std::string& id, Micros at) = 0;

  // --- metrics ---

  [[nodiscard]] virtual Result<std::vector<StatusCount>> CountRunsByStatus() = 0;
  /// QUEUED attempts that are due (the queue depth).
  [[nodiscard]] virtual Result<int64_t> QueueDepth(Micros now) = 0;

  // --- team queues (the dispatcher when queues are configured; see src/queue) ---

  /// QUEUED attempts due at `now` and LAUNCHING/RUNNING attempts, with their runs' queue
  /// fields: what the dispatcher rebuilds its scheduler from (the store is the truth).
  [[nodiscard]] virtual Result<std::vector<QueueEntry>> ListQueueEntries(Micros now) = 0;
  /// Claims exactly the attempts `ids` that are still QUEUED and due at `now` (a compare-and-
  /// swap: the others are skipped — stopped, or claimed meanwhile), for `owner` with a lease
  /// until now + lease, with the "claimed" events ClaimAttempts writes; in one transaction and
  /// only while `owner` holds the named lease `lease_name` unexpired (kAborted, nothing
  /// claimed, otherwise), so two admitters can never both claim. Returns the claimed attempts.
  [[nodiscard]] virtual Result<std::vector<Attempt>> ClaimQueuedAttempts(
      const std::vector<std::string>& ids, const std::string& owner, Micros now, Micros lease,
      const std::string& lease_name) = 0;
  /// ClaimAttempts restricted to LAUNCHING attempts whose lease expired (a dead server's
  /// claims, already admitted): up to `max` (1..1000), oldest first.
  [[nodiscard]] virtual Result<std::vector<Attempt>> ClaimExpiredAttempts(const std::string& owner,
                                                                          Micros now, Micros lease,
                                                                          int max) = 0;
  /// Sets runs' queue_reason (run id, reason); unknown runs are skipped.
  [[nodiscard]] virtual Status SetQueueReasons(
      const std::vector<std::pair<std::string, std::string>>& reasons) = 0;
  /// Runs waiting (QUEUED, RETRYING) and RUNNING per queue; queues without such runs are left out.
  [[nodiscard]] virtual Result<std::vector<QueueCount>> CountRunsByQueue() = 0;
};

}  // namespace tug::store
