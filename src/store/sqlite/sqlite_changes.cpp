// SqliteStore: live changes for server-sent event streams (events with their run's visibility
// and status).
#include <fmt/format.h>

#include "store/encoding.h"
#include "store/row_decoding.h"
#include "store/rules.h"
#include "store/sqlite/sqlite_internal.h"
#include "store/sqlite/sqlite_store.h"

namespace tug::store {

using sqlite::Connection;
using sqlite::Stmt;

Result<std::vector<Change>> SqliteStore::ListChanges(const std::string& run_id, int64_t after_seq,
                                                     int limit) {
  if (limit < 1 || limit > kMaxEventsPerPage) {
    return InvalidArgument(fmt::format("change limit {} is out of range; ask for 1 to {} changes",
                                       limit, kMaxEventsPerPage));
  }
  std::vector<Change> out;
  return sqlite::ValueIfOk(
      Read([&](Connection& db) -> Status {
        // Two statements rather than one with "? = '' OR run_id = ?", so each uses its index
        // (the primary key, or events_run_seq).
        constexpr const char* kColumns =
            "SELECT e.seq, e.run_id, e.attempt_id, e.at, e.type, e.message, r.owner, "
            "r.group_name, r.status FROM events e JOIN runs r ON r.id = e.run_id ";
        ASSIGN_OR_RETURN(
            Stmt s,
            db.Prepare(run_id.empty()
                           ? fmt::format("{}WHERE e.seq > ?1 ORDER BY e.seq LIMIT ?2", kColumns)
                           : fmt::format("{}WHERE e.run_id = ?3 AND e.seq > ?1 ORDER BY "
                                         "e.seq LIMIT ?2",
                                         kColumns)));
        s.Bind(1, after_seq).Bind(2, limit);
        if (!run_id.empty()) s.Bind(3, run_id);
        out.clear();
        while (true) {
          ASSIGN_OR_RETURN(bool row, s.Step());
          if (!row) return OkStatus();
          Change c;
          c.event = DecodeEventRow(s);
          c.owner = s.Text(6);
          c.group = s.Text(7);
          std::string status = s.Text(8);
          auto parsed = ParseRunStatus(status);
          if (!parsed.ok()) return Corrupt("run status", status);
          c.run_status = *parsed;
          out.push_back(std::move(c));
        }
      }),
      out);
}

Result<int64_t> SqliteStore::LatestEventSeq() {
  int64_t latest = 0;
  return sqlite::ValueIfOk(Read([&](Connection& db) -> Status {
                             ASSIGN_OR_RETURN(
                                 Stmt s, db.Prepare("SELECT COALESCE(MAX(seq), 0) FROM events"));
                             ASSIGN_OR_RETURN(bool row, s.Step());
                             if (row) latest = s.Int(0);
                             return OkStatus();
                           }),
                           latest);
}

}  // namespace tug::store
