#pragma once
/// The PostgreSQL store's transaction bodies talk to a Tx: Exec runs a statement and returns its
/// rows; Queue defers one whose rows are not needed, to go out with the next Exec or the COMMIT.
/// So a body written as "lock and read, check, write, write, write" costs two round trips
/// (BEGIN + the read, then the writes + COMMIT).
///
/// Threading: one Tx per call, on the thread that holds its connection.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "store/postgres/connection.h"

namespace tug::store::pg {

class Tx {
 public:
  enum class Kind {
    kWrite,       // BEGIN ... COMMIT
    kAutocommit,  // no BEGIN: each round trip is its own (implicit) transaction
    kRead,        // like kAutocommit, for reads: safe to repeat on a new connection
  };
  Tx(Connection& conn, Kind kind) : conn_(conn), kind_(kind) {}

  /// Sends what is queued, then `sql`, in one round trip (with BEGIN, the first time); returns
  /// the rows of `sql`. An error of a queued statement is returned here too.
  [[nodiscard]] Result<Rows> Exec(std::string_view sql, const Params& params = {});
  /// Defers a statement (SQL text must outlive the Tx: use literals or statics).
  void Queue(std::string_view sql, Params params = {});
  /// Defers transaction control text (SAVEPOINT, ROLLBACK TO...): sent unprepared.
  void QueueControl(std::string_view sql);
  /// Sends what is queued and COMMIT (kWrite) in one round trip. OK only once the server
  /// confirmed the commit. In the other kinds, sends what is queued.
  [[nodiscard]] Status Commit();
  /// Rolls back an open transaction after a failure (if the connection still works).
  void Abandon();

  bool committed() const { return committed_; }
  /// The last failure left nothing behind and may succeed if the body runs again.
  bool retryable() const { return retryable_; }
  /// The constraint the last failed statement violated ("" when none).
  const std::string& last_constraint() const { return conn_.last_constraint(); }
  /// The last failure came from a queued statement, not from Exec's own.
  bool failed_in_queue() const { return failed_in_queue_; }

 private:
  Result<Rows> Flush(const Statement* last, bool commit);

  struct Queued {
    std::string_view sql;
    Params params;
    bool control;
  };
  Connection& conn_;
  Kind kind_;
  std::vector<Queued> queue_;
  bool begun_ = false;
  bool committed_ = false;
  bool retryable_ = false;
  bool failed_in_queue_ = false;
};

/// The status of a statement whose rows are not needed.
inline Status Done(Result<Rows> rows) {
  if (!rows.ok()) return std::move(rows).take_error();
  return OkStatus();
}

}  // namespace tug::store::pg
