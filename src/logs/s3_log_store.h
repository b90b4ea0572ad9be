#pragma once
/// S3LogStore: logs archived in S3 under <prefix><run id>/<attempt id>/<component>.log, with a
/// local spool (an FsLogStore) that live writers append to.
///
/// Writers (the shim, the Kubernetes engines) keep appending to PathFor() in the spool; when an
/// attempt has ended the controller calls Archive(), which uploads each component log
/// (PutObject, or a multipart upload above `multipart_threshold`). Reads are served from the
/// spool while it has the log (same bytes, same offsets) and otherwise from S3 with a ranged
/// GetObject, so a replica without the spool, or a server after the spool is gone, still reads
/// every archived log. The spool copy is kept (retention removes both): an engine may still be
/// appending its last lines when the end is recorded.
///
/// Threading: thread-safe (the S3 client is). Errors: as LogStore; S3 failures are
/// kUnavailable/kPermissionDenied with the S3 error code as detail.
#include <cstdint>
#include <string>

#include "aws/s3_client.h"
#include "logs/fs_log_store.h"
#include "logs/log_store.h"

namespace tug::logs {

struct S3LogStoreOptions {
  std::string bucket;
  std::string prefix;  // "tug/logs/" (a trailing '/' is added when missing)
  int64_t multipart_threshold = 16 << 20;
  int64_t part_size = 8 << 20;  // S3's minimum is 5 MiB for every part but the last
};

class S3LogStore final : public LogStore {
 public:
  S3LogStore(S3LogStoreOptions options, aws::S3Client& s3, std::string spool_root);

  [[nodiscard]] Result<std::string> PathFor(const std::string& run_id,
                                            const std::string& attempt_id,
                                            const std::string& component) override;
  [[nodiscard]] Result<std::vector<std::string>> Components(const std::string& run_id,
                                                            const std::string& attempt_id) override;
  [[nodiscard]] Result<Chunk> Read(const std::string& run_id, const std::string& attempt_id,
                                   const std::string& component, int64_t offset,
                                   size_t max_bytes) override;
  [[nodiscard]] Status RemoveRun(const std::string& run_id) override;
  [[nodiscard]] Status Archive(const std::string& run_id, const std::string& attempt_id) override;

  /// Uploads `path` as the log of one component (multipart when large).
  [[nodiscard]] Status Upload(const std::string& run_id, const std::string& attempt_id,
                              const std::string& component, const std::string& path);
  /// "<prefix><run>/<attempt>/<component>.log"
  std::string Key(const std::string& run_id, const std::string& attempt_id,
                  const std::string& component) const;

 private:
  S3LogStoreOptions options_;
  aws::S3Client& s3_;
  FsLogStore spool_;
};

}  // namespace tug::logs
