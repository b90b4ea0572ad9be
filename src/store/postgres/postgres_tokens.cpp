// PostgresStore: API bearer tokens (src/auth). Only a token's SHA-256 is stored.
#include <fmt/format.h>

#include "store/postgres/postgres_store.h"
#include "store/postgres/rows.h"
#include "store/postgres/transaction.h"
#include "store/row_decoding.h"
#include "store/rules.h"

namespace tug::store {

using pg::P;
using pg::Row;
using pg::Rows;
using pg::Tx;

namespace {

Result<std::vector<ApiToken>> ReadTokens(const Rows& rows) {
  std::vector<ApiToken> out;
  for (int i = 0; i < rows.size(); ++i) {
    ASSIGN_OR_RETURN(ApiToken t, DecodeTokenRow(Row(rows, i)));
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

Status PostgresStore::CreateToken(const ApiToken& t) {
  RETURN_IF_ERROR(CheckNewToken(t));
  Status st = Once([&](Tx& tx) -> Status {
    ASSIGN_OR_RETURN(Rows rows, tx.Exec("INSERT INTO api_tokens (" TUG_TOKEN_COLUMNS
                                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                                        P(t.id, t.name, t.user, EncodeGroups(t.groups), t.role,
                                          t.hash, t.created_by, t.created_at, t.expires_at,
                                          t.revoked_at, t.last_used_at)));
    (void)rows;
    return OkStatus();
  });
  if (!st.ok() && st.error().code() == Code::kAlreadyExists) {
    return AlreadyExists(fmt::format("token '{}' already exists; create it again", t.id));
  }
  return st;
}

Result<ApiToken> PostgresStore::GetTokenByHash(const std::string& hash) {
  ApiToken out;
  return ValueIfOk(Read([&](Tx& tx) -> Status {
                     ASSIGN_OR_RETURN(Rows rows, tx.Exec("SELECT " TUG_TOKEN_COLUMNS
                                                         " FROM api_tokens WHERE hash = $1",
                                                         P(hash)));
                     if (rows.empty()) return TokenNotFound("(by hash)");
                     ASSIGN_OR_RETURN(out, DecodeTokenRow(Row(rows, 0)));
                     return OkStatus();
                   }),
                   out);
}

Result<ApiToken> PostgresStore::GetToken(const std::string& id) {
  ApiToken out;
  return ValueIfOk(Read([&](Tx& tx) -> Status {
                     ASSIGN_OR_RETURN(Rows rows, tx.Exec("SELECT " TUG_TOKEN_COLUMNS
                                                         " FROM api_tokens WHERE id = $1",
                                                         P(id)));
                     if (rows.empty()) return TokenNotFound(id);
                     ASSIGN_OR_RETURN(out, DecodeTokenRow(Row(rows, 0)));
                     return OkStatus();
                   }),
                   out);
}

Result<std::vector<ApiToken>> PostgresStore::ListTokens(const std::string& user) {
  std::vector<ApiToken> out;
  return ValueIfOk(Read([&](Tx& tx) -> Status {
                     ASSIGN_OR_RETURN(Rows rows,
                                      tx.Exec("SELECT " TUG_TOKEN_COLUMNS " FROM api_tokens "
                                              "WHERE $1 = '' OR user_name = $1 "
                                              "ORDER BY created_at, id",
                                              P(user)));
                     ASSIGN_OR_RETURN(out, ReadTokens(rows));
                     return OkStatus();
                   }),
                   out);
}

Result<ApiToken> PostgresStore::RevokeToken(const std::string& id, Micros now) {
  ApiToken out;
  // One statement: revoke if live, then read the row either way (a second revocation keeps the
  // first time).
  return ValueIfOk(
      Once([&](Tx& tx) -> Status {
        ASSIGN_OR_RETURN(
            Rows rows, tx.Exec("WITH u AS (UPDATE api_tokens SET revoked_at = $2 "
                               "WHERE id = $1 AND revoked_at = 0 RETURNING " TUG_TOKEN_COLUMNS ") "
                               "SELECT " TUG_TOKEN_COLUMNS " FROM u UNION ALL "
                               "SELECT " TUG_TOKEN_COLUMNS " FROM api_tokens "
                               "WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM u)",
                               P(id, now)));
        if (rows.empty()) return TokenNotFound(id);
        ASSIGN_OR_RETURN(out, DecodeTokenRow(Row(rows, 0)));
        return OkStatus();
      }),
      out);
}

Status PostgresStore::TouchToken(const std::string& id, Micros at) {
  return Once([&](Tx& tx) -> Status {
    ASSIGN_OR_RETURN(Rows rows,
                     tx.Exec("UPDATE api_tokens SET last_used_at = GREATEST(last_used_at, $1) "
                             "WHERE id = $2",
                             P(at, id)));
    if (rows.affected() == 0) return TokenNotFound(id);
    return OkStatus();
  });
}

}  // namespace tug::store
