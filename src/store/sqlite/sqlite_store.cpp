// SqliteStore: opening, the transaction helpers, definitions, events and metrics. Runs and
// attempts are in sqlite_runs.cpp.
#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "core/thread_name.h"
#include "store/rules.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/rows.h"

namespace tug::store {

using sqlite::Connection;
using sqlite::Stmt;

namespace {

constexpr int kMaxReadConnections = 64;

Status ApplyPragmas(Connection& db, const SqliteOptions& opts, bool memory) {
  // PRAGMA values cannot be bound; both texts are constants chosen from a bool.
  RETURN_IF_ERROR(
      db.Exec(opts.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys=ON"));
  // Savepoint and statement journals (a group commit keeps one savepoint per write) stay in
  // memory instead of temporary files: they only ever hold one transaction's undo pages.
  RETURN_IF_ERROR(db.Exec("PRAGMA temp_store=MEMORY"));
  if (memory) return OkStatus();
  ASSIGN_OR_RETURN(Stmt wal, db.Prepare("PRAGMA journal_mode=WAL"));
  ASSIGN_OR_RETURN(bool row, wal.Step());
  std::string mode = row ? wal.Text(0) : std::string();
  if (mode != "wal") {
    return FailedPrecondition(fmt::format(
        "database '{}' cannot use WAL journaling (got '{}'); put it on a local filesystem (not NFS "
        "or a read-only mount)",
        opts.path, mode));
  }
  return OkStatus();
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteOptions& opts,
                                                       const Clock& clock) {
  if (opts.path.empty()) {
    return InvalidArgument("sqlite database path is empty; set it to a file such as data/tug.db");
  }
  if (opts.busy_timeout_ms < 0) {
    return InvalidArgument(fmt::format(
        "busy_timeout_ms {} is negative; use 0 or more milliseconds (5000 is a good default)",
        opts.busy_timeout_ms));
  }
  if (opts.read_connections < 0 || opts.read_connections > kMaxReadConnections) {
    return InvalidArgument(fmt::format("read_connections {} is out of range; use 0 to {}",
                                       opts.read_connections, kMaxReadConnections));
  }
  try {
    const bool memory = opts.path == ":memory:";
    if (!memory) {
      std::filesystem::path dir = std::filesystem::path(opts.path).parent_path();
      std::error_code ec;
      if (!dir.empty()) std::filesystem::create_directories(dir, ec);
      if (ec) {
        return ErrnoError(fmt::format("cannot create directory '{}' for the database; check "
                                      "its permissions or choose another path",
                                      dir.string()),
                          ec.value());
      }
    }
    ASSIGN_OR_RETURN(auto writer, Connection::Open(opts.path, Connection::Mode::kReadWrite,
                                                   opts.busy_timeout_ms));
    RETURN_IF_ERROR(ApplyPragmas(*writer, opts, memory));
    if (auto st = sqlite::Migrate(*writer, clock); !st.ok()) {
      return std::move(st).take_error().WithContext(
          fmt::format("migrating database '{}'", opts.path));
    }
    std::vector<std::unique_ptr<Connection>> readers;
    // An in-memory database is private to its connection, so it has no readers.
    const int n = memory ? 0 : opts.read_connections;
    for (int i = 0; i < n; ++i) {
      ASSIGN_OR_RETURN(auto reader, Connection::Open(opts.path, Connection::Mode::kReadOnly,
                                                     opts.busy_timeout_ms));
      readers.push_back(std::move(reader));
    }
    std::unique_ptr<Connection> checkpointer;
    if (!memory) {
      // The writer never checkpoints inline; the checkpoint thread does (see CheckpointLoop).
      RETURN_IF_ERROR(writer->Exec("PRAGMA wal_autocheckpoint=0"));
      ASSIGN_OR_RETURN(checkpointer, Connection::Open(opts.path, Connection::Mode::kReadWrite,
                                                      opts.busy_timeout_ms));
    }
    return std::unique_ptr<SqliteStore>(
        new SqliteStore(clock, std::move(writer), std::move(readers), std::move(checkpointer)));
  } catch (const std::exception& e) {
    return Internal(fmt::format("opening database '{}' failed unexpectedly", opts.path), e.what());
  }
}

SqliteStore::SqliteStore(const Clock& clock, std::unique_ptr<Connection> writer,
                         std::vector<std::unique_ptr<Connection>> readers,
                         std::unique_ptr<Connection> checkpointer)
    : checkpointer_(std::move(checkpointer)),
      clock_(clock),
      writer_(std::move(writer)),
      readers_(std::move(readers)) {
  for (auto& r : readers_) idle_readers_.push_back(r.get());
  if (checkpointer_) {
    sqlite3_wal_hook(writer_->handle(), &SqliteStore::OnWalCommit, this);
    checkpoint_thread_ = std::thread([this] {
      SetThreadName("tug-checkpoint");
      CheckpointLoop();
    });
  }
}

// Called by SQLite on the writer's thread after each commit, with the WAL's size in pages.
int SqliteStore::OnWalCommit(void* self, sqlite3*, const char*, int pages) {
  {
    auto* store = static_cast<SqliteStore*>(self);
    // The WAL restarts from frame 0 after a checkpoint, so a smaller size means a fresh file.
    const int added = pages >= store->wal_pages_ ? pages - store->wal_pages_ : pages;
    store->wal_pages_ = pages;
    store->stat_wal_frames_.fetch_add(added, std::memory_order_relaxed);
  }
  constexpr int kCheckpointPages = 1000;  // SQLite's own auto-checkpoint threshold
  if (pages >= kCheckpointPages) {
    auto* store = static_cast<SqliteStore*>(self);
    {
      std::lock_guard lock(store->checkpoint_mu_);
      store->checkpoint_due_ = true;
    }
    store->checkpoint_cv_.notify_one();
  }
  return SQLITE_OK;
}

void SqliteStore::CheckpointLoop() {
  while (true) {
    {
      std::unique_lock lock(checkpoint_mu_);
      // Also checkpoint now and then while idle, so the WAL does not sit large on disk.
      checkpoint_cv_.wait_for(lock, std::chrono::seconds(5),
                              [this] { return checkpoint_due_ || checkpoint_stopping_; });
      if (checkpoint_stopping_) return;
      checkpoint_due_ = false;
    }
    // PASSIVE: copies what it can without blocking readers or the writer.
    if (auto st = checkpointer_->Exec("PRAGMA wal_checkpoint(PASSIVE)"); !st.ok()) {
      continue;  // busy or transient; the next commit or tick tries again
    }
  }
}

// Readers close before the writer: the last connection to close checkpoints the WAL.
SqliteStore::~SqliteStore() {
  if (checkpoint_thread_.joinable()) {
    {
      std::lock_guard lock(checkpoint_mu_);
      checkpoint_stopping_ = true;
    }
    checkpoint_cv_.notify_one();
    checkpoint_thread_.join();
    sqlite3_wal_hook(writer_->handle(), nullptr, nullptr);
  }
  checkpointer_.reset();
  idle_readers_.clear();
  readers_.clear();
  writer_.reset();
}

namespace {

// Runs the body, turning exceptions (std::bad_alloc, a throwing callee) into kInternal so none
// escapes the store.
Status Guarded(sqlite::FunctionRef<Status(Connection&)> body, Connection& db) {
  try {
    return body(db);
  } catch (const std::exception& e) {
    return Internal("the store failed unexpectedly; retry, and report a bug if it persists",
                    e.what());
  } catch (...) {
    return Internal("the store failed unexpectedly; retry, and report a bug if it persists");
  }
}

// Ends a transaction after `st`: COMMIT on success, ROLLBACK otherwise (unless SQLite already
// rolled back by itself, which it does on some I/O and busy errors).
Status Finish(Connection& db, Status st) {
  if (st.ok()) {
    st = db.Run("COMMIT");
    if (st.ok()) return st;
  }
  if (!db.InAutocommit()) (void)db.Run("ROLLBACK");
  return st;
}

}  // namespace

// Group commit: concurrent writers queue their bodies; whoever finds no batch in progress
// becomes the leader, takes the whole queue and runs it as one transaction, each body inside its
// own savepoint (so a failing body rolls back alone), with one COMMIT for all. A lone writer
// pays nothing extra; under load one WAL append (and one fsync with synchronous=FULL) serves the
// whole batch. Every caller returns only after the commit that holds its body.
Status SqliteStore::Write(Body body) {
  PendingWrite me{&body, OkStatus(), {kWaiting}};
  std::unique_lock lock(queue_mu_);
  write_queue_.push_back(&me);
  if (gathering_ && write_queue_.size() >= last_batch_size_) gather_cv_.notify_one();
  while (true) {
    if (me.state.load(std::memory_order_acquire) == kDone) break;
    // Taken into another leader's batch (possibly after being handed the lead, which that
    // leader overtook): wait for its kDone. Leading or returning before it would let its late
    // store land in a stack frame that is gone (it wrote 2 into live data of a later call).
    if (batch_in_progress_ || !me.queued) {
      // Sleep without the queue lock until our batch committed (kDone) or we are first in line
      // for the next one (kLead); many writers wake at once, and none of them needs the lock
      // just to return.
      lock.unlock();
      me.state.wait(kWaiting, std::memory_order_acquire);
      int lead = kLead;
      if (!me.state.compare_exchange_strong(lead, kWaiting, std::memory_order_acq_rel)) break;
      lock.lock();
      continue;
    }
    batch_in_progress_ = true;
    // Under concurrency (the last batch had company) give the writers just woken by the last
    // commit a moment to queue up again, so the next commit carries them too.
    if (last_batch_size_ > 1 && write_queue_.size() < last_batch_size_) {
      gathering_ = true;
      gather_cv_.wait_for(lock, std::chrono::microseconds(kGatherMicros),
                          [&] { return write_queue_.size() >= last_batch_size_; });
      gathering_ = false;
    }
    std::vector<PendingWrite*> batch;
    const size_t n = std::min(write_queue_.size(), kMaxWriteBatch);
    batch.assign(write_queue_.begin(), write_queue_.begin() + static_cast<std::ptrdiff_t>(n));
    write_queue_.erase(write_queue_.begin(), write_queue_.begin() + static_cast<std::ptrdiff_t>(n));
    for (PendingWrite* w : batch) w->queued = false;
    last_batch_size_ = n;
    lock.unlock();
    RunBatch(batch);
    lock.lock();
    batch_in_progress_ = false;
    // Hand the lead to the first writer that queued meanwhile (before waking the batch, whose
    // writers may queue again at once).
    if (!write_queue_.empty()) {
      PendingWrite* next = write_queue_.front();
      next->state.store(kLead, std::memory_order_release);
      next->state.notify_one();
    }
    lock.unlock();
    for (PendingWrite* w : batch) {
      if (w == &me) continue;
      // After this store `w` may return and its stack frame go: touch only its state.
      std::atomic<int>& state = w->state;
      state.store(kDone, std::memory_order_release);
      state.notify_one();
    }
    return std::move(me.result);
  }
  return std::move(me.result);
}

SqliteStore::WriteStats SqliteStore::write_stats() const {
  return {stat_writes_.load(std::memory_order_relaxed),
          stat_transactions_.load(std::memory_order_relaxed),
          stat_wal_frames_.load(std::memory_order_relaxed)};
}

void SqliteStore::RunBatch(const std::vector<PendingWrite*>& batch) {
  std::lock_guard lock(write_mu_);
  stat_writes_.fetch_add(static_cast<int64_t>(batch.size()), std::memory_order_relaxed);
  stat_transactions_.fetch_add(1, std::memory_order_relaxed);
  Connection& db = *writer_;
  auto fail_all = [&](const Status& st) {
    for (PendingWrite* w : batch) w->result = st;
  };
  // IMMEDIATE takes the write lock up front: a deferred transaction that upgrades later can fail
  // with SQLITE_BUSY at once instead of waiting (SQLite's deadlock avoidance).
  if (Status st = db.Run("BEGIN IMMEDIATE"); !st.ok()) return fail_all(st);
  if (batch.size() == 1) {
    batch.front()->result = Finish(db, Guarded(*batch.front()->body, db));
    return;
  }
  for (PendingWrite* w : batch) {
    if (Status st = db.Run("SAVEPOINT w"); !st.ok()) {
      (void)Finish(db, st);
      return fail_all(st);
    }
    w->result = Guarded(*w->body, db);
    if (db.InAutocommit()) {
      // SQLite rolled the whole transaction back by itself (an I/O or busy error): the bodies
      // before this one are gone too.
      Status gone = w->result.ok() ? Unavailable("the database rolled the transaction back; retry")
                                   : w->result;
      return fail_all(gone);
    }
    Status end = w->result.ok() ? OkStatus() : db.Run("ROLLBACK TO w");
    if (end.ok()) end = db.Run("RELEASE w");
    if (!end.ok()) {
      (void)Finish(db, end);
      return fail_all(end);
    }
  }
  if (Status st = Finish(db, OkStatus()); !st.ok()) {
    for (PendingWrite* w : batch) {
      if (w->result.ok()) w->result = st;
    }
  }
}

Status SqliteStore::Read(Body body, bool snapshot) {
  if (readers_.empty()) {
    std::lock_guard lock(write_mu_);
    if (!snapshot) return Guarded(body, *writer_);
    RETURN_IF_ERROR(writer_->Run("BEGIN"));
    return Finish(*writer_, Guarded(body, *writer_));
  }
  Connection* db = nullptr;
  {
    std::unique_lock lock(pool_mu_);
    pool_cv_.wait(lock, [this] { return !idle_readers_.empty(); });
    db = idle_readers_.back();
    idle_readers_.pop_back();
  }
  Status st;
  if (!snapshot) {
    st = Guarded(body, *db);
  } else if (st = db->Run("BEGIN"); st.ok()) {
    st = Finish(*db, Guarded(body, *db));
  }
  {
    std::lock_guard lock(pool_mu_);
    idle_readers_.push_back(db);
  }
  pool_cv_.notify_one();
  return st;
}

// --- definitions ---

Result<Definition> SqliteStore::PutDefinition(const Definition& def, Micros now) {
  if (def.name.empty()) {
    return InvalidArgument("definition name is empty; set a name, e.g. name: hello");
  }
  // The stored spec carries neither version nor created_at nor owner and group: those are
  // columns.
  Definition spec = def;
  spec.version = 0;
  spec.created_at = 0;
  spec.owner.clear();
  spec.group.clear();
  Definition out;
  return sqlite::ValueIfOk(
      Write([&](Connection& db) -> Status {
        int64_t next = 1;
        {
          ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT version, spec, created_at, deleted_at, "
                                              "owner, group_name FROM definitions "
                                              "WHERE name = ? ORDER BY version DESC LIMIT 1"));
          s.Bind(1, def.name);
          ASSIGN_OR_RETURN(bool row, s.Step());
          if (row) {
            next = s.Int(0) + 1;
            if (s.IsNull(3) && s.TextView(4) == def.owner && s.TextView(5) == def.group) {
              ASSIGN_OR_RETURN(Definition current, sqlite::DecodeSpec(s.TextView(1)));
              if (current == spec) {  // an unchanged apply keeps the version (idempotent)
                out = std::move(current);
                out.version = s.Int(0);
                out.created_at = s.Int(2);
                out.owner = def.owner;
                out.group = def.group;
                return OkStatus();
              }
            }
          }
        }
        ASSIGN_OR_RETURN(Stmt ins, db.Prepare("INSERT INTO definitions (name, version, spec, "
                                              "created_at, owner, group_name) "
                                              "VALUES (?, ?, ?, ?, ?, ?)"));
        RETURN_IF_ERROR(ins.Bind(1, def.name)
                            .Bind(2, next)
                            .Bind(3, sqlite::EncodeSpec(spec))
                            .Bind(4, now)
                            .Bind(5, def.owner)
                            .Bind(6, def.group)
                            .Run());
        out = spec;
        out.version = next;
        out.created_at = now;
        out.owner = def.owner;
        out.group = def.group;
        return OkStatus();
      }),
      out);
}

Result<Definition> SqliteStore::GetDefinition(const std::string& name) {
  Definition out;
  return sqlite::ValueIfOk(
      Read([&](Connection& db) -> Status {
        ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT version, spec, created_at, owner, group_name "
                                            "FROM definitions "
                                            "WHERE name = ? AND deleted_at IS NULL "
                                            "ORDER BY version DESC LIMIT 1"));
        s.Bind(1, name);
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) {
          return NotFound(fmt::format(
              "definition '{}' not found; check the name or list definitions with `tug get "
              "definitions`",
              name));
        }
        ASSIGN_OR_RETURN(out, sqlite::DecodeSpec(s.TextView(1)));
        out.version = s.Int(0);
        out.created_at = s.Int(2);
        out.owner = s.Text(3);
        out.group = s.Text(4);
        return OkStatus();
      }),
      out);
}

