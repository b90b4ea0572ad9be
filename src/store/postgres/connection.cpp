#include "store/postgres/connection.h"

#include <libpq-fe.h>
#include <poll.h>

#include <charconv>
#include <climits>
#include <cstdlib>
#include <regex>

#include <fmt/format.h>

namespace tug::store::pg {
namespace {

constexpr std::string_view kHidden = "***";

bool IsUrl(std::string_view url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

// The userinfo password of a postgres:// URL: [begin, end) inside `url`, or {npos, npos}.
std::pair<size_t, size_t> UrlPasswordSpan(std::string_view url) {
  constexpr auto kNone = std::make_pair(std::string_view::npos, std::string_view::npos);
  if (!IsUrl(url)) return kNone;
  const size_t auth = url.find("://") + 3;
  size_t auth_end = url.find_first_of("/?#", auth);
  if (auth_end == std::string_view::npos) auth_end = url.size();
  // The last '@' ends the userinfo (a password may itself hold '@' when not percent-encoded).
  const size_t at = url.substr(0, auth_end).rfind('@');
  if (at == std::string_view::npos || at < auth) return kNone;
  const size_t colon = url.find(':', auth);
  if (colon == std::string_view::npos || colon > at) return kNone;
  return {colon + 1, at};
}

// password=value in a key=value string or a URL's query ('' quoting as libpq reads it).
const std::regex& PasswordParam() {
  static const std::regex re(R"((^|[?&\s])password\s*=\s*('(?:[^'\\]|\\.)*'|[^&\s]*))",
                             std::regex::icase);
  return re;
}

// Every password written in `url`, as written (libpq may also have decoded one; see ParseUrl).
std::vector<std::string> WrittenPasswords(std::string_view url) {
  std::vector<std::string> out;
  auto [b, e] = UrlPasswordSpan(url);
  if (b != std::string_view::npos && e > b) out.emplace_back(url.substr(b, e - b));
  std::string text(url);
  for (std::sregex_iterator it(text.begin(), text.end(), PasswordParam()), end; it != end; ++it) {
    std::string v = (*it)[2].str();
    if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') v = v.substr(1, v.size() - 2);
    if (!v.empty()) out.push_back(std::move(v));
  }
  return out;
}

// Replaces every occurrence of each secret in `text` (short ones too: a message never needs them).
std::string Scrub(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    for (size_t pos = text.find(secret); pos != std::string::npos;
         pos = text.find(secret, pos + kHidden.size())) {
      text.replace(pos, secret.size(), kHidden);
    }
  }
  return text;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  // libpq indents its hints with a tab after a newline; one line reads better in logs.
  for (size_t pos = s.find("\n\t"); pos != std::string::npos; pos = s.find("\n\t")) {
    s.replace(pos, 2, " ");
  }
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

bool IsConnectionState(std::string_view sqlstate) {
  // 08: connection exceptions; 57P01..03: administrator shutdown, crash shutdown, cannot connect
  // now (starting up or shutting down).
  return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03";
}

}  // namespace

std::string RedactUrl(std::string_view url) {
  std::string out(url);
  auto [b, e] = UrlPasswordSpan(out);
  if (b != std::string::npos) out.replace(b, e - b, kHidden);
  return std::regex_replace(out, PasswordParam(), "$1password=***");
}

Result<ConnectSettings> ParseUrl(const std::string& url) {
  ConnectSettings s;
  s.url = url;
  s.shown = RedactUrl(url);
  std::vector<std::string> secrets = WrittenPasswords(url);
  if (url.empty()) {
    return InvalidArgument(
        "postgres url is empty; set it to postgresql://user:password@host:5432/database");
  }
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (opts == nullptr) {
    std::string why = err != nullptr ? Trim(err) : "out of memory";
    PQfreemem(err);
    return InvalidArgument(fmt::format(
        "postgres url '{}' is not valid ({}); write it as "
        "postgresql://user:password@host:5432/database?sslmode=prefer or as key=value pairs",
        s.shown, Scrub(why, secrets)));
  }
  std::string bad_port;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view key(o->keyword);
    if (key == "password") s.password = o->val;
    // libpq only checks ports when it connects, and then it looks like an unreachable server.
    if (key == "port") {
      std::string_view ports(o->val);
      while (bad_port.empty()) {
        const size_t comma = ports.find(',');
        const std::string_view one = ports.substr(0, comma);
        int n = 0;
        auto [end, ec] = std::from_chars(one.data(), one.data() + one.size(), n);
        if (!one.empty() &&
            (ec != std::errc() || end != one.data() + one.size() || n < 1 || n > 65535)) {
          bad_port = std::string(one);
        }
        if (comma == std::string_view::npos) break;
        ports.remove_prefix(comma + 1);
      }
    }
  }
  PQconninfoFree(opts);
  if (!bad_port.empty()) {
    return InvalidArgument(fmt::format(
        "postgres url '{}' is not valid (port '{}' is not a number from 1 to 65535); write it as "
        "postgresql://user:password@host:5432/database",
        s.shown, Scrub(bad_port, secrets)));
  }
  return s;
}

// --- Params ---

Params& Params::Add(int64_t value) {
  values_.push_back(std::to_string(value));
  null_.push_back(false);
  return *this;
}

Params& Params::Add(bool value) {
  values_.emplace_back(value ? "true" : "false");
  null_.push_back(false);
  return *this;
}

Params& Params::Add(std::string_view value) {
  values_.emplace_back(value);
  null_.push_back(false);
  return *this;
}

Params& Params::Add(std::optional<int> value) {
  if (!value) return AddNull();
  return Add(static_cast<int64_t>(*value));
}

Params& Params::AddNull() {
  values_.emplace_back();
  null_.push_back(true);
  return *this;
}

Params& Params::AddArray(std::span<const std::string> values) {
  std::string text = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ',';
    text += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') text += '\\';
      text += c;
    }
    text += '"';
  }
  text += '}';
  return Add(std::string_view(text));
}

