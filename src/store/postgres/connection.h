#pragma once
/// A thin RAII layer over one libpq connection: prepared statements only (each SQL text is
/// prepared once per connection and cached; values travel as text parameters, never inside SQL),
/// several statements sent in one round trip (libpq pipeline mode), and the mapping of SQLSTATEs
/// to tug error codes. Passwords never appear in what this layer returns.
///
/// Threading: a Connection is used by one thread at a time; the Pool guarantees that.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.h"

struct pg_conn;
struct pg_result;

namespace tug::store::pg {

/// "postgresql://tug:***@db:5432/tug": the URL (or key=value string) with its password hidden.
std::string RedactUrl(std::string_view url);

/// What a connection needs: the libpq URL and the settings applied to every session. `shown` is
/// the redacted URL for messages; `password` is scrubbed from any server or libpq text.
struct ConnectSettings {
  std::string url;
  std::string shown;
  std::string password;
  int connect_timeout_seconds = 5;
  int statement_timeout_ms = 30000;
};

/// Parses `url` as libpq does (postgres:// URLs and key=value strings). kInvalidArgument, with the
/// password redacted, when libpq cannot read it.
[[nodiscard]] Result<ConnectSettings> ParseUrl(const std::string& url);

/// Text parameters of one statement ($1, $2, ... in order).
class Params {
 public:
  Params& Add(int64_t value);
  Params& Add(int value) { return Add(static_cast<int64_t>(value)); }
  Params& Add(bool value);
  Params& Add(std::string_view value);
  Params& Add(const std::string& value) { return Add(std::string_view(value)); }
  Params& Add(const char* value) { return Add(std::string_view(value)); }
  Params& Add(std::optional<int> value);
  Params& AddNull();
  /// A text[] parameter ("{...}" with every element quoted).
  Params& AddArray(std::span<const std::string> values);

  int size() const { return static_cast<int>(values_.size()); }
  /// Pointers for libpq; valid until the next Add.
  const char* const* values() const;
  const int* lengths() const;

 private:
  std::vector<std::string> values_;
  std::vector<bool> null_;
  mutable std::vector<const char*> ptrs_;
  mutable std::vector<int> lengths_;
};

/// Params of the given values, in order: P(id, now, owner).
template <class... Args>
Params P(const Args&... args) {
  Params p;
  (p.Add(args), ...);
  return p;
}

/// The rows (or command status) of one statement. Columns are read as text and converted.
class Rows {
 public:
  Rows() = default;
  explicit Rows(pg_result* res) : res_(res) {}
  Rows(Rows&& other) noexcept : res_(other.res_) { other.res_ = nullptr; }
  Rows& operator=(Rows&& other) noexcept;
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;
  ~Rows();

  int size() const;
  bool empty() const { return size() == 0; }
  /// Rows an INSERT/UPDATE/DELETE touched.
  int64_t affected() const;
  /// The command tag ("COMMIT", "ROLLBACK", "UPDATE 1").
  std::string_view tag() const;

  bool IsNull(int row, int col) const;
  std::string_view TextView(int row, int col) const;
  std::string Text(int row, int col) const { return std::string(TextView(row, col)); }
  int64_t Int(int row, int col) const;
  std::optional<int> OptionalInt(int row, int col) const;
  bool Bool(int row, int col) const;

 private:
  pg_result* res_ = nullptr;
};

/// One row of a Rows, with a column offset (for the second table of a join).
class Row {
 public:
  Row(const Rows& rows, int row, int first_col = 0) : rows_(rows), row_(row), first_(first_col) {}
  bool IsNull(int col) const { return rows_.IsNull(row_, first_ + col); }
  std::string_view TextView(int col) const { return rows_.TextView(row_, first_ + col); }
  std::string Text(int col) const { return rows_.Text(row_, first_ + col); }
  int64_t Int(int col) const { return rows_.Int(row_, first_ + col); }
  std::optional<int> OptionalInt(int col) const { return rows_.OptionalInt(row_, first_ + col); }
  bool Bool(int col) const { return rows_.Bool(row_, first_ + col); }

 private:
  const Rows& rows_;
  int row_;
  int first_;
};

/// One statement of a round trip. `control` statements (BEGIN, COMMIT, SAVEPOINT...) are sent
/// unprepared and take no parameters; all others are prepared once and cached.
struct Statement {
  std::string_view sql;
  const Params* params = nullptr;
  bool control = false;
};

/// One open connection plus its prepared-statement cache.
class Connection {
 public:
  /// Connects (blocking, up to connect_timeout_seconds) and applies the session settings.
  /// kUnavailable when the server cannot be reached or refuses the connection.
  [[nodiscard]] static Result<std::unique_ptr<Connection>> Open(const ConnectSettings& settings);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Sends `statements` in one round trip and returns the rows of the last one, or the first
  /// error (its index in `*failed`, when given; statements after it did not run).
  [[nodiscard]] Result<Rows> Run(std::span<const Statement> statements, int* failed = nullptr);
  /// One prepared statement.
  [[nodiscard]] Result<Rows> Exec(std::string_view sql, const Params& params = {}) {
    Statement s{sql, &params, false};
    return Run({&s, 1});
  }
  /// Parameterless SQL text through the simple protocol (several statements allowed): DDL of
  /// migrations, transaction control. Never pass values here.
  [[nodiscard]] Result<Rows> Simple(const char* sql);

  /// True once the connection is lost or in a state we cannot trust: the pool drops it.
  bool broken() const;
  /// Inside a transaction block (or one that failed and was not rolled back yet).
  bool InTransaction() const;
  /// Looks (without blocking) whether the server closed an idle connection (a restart, an
  /// administrator's kill). False when it is gone.
  bool CheckAlive();
  /// SQLSTATE and constraint of the last failed statement ("" when none).
  const std::string& last_sqlstate() const { return last_sqlstate_; }
  const std::string& last_constraint() const { return last_constraint_; }

 private:
  Connection(pg_conn* conn, ConnectSettings settings)
      : conn_(conn), settings_(std::move(settings)) {}
  Error Fail(pg_result* res, std::string_view what);
  Result<Rows> RunPipeline(std::span<const Statement> statements, int* failed);

  pg_conn* conn_;
  ConnectSettings settings_;
  bool broken_ = false;
  std::string last_sqlstate_;
  std::string last_constraint_;
  int next_name_ = 0;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
};

}  // namespace tug::store::pg