Result<std::vector<Definition>> SqliteStore::ListDefinitions(const Visibility& visible) {
  std::vector<Definition> out;
  return sqlite::ValueIfOk(
      Read([&](Connection& db) -> Status {
        // Deleting hides every version of a name, so the newest live row is the newest row.
        std::vector<std::string> params;
        std::string sql =
            "SELECT version, spec, created_at, owner, group_name FROM definitions AS d "
            "WHERE deleted_at IS NULL AND version = "
            "(SELECT MAX(version) FROM definitions WHERE name = d.name)" +
            VisibilityCondition(visible, params, /*dollar=*/false) + " ORDER BY name";
        ASSIGN_OR_RETURN(Stmt s, db.Prepare(sql));
        int n = 0;
        for (const std::string& v : params) s.Bind(++n, v);
        while (true) {
          ASSIGN_OR_RETURN(bool row, s.Step());
          if (!row) return OkStatus();
          ASSIGN_OR_RETURN(Definition d, sqlite::DecodeSpec(s.TextView(1)));
          d.version = s.Int(0);
          d.created_at = s.Int(2);
          d.owner = s.Text(3);
          d.group = s.Text(4);
          out.push_back(std::move(d));
        }
      }),
      out);
}

Status SqliteStore::DeleteDefinition(const std::string& name, Micros now) {
  return Write([&](Connection& db) -> Status {
    ASSIGN_OR_RETURN(Stmt s, db.Prepare("UPDATE definitions SET deleted_at = ? "
                                        "WHERE name = ? AND deleted_at IS NULL"));
    RETURN_IF_ERROR(s.Bind(1, now).Bind(2, name).Run());
    if (db.Changes() == 0) {
      return NotFound(
          fmt::format("definition '{}' not found; check the name or list definitions with `tug get "
                      "definitions`",
                      name));
    }
    return OkStatus();
  });
}

