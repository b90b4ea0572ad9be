#include "store/sqlite/connection.h"

#include <sqlite3.h>

#include <climits>

#include <fmt/format.h>

namespace tug::store::sqlite {

Error SqlError(sqlite3* db, int rc, std::string_view what) {
  std::string detail = fmt::format("sqlite: {} (code {})",
                                   db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Unavailable(
          fmt::format("{}: the database stayed locked by another writer past the busy timeout; "
                      "retry, and look for a stuck process holding the same database file",
                      what),
          std::move(detail));
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
        Error e = AlreadyExists(fmt::format("{}: the row already exists", what));
        return {e.code(), e.message(), std::move(detail)};
      }
      if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
        Error e = NotFound(fmt::format("{}: a referenced row does not exist", what));
        return {e.code(), e.message(), std::move(detail)};
      }
      break;
    default:
      break;
  }
  return Internal(fmt::format("{}: database error", what), std::move(detail));
}

Stmt::~Stmt() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Stmt& Stmt::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Stmt& Stmt::Bind(int index, std::string_view value) {
  // A zero-length text must still be '' and not NULL, so never pass a null pointer.
  const char* data = value.data() != nullptr ? value.data() : "";
  int rc = sqlite3_bind_text64(stmt_, index, data, value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Stmt& Stmt::Bind(int index, std::optional<int> value) {
  if (value) return Bind(index, static_cast<int64_t>(*value));
  return BindNull(index);
}

Stmt& Stmt::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  return *this;
}

Result<bool> Stmt::Step() {
  if (bind_rc_ != SQLITE_OK) return SqlError(db_, bind_rc_, "binding a statement parameter");
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // With sqlite3_prepare_v2 the step's own code is returned; the extended code tells a primary key
  // clash from other constraint failures.
  return SqlError(db_, sqlite3_extended_errcode(db_), "running a statement");
}

Status Stmt::Run() {
  while (true) {
    ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return OkStatus();
  }
}

bool Stmt::IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

int64_t Stmt::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string_view Stmt::TextView(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text),
          static_cast<size_t>(sqlite3_column_bytes(stmt_, column))};
}

std::string Stmt::Text(int column) const { return std::string(TextView(column)); }

std::optional<int> Stmt::OptionalInt(int column) const {
  if (IsNull(column)) return std::nullopt;
  int64_t v = Int(column);
  if (v < INT_MIN || v > INT_MAX) return std::nullopt;
  return static_cast<int>(v);
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, Mode mode,
                                                     int busy_timeout_ms) {
  int flags = SQLITE_OPEN_NOMUTEX;
  flags |= mode == Mode::kReadWrite ? (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
                                    : SQLITE_OPEN_READONLY;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error e = SqlError(db, rc, fmt::format("opening database '{}'", path));
    sqlite3_close_v2(db);  // a handle is returned even on failure
    return Error(e.code(),
                 fmt::format("cannot open database '{}'; check that the path is a writable file "
                             "and its directory exists",
                             path),
                 e.detail());
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  return std::unique_ptr<Connection>(new Connection(db));
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Connection::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (err != nullptr) sqlite3_free(err);
  if (rc != SQLITE_OK) return SqlError(db_, sqlite3_extended_errcode(db_), "executing SQL");
  return OkStatus();
}

Result<Stmt> Connection::Prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return SqlError(db_, rc, "preparing a statement");
    }
    it = cache_.emplace(std::string(sql), stmt).first;
  }
  return Stmt(db_, it->second);
}

int64_t Connection::Changes() const { return sqlite3_changes64(db_); }

bool Connection::InAutocommit() const { return sqlite3_get_autocommit(db_) != 0; }

}  // namespace tug::store::sqlite