const char* const* Params::values() const {
  ptrs_.clear();
  for (size_t i = 0; i < values_.size(); ++i) {
    ptrs_.push_back(null_[i] ? nullptr : values_[i].c_str());
  }
  return ptrs_.empty() ? nullptr : ptrs_.data();
}

const int* Params::lengths() const {
  lengths_.clear();
  for (const auto& v : values_) lengths_.push_back(static_cast<int>(v.size()));
  return lengths_.empty() ? nullptr : lengths_.data();
}

// --- Rows ---

Rows& Rows::operator=(Rows&& other) noexcept {
  if (this != &other) {
    if (res_ != nullptr) PQclear(res_);
    res_ = other.res_;
    other.res_ = nullptr;
  }
  return *this;
}

Rows::~Rows() {
  if (res_ != nullptr) PQclear(res_);
}

int Rows::size() const { return res_ == nullptr ? 0 : PQntuples(res_); }

int64_t Rows::affected() const {
  if (res_ == nullptr) return 0;
  const char* n = PQcmdTuples(res_);
  return n == nullptr || *n == '\0' ? 0 : std::strtoll(n, nullptr, 10);
}

std::string_view Rows::tag() const {
  if (res_ == nullptr) return {};
  const char* t = PQcmdStatus(res_);
  return t == nullptr ? std::string_view() : std::string_view(t);
}

bool Rows::IsNull(int row, int col) const { return PQgetisnull(res_, row, col) != 0; }

std::string_view Rows::TextView(int row, int col) const {
  return {PQgetvalue(res_, row, col), static_cast<size_t>(PQgetlength(res_, row, col))};
}

