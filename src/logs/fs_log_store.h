#pragma once
/// FsLogStore: logs as files under <root>/<run id>/<attempt id>/<component>.log.
/// Ids are checked before they touch a path, so no request can reach outside the root.
#include <string>

#include "logs/log_store.h"

namespace tug::logs {

class FsLogStore final : public LogStore {
 public:
  explicit FsLogStore(std::string root) : root_(std::move(root)) {}

  [[nodiscard]] Result<std::string> PathFor(const std::string& run_id,
                                            const std::string& attempt_id,
                                            const std::string& component) override;
  [[nodiscard]] Result<std::vector<std::string>> Components(const std::string& run_id,
                                                            const std::string& attempt_id) override;
  [[nodiscard]] Result<Chunk> Read(const std::string& run_id, const std::string& attempt_id,
                                   const std::string& component, int64_t offset,
                                   size_t max_bytes) override;

  [[nodiscard]] Status RemoveRun(const std::string& run_id) override;
  const std::string& root() const { return root_; }

 private:
  [[nodiscard]] Result<std::string> Dir(const std::string& run_id,
                                        const std::string& attempt_id) const;
  std::string root_;
};

}  // namespace tug::logs
