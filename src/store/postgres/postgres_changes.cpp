// PostgresStore: live changes for server-sent event streams (events with their run's visibility
// and status).
//
// Sequence values are taken when a row is inserted, not when its transaction commits, so a
// reader may see seq 11 before seq 10 commits. The server's event hub copes (it holds a gap back
// for a while before it moves past it); this store only reports what is committed.
#include <fmt/format.h>

#include "store/encoding.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/transaction.h"
#include "store/row_decoding.h"
#include "store/rules.h"

namespace tug::store {

using pg::P;
using pg::Row;
using pg::Rows;
using pg::Tx;

Result<std::vector<Change>> PostgresStore::ListChanges(const std::string& run_id, int64_t after_seq,
                                                       int limit) {
  if (limit < 1 || limit > kMaxEventsPerPage) {
    return InvalidArgument(fmt::format("change limit {} is out of range; ask for 1 to {} changes",
                                       limit, kMaxEventsPerPage));
  }
  std::vector<Change> out;
  return ValueIfOk(
      Read([&](Tx& tx) -> Status {
        constexpr const char* kColumns =
            "SELECT e.seq, e.run_id, e.attempt_id, e.at, e.type, e.message, r.owner, "
            "r.group_name, r.status FROM events e JOIN runs r ON r.id = e.run_id ";
        Result<Rows> rows =
            run_id.empty()
                ? tx.Exec(fmt::format("{}WHERE e.seq > $1 ORDER BY e.seq LIMIT $2", kColumns),
                          P(after_seq, limit))
                : tx.Exec(fmt::format("{}WHERE e.run_id = $3 AND e.seq > $1 ORDER BY e.seq "
                                      "LIMIT $2",
                                      kColumns),
                          P(after_seq, limit, run_id));
        if (!rows.ok()) return rows.error();
        out.clear();
        for (int i = 0; i < rows->size(); ++i) {
          Row row(*rows, i);
          Change c;
          c.event = DecodeEventRow(row);
          c.owner = row.Text(6);
          c.group = row.Text(7);
          std::string status = row.Text(8);
          auto parsed = ParseRunStatus(status);
          if (!parsed.ok()) return Corrupt("run status", status);
          c.run_status = *parsed;
          out.push_back(std::move(c));
        }
        return OkStatus();
      }),
      out);
}

Result<int64_t> PostgresStore::LatestEventSeq() {
  int64_t latest = 0;
  return ValueIfOk(Read([&](Tx& tx) -> Status {
                     ASSIGN_OR_RETURN(Rows rows,
                                      tx.Exec("SELECT COALESCE(MAX(seq), 0) FROM events"));
                     if (rows.size() > 0) latest = Row(rows, 0).Int(0);
                     return OkStatus();
                   }),
                   latest);
}

}  // namespace tug::store
