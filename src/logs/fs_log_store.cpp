#include "logs/fs_log_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include <fmt/format.h>

#include "core/ids.h"

namespace fs = std::filesystem;

namespace tug::logs {

std::string StripLinePrefixes(const std::string& data) {
  std::string out;
  out.reserve(data.size());
  size_t pos = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    size_t end = nl == std::string::npos ? data.size() : nl + 1;
    size_t first = data.find(' ', pos);
    size_t second =
        first == std::string::npos || first >= end ? std::string::npos : data.find(' ', first + 1);
    if (second != std::string::npos && second < end) {
      // The platform's own lines (stream "tugboat") stay recognisable without timestamps.
      if (data.compare(first + 1, second - first - 1, "tugboat") == 0) out += "[tugboat] ";
      out.append(data, second + 1, end - second - 1);
    } else {
      out.append(data, pos, end - pos);
    }
    pos = end;
  }
  return out;
}

Status ValidateComponent(const std::string& component) {
  bool ok = !component.empty() && component.size() <= 63;
  for (char c : component)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (!ok) {
    return InvalidArgument(fmt::format(
        "component '{}' is not valid; use main, controller, driver or executor-N", component));
  }
  return OkStatus();
}

Result<std::string> FsLogStore::Dir(const std::string& run_id,
                                    const std::string& attempt_id) const {
  if (!IsValidId(run_id)) return InvalidArgument(fmt::format("run id '{}' is not valid", run_id));
  bool ok = attempt_id.size() > run_id.size() + 1 &&
            attempt_id.compare(0, run_id.size(), run_id) == 0 && attempt_id[run_id.size()] == '-';
  for (size_t i = run_id.size() + 1; ok && i < attempt_id.size(); ++i) {
    ok = attempt_id[i] >= '0' && attempt_id[i] <= '9';
  }
  if (!ok) {
    return InvalidArgument(
        fmt::format("attempt id '{}' does not belong to run '{}'", attempt_id, run_id));
  }
  return root_ + "/" + run_id + "/" + attempt_id;
}

Status FsLogStore::RemoveRun(const std::string& run_id) {
  if (!IsValidId(run_id)) return InvalidArgument(fmt::format("run id '{}' is not valid", run_id));
  std::error_code ec;
  fs::remove_all(root_ + "/" + run_id, ec);
  if (ec) return Internal(fmt::format("removing the logs of run '{}'", run_id), ec.message());
  return OkStatus();
}

Result<std::string> FsLogStore::PathFor(const std::string& run_id, const std::string& attempt_id,
                                        const std::string& component) {
  ASSIGN_OR_RETURN(std::string dir, Dir(run_id, attempt_id));
  RETURN_IF_ERROR(ValidateComponent(component));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Internal(fmt::format("creating log directory '{}'", dir), ec.message());
  return dir + "/" + component + ".log";
}

Result<std::vector<std::string>> FsLogStore::Components(const std::string& run_id,
                                                        const std::string& attempt_id) {
  ASSIGN_OR_RETURN(std::string dir, Dir(run_id, attempt_id));
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() == ".log") out.push_back(p.stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<Chunk> FsLogStore::Read(const std::string& run_id, const std::string& attempt_id,
                               const std::string& component, int64_t offset, size_t max_bytes) {
  ASSIGN_OR_RETURN(std::string dir, Dir(run_id, attempt_id));
  RETURN_IF_ERROR(ValidateComponent(component));
  if (offset < 0) return InvalidArgument("log offset must not be negative");
  std::string path = dir + "/" + component + ".log";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return NotFound(fmt::format("no '{}' log for attempt '{}' yet", component, attempt_id));
    }
    return ErrnoError(fmt::format("opening log '{}'", path), errno);
  }
  Chunk chunk;
  chunk.data.resize(max_bytes);
  ssize_t n = ::pread(fd, chunk.data.data(), max_bytes, offset);
  int err = errno;
  ::close(fd);
  if (n < 0) return ErrnoError(fmt::format("reading log '{}'", path), err);
  chunk.data.resize(static_cast<size_t>(n));
  // Hand out whole lines only; a partial last line waits for its newline, unless one line fills
  // the whole buffer (then it goes out as is, so a reader never stalls).
  size_t last_nl = chunk.data.rfind('\n');
  if (last_nl == std::string::npos) {
    if (chunk.data.size() < max_bytes) chunk.data.clear();
  } else {
    chunk.data.resize(last_nl + 1);
  }
  chunk.next_offset = offset + static_cast<int64_t>(chunk.data.size());
  return chunk;
}

}  // namespace tug::logs
