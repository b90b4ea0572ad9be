// SqliteStore: API bearer tokens (src/auth). Only a token's SHA-256 is stored.
#include <fmt/format.h>

#include "store/row_decoding.h"
#include "store/rules.h"
#include "store/sqlite/sqlite_store.h"

namespace tug::store {

using sqlite::Connection;
using sqlite::Stmt;

namespace {

Result<ApiToken> LoadToken(Connection& db, std::string_view where, const std::string& value) {
  ASSIGN_OR_RETURN(
      Stmt s,
      db.Prepare(fmt::format("SELECT " TUG_TOKEN_COLUMNS " FROM api_tokens WHERE {} = ?", where)));
  s.Bind(1, value);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return TokenNotFound(where == "id" ? value : std::string("(by hash)"));
  return DecodeTokenRow(s);
}

}  // namespace

Status SqliteStore::CreateToken(const ApiToken& t) {
  RETURN_IF_ERROR(CheckNewToken(t));
  Status st = Write([&](Connection& db) -> Status {
    ASSIGN_OR_RETURN(Stmt s, db.Prepare("INSERT INTO api_tokens (" TUG_TOKEN_COLUMNS
                                        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    return s.Bind(1, t.id)
        .Bind(2, t.name)
        .Bind(3, t.user)
        .Bind(4, EncodeGroups(t.groups))
        .Bind(5, t.role)
        .Bind(6, t.hash)
        .Bind(7, t.created_by)
        .Bind(8, t.created_at)
        .Bind(9, t.expires_at)
        .Bind(10, t.revoked_at)
        .Bind(11, t.last_used_at)
        .Run();
  });
  if (!st.ok() && st.error().code() == Code::kAlreadyExists) {
    return AlreadyExists(fmt::format("token '{}' already exists; create it again", t.id));
  }
  return st;
}

Result<ApiToken> SqliteStore::GetTokenByHash(const std::string& hash) {
  ApiToken out;
  return sqlite::ValueIfOk(Read([&](Connection& db) -> Status {
                             ASSIGN_OR_RETURN(out, LoadToken(db, "hash", hash));
                             return OkStatus();
                           }),
                           out);
}

Result<ApiToken> SqliteStore::GetToken(const std::string& id) {
  ApiToken out;
  return sqlite::ValueIfOk(Read([&](Connection& db) -> Status {
                             ASSIGN_OR_RETURN(out, LoadToken(db, "id", id));
                             return OkStatus();
                           }),
                           out);
}

Result<std::vector<ApiToken>> SqliteStore::ListTokens(const std::string& user) {
  std::vector<ApiToken> out;
  return sqlite::ValueIfOk(Read([&](Connection& db) -> Status {
                             ASSIGN_OR_RETURN(
                                 Stmt s, db.Prepare("SELECT " TUG_TOKEN_COLUMNS " FROM api_tokens "
                                                    "WHERE ?1 = '' OR user_name = ?1 "
                                                    "ORDER BY created_at, id"));
                             s.Bind(1, user);
                             while (true) {
                               ASSIGN_OR_RETURN(bool row, s.Step());
                               if (!row) return OkStatus();
                               ASSIGN_OR_RETURN(ApiToken t, DecodeTokenRow(s));
                               out.push_back(std::move(t));
                             }
                           }),
                           out);
}

Result<ApiToken> SqliteStore::RevokeToken(const std::string& id, Micros now) {
  ApiToken out;
  return sqlite::ValueIfOk(Write([&](Connection& db) -> Status {
                             ASSIGN_OR_RETURN(Stmt s,
                                              db.Prepare("UPDATE api_tokens SET revoked_at = ? "
                                                         "WHERE id = ? AND revoked_at = 0"));
                             RETURN_IF_ERROR(s.Bind(1, now).Bind(2, id).Run());
                             ASSIGN_OR_RETURN(out, LoadToken(db, "id", id));
                             return OkStatus();
                           }),
                           out);
}

Status SqliteStore::TouchToken(const std::string& id, Micros at) {
  return Write([&](Connection& db) -> Status {
    ASSIGN_OR_RETURN(Stmt s, db.Prepare("UPDATE api_tokens SET last_used_at = MAX(last_used_at, ?) "
                                        "WHERE id = ?"));
    RETURN_IF_ERROR(s.Bind(1, at).Bind(2, id).Run());
    if (db.Changes() == 0) return TokenNotFound(id);
    return OkStatus();
  });
}

}  // namespace tug::store
