// SqliteStore: attempts' resource usage, downsampled into buckets (store/rules UsageBucketWidth).
#include <fmt/format.h>

#include "store/row_decoding.h"
#include "store/rules.h"
#include "store/sqlite/sqlite_internal.h"
#include "store/sqlite/sqlite_store.h"

namespace tug::store {

using sqlite::Connection;
using sqlite::Stmt;

Status SqliteStore::AppendUsage(const std::vector<UsageSample>& samples) {
  RETURN_IF_ERROR(CheckUsage(samples));
  if (samples.empty()) return OkStatus();
  return Write([&](Connection& db) -> Status {
    for (const UsageSample& s : samples) {
      // A reading joins its bucket: the highest memory, the sum of CPU (mean = sum / samples).
      ASSIGN_OR_RETURN(
          Stmt st,
          db.Prepare("INSERT INTO usage_samples (run_id, attempt_id, component, bucket_at, width, "
                     "memory_bytes, cpu_millis_sum, samples, memory_limit_bytes, "
                     "cpu_limit_millis) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?9) "
                     "ON CONFLICT (run_id, attempt_id, component, bucket_at) DO UPDATE SET "
                     "width = max(width, excluded.width), "
                     "memory_bytes = max(memory_bytes, excluded.memory_bytes), "
                     "cpu_millis_sum = cpu_millis_sum + excluded.cpu_millis_sum, "
                     "samples = samples + 1, "
                     "memory_limit_bytes = excluded.memory_limit_bytes, "
                     "cpu_limit_millis = excluded.cpu_limit_millis"));
      const UsageBucket bucket = UsageBucketOf(s);
      st.Bind(1, s.run_id)
          .Bind(2, s.attempt_id)
          .Bind(3, s.reading.component)
          .Bind(4, bucket.at)
          .Bind(5, bucket.width)
          .Bind(6, s.reading.memory_bytes)
          .Bind(7, s.reading.cpu_millis)
          .Bind(8, s.reading.memory_limit_bytes)
          .Bind(9, s.reading.cpu_limit_millis);
      RETURN_IF_ERROR(st.Run());
    }
    return OkStatus();
  });
}

Result<std::vector<UsagePoint>> SqliteStore::ListUsage(const std::string& run_id) {
  std::vector<UsagePoint> points;
  return sqlite::ValueIfOk(
      Read([&](Connection& db) -> Status {
        points.clear();
        ASSIGN_OR_RETURN(
            Stmt s, db.Prepare("SELECT " TUG_USAGE_COLUMNS " FROM usage_samples WHERE run_id = ? "
                               "ORDER BY attempt_id, component, bucket_at"));
        s.Bind(1, run_id);
        while (true) {
          ASSIGN_OR_RETURN(bool row, s.Step());
          if (!row) return OkStatus();
          points.push_back(DecodeUsageRow(s));
        }
      }),
      points);
}

}  // namespace tug::store
