#include "engine/emr/emr_logs.h"

#include <zlib.h>

#include <fstream>
#include <map>
#include <regex>

namespace tug::engine::emr {

Result<std::pair<std::string, std::string>> SplitS3Uri(const std::string& uri) {
  if (uri.rfind("s3://", 0) != 0 || uri.size() <= 5) {
    return InvalidArgument("log uri '" + uri + "' must be s3://bucket/prefix");
  }
  std::string rest = uri.substr(5);
  size_t slash = rest.find('/');
  std::string bucket = rest.substr(0, slash);
  std::string prefix = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (!prefix.empty() && prefix.back() != '/') prefix += '/';
  if (bucket.empty()) return InvalidArgument("log uri '" + uri + "' has no bucket");
  return std::make_pair(bucket, prefix);
}

std::pair<std::string, std::string> EmrLogComponent(std::string_view relative_key) {
  std::string key(relative_key);
  std::string stream;
  if (key.ends_with("/stdout.gz")) stream = "stdout";
  if (key.ends_with("/stderr.gz")) stream = "stderr";
  if (stream.empty()) return {};
  std::string dir = key.substr(0, key.rfind('/'));
  bool nested = dir.find('/') != std::string::npos;  // <app id>/<pod>: Spark's pods
  std::string pod = dir.substr(dir.rfind('/') + 1);
  if (!nested) return {"controller", stream};  // the job runner pod (spark-submit)
  if (pod.ends_with("-driver")) return {"driver", stream};
  static const std::regex kExecutor(".*-exec-([0-9]+)$");
  std::smatch m;
  if (std::regex_match(pod, m, kExecutor)) return {"executor-" + m[1].str(), stream};
  return {};
}

Result<std::string> Gunzip(std::string_view data) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return Internal("zlib: inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[64 * 1024];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return Internal("not a gzip stream (zlib error " + std::to_string(rc) + ")");
    }
    out.append(buf, sizeof buf - zs.avail_out);
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      return Internal("truncated gzip stream");
    }
  }
  inflateEnd(&zs);
  return out;
}

Result<std::vector<std::string>> ImportEmrLogs(aws::S3Client& s3, const std::string& log_uri,
                                               const std::string& virtual_cluster_id,
                                               const std::string& job_run_id, logs::LogStore& store,
                                               const std::string& run_id,
                                               const std::string& attempt_id, Micros at) {
  ASSIGN_OR_RETURN(auto where, SplitS3Uri(log_uri));
  const auto& [bucket, prefix] = where;
  std::string containers = prefix + virtual_cluster_id + "/jobs/" + job_run_id + "/containers/";
  ASSIGN_OR_RETURN(auto objects, s3.ListObjectsV2(bucket, containers));
  // component -> stream -> text (the streams are written stdout first, below).
  std::map<std::string, std::map<std::string, std::string>> texts;
  for (const auto& o : objects) {
    auto [component, stream] = EmrLogComponent(std::string_view(o.key).substr(containers.size()));
    if (component.empty()) continue;
    ASSIGN_OR_RETURN(auto object, s3.GetObject(bucket, o.key));
    ASSIGN_OR_RETURN(std::string text, Gunzip(object.data));
    texts[component][stream] += text;
  }
  std::string stamp = FormatTimestamp(at);
  std::vector<std::string> written;
  for (const auto& [component, streams] : texts) {
    ASSIGN_OR_RETURN(std::string path, store.PathFor(run_id, attempt_id, component));
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    for (const char* stream : {"stdout", "stderr"}) {
      auto it = streams.find(stream);
      if (it == streams.end()) continue;
      size_t pos = 0;
      const std::string& t = it->second;
      while (pos < t.size()) {
        size_t nl = t.find('\n', pos);
        size_t end = nl == std::string::npos ? t.size() : nl;
        out << stamp << ' ' << stream << ' ' << std::string_view(t).substr(pos, end - pos) << '\n';
        pos = end + 1;
      }
    }
    if (!out) return Internal("writing log '" + path + "'");
    written.push_back(component);
  }
  return written;
}

}  // namespace tug::engine::emr
