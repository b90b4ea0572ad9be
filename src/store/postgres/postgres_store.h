#pragma once
/// PostgresStore: the production Store, on a PostgreSQL server shared by every replica.
///
/// Lifecycle: Open() parses the URL, connects once (kUnavailable if the server cannot be
/// reached), applies the versioned migrations under an advisory lock (two replicas starting at
/// once are safe) and keeps that connection in a pool of `pool_size`, the rest opened on demand.
/// A connection that breaks is dropped and reopened on next use; while the server is down calls
/// fail fast with kUnavailable (see pg::Pool: after a failed connect, no new connect for 100 ms
/// doubling to 5 s, timed by the injected `clock` — a test with a ManualClock advances it), and
/// once it is back the store recovers by itself. Destroy the store after every thread using it
/// has stopped.
///
/// Threading: safe from any number of threads, from any number of processes on one database.
/// Each call borrows a pooled connection (waiting while all are busy). Writes are READ COMMITTED
/// transactions with row locks; claims use FOR NO KEY UPDATE SKIP LOCKED, so concurrent replicas
/// never block on or claim one attempt twice. A transaction that hits a serialization failure or
/// a deadlock, or loses its connection before COMMIT was sent, is retried (up to 5 times); one
/// whose COMMIT went unanswered returns kUnavailable (it may or may not have committed; every
/// write here is safe to repeat or fails cleanly on repetition). Statements are prepared once per
/// connection and values always bound; dependent statements go out together in one round trip.
///
/// Errors: as documented on Store; Open returns kInvalidArgument for bad options or an unreadable
/// URL, kFailedPrecondition for a database migrated by a newer binary, kUnavailable when the
/// server cannot be reached. No message or detail contains the URL's password.
#include <memory>
#include <string>
#include <vector>

#include "store/function_ref.h"
#include "store/store.h"

namespace tug::store {
namespace pg {
class Pool;
class Tx;
}  // namespace pg

struct PostgresOptions {
  /// postgresql://user:password@host:5432/database?sslmode=... or anything else PQconnectdb
  /// accepts (key=value pairs included).
  std::string url;
  /// Connections at most (1..1000), opened lazily.
  int pool_size = 8;
  int connect_timeout_seconds = 5;
  /// Set on every session; a statement running longer is cancelled (kUnavailable). 0: no limit.
  int statement_timeout_ms = 30000;
};

class PostgresStore final : public Store {
 public:
  [[nodiscard]] static Result<std::unique_ptr<PostgresStore>> Open(const PostgresOptions& opts,
                                                                   const Clock& clock);
  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  Result<Definition> PutDefinition(const Definition& def, Micros now) override;
  Result<Definition> GetDefinition(const std::string& name) override;
  using Store::ListDefinitions;
  Result<std::vector<Definition>> ListDefinitions(const Visibility& visible) override;
  Status DeleteDefinition(const std::string& name, Micros now) override;

  std::vector<Status> CreateRuns(const std::vector<NewRun>& runs) override;
  Result<Run> GetRun(const std::string& id) override;
  Result<RunPage> ListRuns(const RunFilter& filter) override;
  Result<Attempt> GetAttempt(const std::string& attempt_id) override;

  Result<std::optional<Attempt>> ClaimAttempt(const std::string& owner, Micros now,
                                              Micros lease) override;
  Result<std::vector<Attempt>> ClaimAttempts(const std::string& owner, Micros now, Micros lease,
                                             int max) override;
  Result<int> RenewLeases(const std::string& owner, Micros now, Micros lease) override;
  Status TakeOver(const std::string& attempt_id, const std::string& owner, Micros now, Micros lease,
                  const std::string& expected_owner) override;
  Status MarkLaunched(const std::string& attempt_id, const std::string& owner,
                      const std::string& engine_ref, Micros now) override;
  Status MarkRunning(const std::string& attempt_id, Micros started_at) override;
  Status EndAttempt(const std::string& attempt_id, const AttemptEnd& end) override;
  using Store::RequestStop;
  Result<bool> RequestStop(const std::string& run_id, Micros now,
                           const std::string& requested_by) override;
  Result<std::vector<Attempt>> ListActiveAttempts() override;
  Result<std::optional<Micros>> NextDueAt() override;
  Result<std::vector<HistoryRow>> ListSuccessHistory(const std::string& definition,
                                                     const std::string& signature, Micros since,
                                                     int limit) override;
  Result<SpotOutcomes> CountSpotOutcomes(Micros since) override;

