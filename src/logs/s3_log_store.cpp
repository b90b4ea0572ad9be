#include "logs/s3_log_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

namespace tug::logs {

S3LogStore::S3LogStore(S3LogStoreOptions options, aws::S3Client& s3, std::string spool_root)
    : options_(std::move(options)), s3_(s3), spool_(std::move(spool_root)) {
  if (!options_.prefix.empty() && options_.prefix.back() != '/') options_.prefix += '/';
  options_.part_size = std::max<int64_t>(options_.part_size, 5 << 20);
}

std::string S3LogStore::Key(const std::string& run_id, const std::string& attempt_id,
                            const std::string& component) const {
  return options_.prefix + run_id + "/" + attempt_id + "/" + component + ".log";
}

Result<std::string> S3LogStore::PathFor(const std::string& run_id, const std::string& attempt_id,
                                        const std::string& component) {
  return spool_.PathFor(run_id, attempt_id, component);
}

Result<std::vector<std::string>> S3LogStore::Components(const std::string& run_id,
                                                        const std::string& attempt_id) {
  std::set<std::string> names;                         // sorted, as the filesystem store sorts
  auto local = spool_.Components(run_id, attempt_id);  // also checks the ids
  if (local.ok()) {
    names.insert(local->begin(), local->end());
  } else if (local.error().code() != Code::kNotFound) {
    return std::move(local).take_error();
  }
  std::string dir = options_.prefix + run_id + "/" + attempt_id + "/";
  ASSIGN_OR_RETURN(auto objects, s3_.ListObjectsV2(options_.bucket, dir));
  for (const auto& o : objects) {
    std::string rest = o.key.substr(dir.size());
    if (rest.size() > 4 && rest.ends_with(".log") && rest.find('/') == std::string::npos) {
      names.insert(rest.substr(0, rest.size() - 4));
    }
  }
  return std::vector<std::string>(names.begin(), names.end());
}

Result<Chunk> S3LogStore::Read(const std::string& run_id, const std::string& attempt_id,
                               const std::string& component, int64_t offset, size_t max_bytes) {
  auto local = spool_.Read(run_id, attempt_id, component, offset, max_bytes);
  if (local.ok() || local.error().code() != Code::kNotFound) return local;
  // The spool checked the ids and the component before saying kNotFound.
  if (offset < 0) return InvalidArgument("log offset must not be negative");
  if (max_bytes == 0) return Chunk{"", offset};
  auto got = s3_.GetObject(options_.bucket, Key(run_id, attempt_id, component), offset,
                           static_cast<int64_t>(max_bytes));
  if (!got.ok()) {
    if (got.error().code() == Code::kNotFound) {
      return NotFound(fmt::format("no '{}' log for attempt '{}' yet", component, attempt_id));
    }
    // 416: the offset is at (or past) the end of an archived log: nothing more to read.
    if (got.error().code() == Code::kFailedPrecondition) return Chunk{"", offset};
    return std::move(got).take_error();
  }
  Chunk chunk;
  chunk.data = std::move(got->data);
  // Whole lines only, as the filesystem store: one line longer than the buffer goes out as is.
  size_t last_nl = chunk.data.rfind('\n');
  bool at_end =
      got->total_size >= 0 && offset + static_cast<int64_t>(chunk.data.size()) >= got->total_size;
  if (last_nl == std::string::npos) {
    if (chunk.data.size() < max_bytes && !at_end) chunk.data.clear();
  } else if (!at_end) {
    chunk.data.resize(last_nl + 1);
  }
  chunk.next_offset = offset + static_cast<int64_t>(chunk.data.size());
  return chunk;
}

Status S3LogStore::Upload(const std::string& run_id, const std::string& attempt_id,
                          const std::string& component, const std::string& path) {
  std::string key = Key(run_id, attempt_id, component);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Internal(fmt::format("cannot open log '{}'", path));
  std::error_code ec;
  auto size = static_cast<int64_t>(std::filesystem::file_size(path, ec));
  if (ec) return Internal(fmt::format("cannot size log '{}'", path), ec.message());
  if (size < options_.multipart_threshold) {
    std::string body(static_cast<size_t>(size), '\0');
    in.read(body.data(), size);
    body.resize(static_cast<size_t>(in.gcount()));
    return s3_.PutObject(options_.bucket, key, body);
  }
  ASSIGN_OR_RETURN(std::string upload_id, s3_.CreateMultipartUpload(options_.bucket, key));
  std::vector<std::string> etags;
  std::string part(static_cast<size_t>(options_.part_size), '\0');
  while (in) {
    in.read(part.data(), options_.part_size);
    auto n = static_cast<size_t>(in.gcount());
    if (n == 0) break;
    auto etag = s3_.UploadPart(options_.bucket, key, upload_id, static_cast<int>(etags.size()) + 1,
                               part.substr(0, n));
    if (!etag.ok()) {
      // An abandoned upload keeps its parts (and costs) until aborted.
      (void)s3_.AbortMultipartUpload(options_.bucket, key, upload_id);
      return std::move(etag).take_error();
    }
    etags.push_back(std::move(*etag));
  }
  Status done = s3_.CompleteMultipartUpload(options_.bucket, key, upload_id, etags);
  if (!done.ok()) (void)s3_.AbortMultipartUpload(options_.bucket, key, upload_id);
  return done;
}

Status S3LogStore::Archive(const std::string& run_id, const std::string& attempt_id) {
  auto components = spool_.Components(run_id, attempt_id);
  if (!components.ok()) {
    if (components.error().code() == Code::kNotFound) return OkStatus();
    return std::move(components).take_error();
  }
  for (const std::string& c : *components) {
    ASSIGN_OR_RETURN(std::string path, spool_.PathFor(run_id, attempt_id, c));
    if (!std::filesystem::exists(path)) continue;
    RETURN_IF_ERROR(Upload(run_id, attempt_id, c, path));
  }
  return OkStatus();
}

Status S3LogStore::RemoveRun(const std::string& run_id) {
  RETURN_IF_ERROR(spool_.RemoveRun(run_id));  // also checks the id
  ASSIGN_OR_RETURN(auto objects,
                   s3_.ListObjectsV2(options_.bucket, options_.prefix + run_id + "/"));
  for (const auto& o : objects) {
    Status st = s3_.DeleteObject(options_.bucket, o.key);
    if (!st.ok() && st.error().code() != Code::kNotFound) return st;
  }
  return OkStatus();
}

}  // namespace tug::logs