int64_t Rows::Int(int row, int col) const {
  std::string_view text = TextView(row, col);
  int64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

std::optional<int> Rows::OptionalInt(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  int64_t v = Int(row, col);
  if (v < INT_MIN || v > INT_MAX) return std::nullopt;
  return static_cast<int>(v);
}

bool Rows::Bool(int row, int col) const {
  std::string_view t = TextView(row, col);
  return t == "t" || t == "true" || t == "1";
}

// --- Connection ---

Result<std::unique_ptr<Connection>> Connection::Open(const ConnectSettings& settings) {
  const std::string timeout = std::to_string(settings.connect_timeout_seconds);
  // Keywords before dbname are defaults the URL may override; those after it override the URL.
  // Keepalives notice a vanished server (a network partition) while a statement waits.
  const char* keys[] = {
      "keepalives", "keepalives_idle", "keepalives_interval",       "keepalives_count",
      "dbname",     "connect_timeout", "fallback_application_name", nullptr};
  const char* vals[] = {"1", "10", "5", "3", settings.url.c_str(), timeout.c_str(), "tug", nullptr};
  PGconn* conn = PQconnectdbParams(keys, vals, /*expand_dbname=*/1);
  if (conn == nullptr) return Internal("cannot allocate a postgres connection (out of memory)");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = Scrub(Trim(PQerrorMessage(conn)), {settings.password});
    why = Scrub(std::move(why), WrittenPasswords(settings.url));
    PQfinish(conn);
    return Unavailable(
        fmt::format("cannot connect to postgres at '{}'; check that the server is up and the "
                    "URL, user and password are right, then retry",
                    settings.shown),
        fmt::format("postgres: {}", why));
  }
  // Notices (CREATE TABLE IF NOT EXISTS skipping...) would go to stderr by default.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  std::unique_ptr<Connection> c(new Connection(conn, settings));
  // The timeout is bound like any value; set_config is an ordinary function.
  const std::string statement_timeout = std::to_string(settings.statement_timeout_ms);
  const char* value = statement_timeout.c_str();
  PGresult* res = PQexecParams(conn, "SELECT set_config('statement_timeout', $1, false)", 1,
                               nullptr, &value, nullptr, nullptr, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    Error e = c->Fail(res, "setting statement_timeout");
    PQclear(res);
    return e;
  }
  PQclear(res);
  return c;
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::broken() const { return broken_ || PQstatus(conn_) != CONNECTION_OK; }

bool Connection::InTransaction() const { return PQtransactionStatus(conn_) != PQTRANS_IDLE; }

bool Connection::CheckAlive() {
  if (broken()) return false;
  pollfd p{};
  p.fd = PQsocket(conn_);
  p.events = POLLIN;
  if (p.fd < 0) {
    broken_ = true;
    return false;
  }
  if (poll(&p, 1, 0) <= 0) return true;  // nothing arrived while idle: the usual case
  // Something arrived while idle: a FATAL before the server closed, or the close itself.
  if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
    broken_ = true;
    return false;
  }
  return true;
}

Error Connection::Fail(PGresult* res, std::string_view what) {
  auto field = [&](int code) -> std::string {
    const char* v = res != nullptr ? PQresultErrorField(res, code) : nullptr;
    return v != nullptr ? v : "";
  };
  last_sqlstate_ = field(PG_DIAG_SQLSTATE);
  last_constraint_ = field(PG_DIAG_CONSTRAINT_NAME);
  const char* raw = res != nullptr ? PQresultErrorMessage(res) : nullptr;
  if (raw == nullptr || *raw == '\0') raw = PQerrorMessage(conn_);
  std::string text = Scrub(Trim(raw != nullptr ? raw : ""), {settings_.password});
  if (text.empty()) text = "no message";
  const std::string& state = last_sqlstate_;
  std::string detail = state.empty() ? fmt::format("postgres: {}", text)
                                     : fmt::format("postgres: {} (SQLSTATE {})", text, state);
  if (PQstatus(conn_) != CONNECTION_OK || IsConnectionState(state) ||
      (res == nullptr && state.empty())) {
    broken_ = true;
    return Unavailable(fmt::format("{}: lost the connection to postgres at '{}'; retry, and check "
                                   "that the server is up",
                                   what, settings_.shown),
                       std::move(detail));
  }
  if (state == "57014" || state == "55P03" || state.starts_with("53")) {
    return Unavailable(fmt::format("{}: postgres is busy ({}); retry later, or raise "
                                   "statement_timeout_ms if statements are slow",
                                   what, text),
                       std::move(detail));
  }
  if (state == "23505") {
    return {Code::kAlreadyExists, fmt::format("{}: the row already exists", what),
            std::move(detail)};
  }
  if (state == "23503") {
    return {Code::kNotFound, fmt::format("{}: a referenced row does not exist", what),
            std::move(detail)};
  }
  if (state == "40001" || state == "40P01") {
    return {Code::kAborted,
            fmt::format("{}: lost a race with a concurrent transaction; retry", what),
            std::move(detail)};
  }
  return Internal(fmt::format("{}: database error: {}", what, text), std::move(detail));
}

Result<Rows> Connection::Simple(const char* sql) {
  last_sqlstate_.clear();
  last_constraint_.clear();
  PGresult* res = PQexec(conn_, sql);
  ExecStatusType st = PQresultStatus(res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    Error e = Fail(res, "running SQL");
    PQclear(res);
    return e;
  }
  return Rows(res);
}