// --- timeline ---

Status SqliteStore::AppendEvent(const Event& event) {
  if (event.run_id.empty() || event.type.empty()) {
    return InvalidArgument("an event needs a run_id and a type; set both");
  }
  Status st = Write([&](Connection& db) { return sqlite::InsertEvent(db, event); });
  if (!st.ok() && st.error().code() == Code::kNotFound) {
    return NotFound(
        fmt::format("run '{}' not found; events can only be added to existing runs", event.run_id));
  }
  return st;
}

Result<std::vector<Event>> SqliteStore::ListEvents(const std::string& run_id, int64_t after_seq,
                                                   int limit) {
  if (limit < 1 || limit > kMaxEventsPerPage) {
    return InvalidArgument(fmt::format("event limit {} is out of range; ask for 1 to {} events",
                                       limit, kMaxEventsPerPage));
  }
  std::vector<Event> out;
  return sqlite::ValueIfOk(
      Read([&](Connection& db) -> Status {
        ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT " TUG_EVENT_COLUMNS " FROM events "
                                            "WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?"));
        s.Bind(1, run_id).Bind(2, after_seq).Bind(3, limit);
        while (true) {
          ASSIGN_OR_RETURN(bool row, s.Step());
          if (!row) return OkStatus();
          out.push_back(sqlite::ReadEvent(s));
        }
      }),
      out);
}

