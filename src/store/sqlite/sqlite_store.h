#pragma once
/// SqliteStore: the embedded Store, one database file in WAL mode.
///
/// Lifecycle: Open() creates the file's directory if missing, opens one writer connection and a
/// pool of reader connections, applies PRAGMAs (WAL, synchronous, busy timeout, foreign keys) and
/// runs the versioned migrations. The store closes its connections when destroyed; destroy it after
/// every thread using it has stopped.
///
/// Threading: safe from any number of threads. Writes are serialised on one connection behind a
/// mutex and run as BEGIN IMMEDIATE transactions (other processes on the same file wait up to
/// busy_timeout_ms, then get kUnavailable). Reads (GetRun, ListRuns, GetAttempt, ListEvents,
/// List*, Count*...) take a connection from the reader pool and run in parallel with each other
/// and with the writer, each seeing one consistent snapshot.
///
/// Errors: as documented on Store; Open returns kInvalidArgument for bad options,
/// kFailedPrecondition for a database written by a newer binary, kUnavailable/kInternal when the
/// file cannot be opened.
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite/connection.h"
#include "store/store.h"

namespace tug::store {

struct SqliteOptions {
  /// Database file; its directory is created if missing. ":memory:" gives a private in-memory
  /// database (no WAL, no reader pool: reads share the writer connection), for tests.
  std::string path;
  /// synchronous=FULL (fsync on every commit) instead of NORMAL (fsync at checkpoints; a power
  /// loss may drop the last commits but never corrupts the file).
  bool synchronous_full = false;
  int busy_timeout_ms = 5000;
  /// Reader connections; 0 sends reads through the writer connection.
  int read_connections = 4;
};

class SqliteStore final : public Store {
 public:
  [[nodiscard]] static Result<std::unique_ptr<SqliteStore>> Open(const SqliteOptions& opts,
                                                                 const Clock& clock);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

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

  /// Write bodies run and the transactions that committed them (their ratio is the mean group
  /// commit batch), since Open.
  struct WriteStats {
    int64_t writes = 0;
    int64_t transactions = 0;
    int64_t wal_frames = 0;  // pages appended to the WAL (0 for ":memory:")
  };
  WriteStats write_stats() const;

 private:
  using Body = sqlite::FunctionRef<Status(sqlite::Connection&)>;

  SqliteStore(const Clock& clock, std::unique_ptr<sqlite::Connection> writer,
              std::vector<std::unique_ptr<sqlite::Connection>> readers,
              std::unique_ptr<sqlite::Connection> checkpointer);

  // WAL checkpoints run on their own connection and thread, so no commit (and no request
  // waiting on one) pays for copying the WAL back into the database file.
  void CheckpointLoop();
  static int OnWalCommit(void* self, sqlite3* db, const char* name, int pages);
  std::unique_ptr<sqlite::Connection> checkpointer_;  // used by checkpoint_thread_ only
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_due_ = false;       // guarded by checkpoint_mu_
  bool checkpoint_stopping_ = false;  // guarded by checkpoint_mu_
  std::thread checkpoint_thread_;

  /// Runs `body` in a BEGIN IMMEDIATE transaction on the writer connection; commits when it
  /// returns OK, rolls back otherwise. Exceptions are caught and become kInternal. Concurrent
  /// calls are group-committed: one transaction, a savepoint per body (see Write in the .cpp).
  [[nodiscard]] Status Write(Body body);
  static constexpr int kWaiting = 0;  // queued
  static constexpr int kLead = 1;     // first in line: take the lead of the next batch
  static constexpr int kDone = 2;     // committed (or failed): `result` is final
  struct PendingWrite {
    Body* body;
    Status result;
    std::atomic<int> state;
    // In write_queue_ (guarded by queue_mu_). Once a leader took it into a batch, only that
    // leader's kDone may let it return: that leader stores to `state` after its batch.
    bool queued = true;
  };
  static constexpr size_t kMaxWriteBatch = 256;
  void RunBatch(const std::vector<PendingWrite*>& batch);
  std::mutex queue_mu_;
  std::vector<PendingWrite*> write_queue_;  // guarded by queue_mu_
  bool batch_in_progress_ = false;          // guarded by queue_mu_
  std::condition_variable gather_cv_;       // a gathering leader waits for company
  bool gathering_ = false;                  // guarded by queue_mu_
  size_t last_batch_size_ = 0;              // guarded by queue_mu_
  static constexpr int64_t kGatherMicros = 100;
  std::atomic<int64_t> stat_writes_{0};
  std::atomic<int64_t> stat_transactions_{0};
  std::atomic<int64_t> stat_wal_frames_{0};
  int wal_pages_ = 0;  // the WAL's size at the last commit; writer thread only
  /// Runs `body` on a reader connection (the writer when there are none). With `snapshot`, inside
  /// one read transaction so several statements see the same state.
  [[nodiscard]] Status Read(Body body, bool snapshot = false);

  const Clock& clock_;
  [[nodiscard]] Status InsertRun(sqlite::Connection& db, const Run& run, const Attempt& first);

  std::mutex write_mu_;
  std::unique_ptr<sqlite::Connection> writer_;  // guarded by write_mu_

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<sqlite::Connection>> readers_;  // owned; fixed after Open
  std::vector<sqlite::Connection*> idle_readers_;             // guarded by pool_mu_
};

}  // namespace tug::store
