#pragma once
/// A thin RAII layer over one SQLite connection: a per-connection cache of prepared statements,
/// bound parameters only (values never enter SQL text), and the mapping of SQLite result codes to
/// tug error codes.
///
/// Threading: a Connection (and every Stmt taken from it) is used by one thread at a time; the
/// owner (SqliteStore) guarantees that with its writer mutex and its reader pool.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "core/error.h"
#include "store/function_ref.h"

struct sqlite3;
struct sqlite3_stmt;

namespace tug::store::sqlite {

/// Maps a SQLite result code: SQLITE_BUSY/LOCKED (past the busy timeout) -> kUnavailable,
/// primary key/unique violations -> kAlreadyExists, foreign key violations -> kNotFound, anything
/// else -> kInternal. The detail carries sqlite3_errmsg; `what` says what we were doing.
Error SqlError(sqlite3* db, int rc, std::string_view what);

/// A cached prepared statement borrowed for one use: bind, step, read columns. Resets the
/// statement and clears its bindings when it goes out of scope, so the cache can hand it out again.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Stmt(Stmt&& other) noexcept
      : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)), bind_rc_(other.bind_rc_) {}
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Parameters are 1-based, as in SQLite. Text is copied (SQLITE_TRANSIENT) so temporaries are
  // safe to pass. A failed bind is reported by the next Step/Run.
  Stmt& Bind(int index, int64_t value);
  Stmt& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  Stmt& Bind(int index, bool value) { return Bind(index, static_cast<int64_t>(value ? 1 : 0)); }
  Stmt& Bind(int index, std::string_view value);
  Stmt& Bind(int index, const std::string& value) { return Bind(index, std::string_view(value)); }
  Stmt& Bind(int index, const char* value) { return Bind(index, std::string_view(value)); }
  Stmt& Bind(int index, std::optional<int> value);
  Stmt& BindNull(int index);

  /// One step: true when a row is ready to read, false when the statement is done.
  [[nodiscard]] Result<bool> Step();
  /// Steps to completion, ignoring rows (INSERT/UPDATE/DELETE).
  [[nodiscard]] Status Run();

  bool IsNull(int column) const;
  int64_t Int(int column) const;
  std::string Text(int column) const;
  std::string_view TextView(int column) const;  // valid until the next Step
  std::optional<int> OptionalInt(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = 0;
};

/// One open SQLite connection plus its statement cache.
class Connection {
 public:
  enum class Mode { kReadWrite, kReadOnly };

  /// Opens (creating when kReadWrite) the database at `path` with the given busy timeout. The
  /// connection is opened without SQLite's own mutex: callers serialise use.
  [[nodiscard]] static Result<std::unique_ptr<Connection>> Open(const std::string& path, Mode mode,
                                                                int busy_timeout_ms);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs SQL text that has no parameters (PRAGMAs, DDL in migrations). Never pass values here.
  [[nodiscard]] Status Exec(const char* sql);
  /// The cached prepared statement for `sql` (prepared on first use), ready for binding.
  [[nodiscard]] Result<Stmt> Prepare(std::string_view sql);
  /// Shorthand: prepare, step to completion.
  [[nodiscard]] Status Run(std::string_view sql) {
    ASSIGN_OR_RETURN(Stmt s, Prepare(sql));
    return s.Run();
  }
  /// Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  int64_t Changes() const;
  /// True outside an explicit transaction (SQLite may roll one back by itself on some errors).
  bool InAutocommit() const;

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

 public:
  /// The raw handle, for the few C APIs without a wrapper here (the WAL hook).
  sqlite3* handle() const { return db_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*, Hash, std::equal_to<>> cache_;
};

using store::FunctionRef;
using store::ValueIfOk;

}  // namespace tug::store::sqlite