// --- metrics ---

Result<std::vector<StatusCount>> SqliteStore::CountRunsByStatus() {
  // Every status is reported, zeros included, so gauges fall back to 0 instead of going stale.
  std::vector<StatusCount> out;
  for (auto s :
       {RunStatus::kQueued, RunStatus::kRunning, RunStatus::kRetrying, RunStatus::kSucceeded,
        RunStatus::kFailed, RunStatus::kStopped, RunStatus::kLost}) {
    out.push_back({s, 0});
  }
  return sqlite::ValueIfOk(
      Read([&](Connection& db) -> Status {
        ASSIGN_OR_RETURN(Stmt s, db.Prepare("SELECT status, COUNT(*) FROM runs GROUP BY status"));
        while (true) {
          ASSIGN_OR_RETURN(bool row, s.Step());
          if (!row) return OkStatus();
          auto status = ParseRunStatus(s.TextView(0));
          if (!status.ok()) continue;  // unreadable rows are reported by GetRun, not here
          for (auto& c : out) {
            if (c.status == *status) c.count += s.Int(1);
          }
        }
      }),
      out);
}

Result<int64_t> SqliteStore::QueueDepth(Micros now) {
  int64_t depth = 0;
  return sqlite::ValueIfOk(Read([&](Connection& db) -> Status {
                             ASSIGN_OR_RETURN(
                                 Stmt s, db.Prepare("SELECT COUNT(*) FROM attempts "
                                                    "WHERE status = 'QUEUED' AND due_at <= ?"));
                             s.Bind(1, now);
                             ASSIGN_OR_RETURN(bool row, s.Step());
                             if (row) depth = s.Int(0);
                             return OkStatus();
                           }),
                           depth);
}

}  // namespace tug::store