Result<Rows> Connection::Run(std::span<const Statement> statements, int* failed) {
  last_sqlstate_.clear();
  last_constraint_.clear();
  if (failed != nullptr) *failed = -1;
  if (statements.empty()) return Rows();
  if (statements.size() > 1) return RunPipeline(statements, failed);
  const Statement& s = statements.front();
  if (failed != nullptr) *failed = 0;
  if (s.control) return Simple(std::string(s.sql).c_str());
  auto it = prepared_.find(std::string(s.sql));
  if (it == prepared_.end()) {
    std::string name = fmt::format("t{}", ++next_name_);
    std::string sql(s.sql);
    PGresult* res = PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
      Error e = Fail(res, "preparing a statement");
      PQclear(res);
      return e;
    }
    PQclear(res);
    it = prepared_.emplace(std::move(sql), std::move(name)).first;
  }
  static const Params no_params;
  const Params& p = s.params != nullptr ? *s.params : no_params;
  PGresult* res =
      PQexecPrepared(conn_, it->second.c_str(), p.size(), p.values(), p.lengths(), nullptr, 0);
  ExecStatusType st = PQresultStatus(res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    Error e = Fail(res, "running a statement");
    PQclear(res);
    return e;
  }
  if (failed != nullptr) *failed = -1;
  return Rows(res);
}

// Pipeline mode: every statement (and the Parse of those not prepared yet) goes out before the
// first result is read, so the whole list costs one round trip. After an error the server skips
// the rest up to the sync; libpq reports those as PGRES_PIPELINE_ABORTED.
Result<Rows> Connection::RunPipeline(std::span<const Statement> statements, int* failed) {
  if (PQenterPipelineMode(conn_) != 1) return Fail(nullptr, "starting a pipeline");
  struct Sent {
    int index;           // into statements
    std::string parsed;  // SQL text when this entry is the Parse of a new statement
  };
  std::vector<Sent> sent;
  static const Params no_params;
  bool sending = true;
  for (int i = 0; i < static_cast<int>(statements.size()) && sending; ++i) {
    const Statement& s = statements[static_cast<size_t>(i)];
    const Params& p = s.params != nullptr ? *s.params : no_params;
    if (s.control) {
      sending = PQsendQueryParams(conn_, std::string(s.sql).c_str(), 0, nullptr, nullptr, nullptr,
                                  nullptr, 0) == 1;
      sent.push_back({i, {}});
      continue;
    }
    std::string sql(s.sql);
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      std::string name = fmt::format("t{}", ++next_name_);
      sending = PQsendPrepare(conn_, name.c_str(), sql.c_str(), 0, nullptr) == 1;
      it = prepared_.emplace(sql, std::move(name)).first;
      sent.push_back({i, sql});
      if (!sending) break;
    }
    sending = PQsendQueryPrepared(conn_, it->second.c_str(), p.size(), p.values(), p.lengths(),
                                  nullptr, 0) == 1;
    sent.push_back({i, {}});
  }
  if (!sending || PQpipelineSync(conn_) != 1) {
    Error e = Fail(nullptr, "sending statements");
    broken_ = true;
    return e;
  }
  std::optional<Error> error;
  Rows last;
  const int last_index = static_cast<int>(statements.size()) - 1;
  for (const Sent& entry : sent) {
    bool ok = false;
    while (PGresult* res = PQgetResult(conn_)) {
      ExecStatusType st = PQresultStatus(res);
      ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
      if (!ok && !error && st != PGRES_PIPELINE_ABORTED) {
        error = Fail(res, entry.parsed.empty() ? "running a statement" : "preparing a statement");
        if (failed != nullptr) *failed = entry.index;
      }
      if (ok && entry.parsed.empty() && entry.index == last_index) {
        last = Rows(res);
      } else {
        PQclear(res);
      }
    }
    if (!entry.parsed.empty() && !ok) prepared_.erase(entry.parsed);  // not prepared after all
    if (PQstatus(conn_) != CONNECTION_OK) break;
  }
  PGresult* sync = PQgetResult(conn_);
  const bool synced = sync != nullptr && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
  PQclear(sync);
  if (!synced || PQexitPipelineMode(conn_) != 1) {
    // Out of step with the server: nothing on this connection can be trusted any more.
    if (!error) error = Fail(nullptr, "finishing a pipeline");
    broken_ = true;
  }
  if (error) {
    if (failed != nullptr && *failed < 0) *failed = last_index;
    return *std::move(error);
  }
  return last;
}

}  // namespace tug::store::pg