  Result<bool> AcquireLease(const std::string& name, const std::string& owner, Micros now,
                            Micros ttl) override;
  Status ReleaseLease(const std::string& name, const std::string& owner) override;
  Result<std::vector<std::string>> PurgeRuns(Micros ended_before, int limit) override;
  Result<int> PurgeIdempotencyKeys(Micros now, int limit) override;
  Result<std::optional<IdempotencyRecord>> FindIdempotencyKey(const std::string& owner,
                                                              const std::string& key,
                                                              Micros now) override;

  Status AppendEvent(const Event& event) override;
  Result<std::vector<Event>> ListEvents(const std::string& run_id, int64_t after_seq,
                                        int limit) override;
  Result<std::vector<Change>> ListChanges(const std::string& run_id, int64_t after_seq,
                                          int limit) override;
  Result<int64_t> LatestEventSeq() override;

  Status AppendUsage(const std::vector<UsageSample>& samples) override;
  Result<std::vector<UsagePoint>> ListUsage(const std::string& run_id) override;

  Status CreateToken(const ApiToken& token) override;
  Result<ApiToken> GetTokenByHash(const std::string& hash) override;
  Result<ApiToken> GetToken(const std::string& id) override;
  Result<std::vector<ApiToken>> ListTokens(const std::string& user) override;
  Result<ApiToken> RevokeToken(const std::string& id, Micros now) override;
  Status TouchToken(const std::string& id, Micros at) override;

  Result<std::vector<StatusCount>> CountRunsByStatus() override;
  Result<int64_t> QueueDepth(Micros now) override;

  Result<std::vector<QueueEntry>> ListQueueEntries(Micros now) override;
  Result<std::vector<QueueEntry>> ListQueueEntriesOfRuns(
      const std::vector<std::string>& run_ids) override;
  Result<std::vector<Attempt>> ClaimQueuedAttempts(const std::vector<std::string>& ids,
                                                   const std::string& owner, Micros now,
                                                   Micros lease,
                                                   const std::string& lease_name) override;
  Result<std::vector<Attempt>> ClaimExpiredAttempts(const std::string& owner, Micros now,
                                                    Micros lease, int max) override;
  Status SetQueueReasons(const std::vector<std::pair<std::string, std::string>>& reasons) override;
  Result<std::vector<QueueCount>> CountRunsByQueue() override;

 private:
  using Body = FunctionRef<Status(pg::Tx&)>;

  PostgresStore(const Clock& clock, std::unique_ptr<pg::Pool> pool);

  /// Runs `body` in a READ COMMITTED transaction (BEGIN goes out with its first statement,
  /// COMMIT with its last queued ones); commits when it returns OK, rolls back otherwise.
  /// Retried as described above; exceptions become kInternal.
  [[nodiscard]] Status Write(Body body);
  /// Runs `body` without BEGIN: each statement is its own transaction (a single statement, or a
  /// CTE writing several tables, is atomic). Retried only on serialization failures/deadlocks.
  [[nodiscard]] Status Once(Body body);
  /// Like Once for reads: also retried once on a connection lost on the way.
  [[nodiscard]] Status Read(Body body);
  [[nodiscard]] Status InTx(Body body, int kind);

  const Clock& clock_;
  std::unique_ptr<pg::Pool> pool_;
};

}  // namespace tug::store
