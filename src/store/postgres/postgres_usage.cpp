// PostgresStore: attempts' resource usage, downsampled into buckets (store/rules
// UsageBucketWidth).
#include <fmt/format.h>

#include "store/postgres/postgres_store.h"
#include "store/postgres/transaction.h"
#include "store/row_decoding.h"
#include "store/rules.h"

namespace tug::store {

using pg::P;
using pg::Rows;
using pg::Tx;

Status PostgresStore::AppendUsage(const std::vector<UsageSample>& samples) {
  RETURN_IF_ERROR(CheckUsage(samples));
  if (samples.empty()) return OkStatus();
  return Write([&](Tx& tx) -> Status {
    for (const UsageSample& s : samples) {
      // A reading joins its bucket: the highest memory, the sum of CPU (mean = sum / samples).
      // One row per statement: a multi-row upsert may not touch one bucket twice.
      const UsageBucket bucket = UsageBucketOf(s);
      tx.Queue(
          "INSERT INTO usage_samples AS u (run_id, attempt_id, component, bucket_at, width, "
          "memory_bytes, cpu_millis_sum, samples, memory_limit_bytes, cpu_limit_millis) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9) "
          "ON CONFLICT (run_id, attempt_id, component, bucket_at) DO UPDATE SET "
          "width = GREATEST(u.width, EXCLUDED.width), "
          "memory_bytes = GREATEST(u.memory_bytes, EXCLUDED.memory_bytes), "
          "cpu_millis_sum = u.cpu_millis_sum + EXCLUDED.cpu_millis_sum, "
          "samples = u.samples + 1, "
          "memory_limit_bytes = EXCLUDED.memory_limit_bytes, "
          "cpu_limit_millis = EXCLUDED.cpu_limit_millis",
          P(s.run_id, s.attempt_id, s.reading.component, bucket.at, bucket.width,
            s.reading.memory_bytes, s.reading.cpu_millis, s.reading.memory_limit_bytes,
            s.reading.cpu_limit_millis));
    }
    return OkStatus();
  });
}

Result<std::vector<UsagePoint>> PostgresStore::ListUsage(const std::string& run_id) {
  std::vector<UsagePoint> points;
  return ValueIfOk(
      Read([&](Tx& tx) -> Status {
        ASSIGN_OR_RETURN(
            Rows rows, tx.Exec("SELECT " TUG_USAGE_COLUMNS " FROM usage_samples WHERE run_id = $1 "
                               "ORDER BY attempt_id, component, bucket_at",
                               P(run_id)));
        points.clear();
        for (int i = 0; i < rows.size(); ++i) {
          points.push_back(DecodeUsageRow(pg::Row(rows, i)));
        }
        return OkStatus();
      }),
      points);
}

}  // namespace tug::store
