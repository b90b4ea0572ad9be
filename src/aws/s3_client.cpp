#include "aws/s3_client.h"

namespace tug::aws {
namespace {

std::string ObjectPath(const std::string& bucket, const std::string& key) {
  return "/" + bucket + "/" + key;
}

}  // namespace

Result<net::ClientResponse> S3Client::Call(AwsRequest request, const std::string& what) {
  ASSIGN_OR_RETURN(net::ClientResponse response, client_->Send(request));
  if (response.status >= 300) return AwsError(response.status, response.body, what);
  return response;
}

Status S3Client::CreateBucket(const std::string& bucket) {
  AwsRequest r;
  r.method = "PUT";
  r.path = "/" + bucket;
  r.content_type = "application/xml";
  auto created = Call(r, "creating bucket '" + bucket + "'");
  if (!created.ok()) return std::move(created).take_error();
  return OkStatus();
}

Status S3Client::PutObject(const std::string& bucket, const std::string& key,
                           const std::string& body) {
  AwsRequest r;
  r.method = "PUT";
  r.path = ObjectPath(bucket, key);
  r.body = body;
  r.content_type = "text/plain; charset=utf-8";
  auto put = Call(r, "putting s3://" + bucket + "/" + key);
  if (!put.ok()) return std::move(put).take_error();
  return OkStatus();
}

Result<S3Range> S3Client::GetObject(const std::string& bucket, const std::string& key,
                                    int64_t offset, int64_t length) {
  AwsRequest r;
  r.path = ObjectPath(bucket, key);
  if (length > 0) {
    r.headers.emplace_back(
        "range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1));
  }
  ASSIGN_OR_RETURN(net::ClientResponse response, Call(r, "reading s3://" + bucket + "/" + key));
  S3Range out;
  out.data = std::move(response.body);
  std::string range = response.Header("content-range");
  if (auto slash = range.rfind('/'); slash != std::string::npos && range.back() != '*') {
    out.total_size = std::stoll(range.substr(slash + 1));
  } else if (length <= 0) {
    out.total_size = static_cast<int64_t>(out.data.size());
  }
  return out;
}

Result<std::vector<S3Object>> S3Client::ListObjectsV2(const std::string& bucket,
                                                      const std::string& prefix) {
  std::vector<S3Object> out;
  std::string token;
  while (true) {
    AwsRequest r;
    r.path = "/" + bucket;
    r.query = {{"list-type", "2"}, {"prefix", prefix}};
    if (!token.empty()) r.query.emplace_back("continuation-token", token);
    ASSIGN_OR_RETURN(net::ClientResponse response,
                     Call(r, "listing s3://" + bucket + "/" + prefix));
    size_t pos = 0;
    while (true) {
      size_t contents = response.body.find("<Contents>", pos);
      if (contents == std::string::npos) break;
      size_t end = response.body.find("</Contents>", contents);
      if (end == std::string::npos) break;
      std::string item = response.body.substr(contents, end - contents);
      S3Object o;
      o.key = XmlText(item, "Key");
      std::string size = XmlText(item, "Size");
      o.size = size.empty() ? 0 : std::stoll(size);
      out.push_back(std::move(o));
      pos = end;
    }
    if (XmlText(response.body, "IsTruncated") != "true") break;
    token = XmlText(response.body, "NextContinuationToken");
    if (token.empty()) break;
  }
  return out;
}

Status S3Client::DeleteObject(const std::string& bucket, const std::string& key) {
  AwsRequest r;
  r.method = "DELETE";
  r.path = ObjectPath(bucket, key);
  auto deleted = Call(r, "deleting s3://" + bucket + "/" + key);
  if (!deleted.ok()) return std::move(deleted).take_error();
  return OkStatus();
}

Result<std::string> S3Client::CreateMultipartUpload(const std::string& bucket,
                                                    const std::string& key) {
  AwsRequest r;
  r.method = "POST";
  r.path = ObjectPath(bucket, key);
  r.query = {{"uploads", ""}};
  r.content_type = "text/plain; charset=utf-8";
  ASSIGN_OR_RETURN(net::ClientResponse response,
                   Call(r, "starting an upload to s3://" + bucket + "/" + key));
  std::string id = XmlText(response.body, "UploadId");
  if (id.empty()) return Internal("S3 sent no UploadId for s3://" + bucket + "/" + key);
  return id;
}

Result<std::string> S3Client::UploadPart(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id, int part_number,
                                         const std::string& body) {
  AwsRequest r;
  r.method = "PUT";
  r.path = ObjectPath(bucket, key);
  r.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}};
  r.body = body;
  r.content_type = "application/octet-stream";
  ASSIGN_OR_RETURN(
      net::ClientResponse response,
      Call(r, "uploading part " + std::to_string(part_number) + " of s3://" + bucket + "/" + key));
  std::string etag = response.Header("etag");
  if (etag.empty()) return Internal("S3 sent no ETag for a part of s3://" + bucket + "/" + key);
  return etag;
}

Status S3Client::CompleteMultipartUpload(const std::string& bucket, const std::string& key,
                                         const std::string& upload_id,
                                         const std::vector<std::string>& etags) {
  AwsRequest r;
  r.method = "POST";
  r.path = ObjectPath(bucket, key);
  r.query = {{"uploadId", upload_id}};
  r.content_type = "application/xml";
  r.body = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < etags.size(); ++i) {
    r.body += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + etags[i] +
              "</ETag></Part>";
  }
  r.body += "</CompleteMultipartUpload>";
  ASSIGN_OR_RETURN(net::ClientResponse response,
                   Call(r, "completing the upload to s3://" + bucket + "/" + key));
  // S3 may answer 200 with an <Error> body when completing fails late.
  if (response.body.find("<Error>") != std::string::npos) {
    return AwsError(500, response.body, "completing the upload to s3://" + bucket + "/" + key);
  }
  return OkStatus();
}

Status S3Client::AbortMultipartUpload(const std::string& bucket, const std::string& key,
                                      const std::string& upload_id) {
  AwsRequest r;
  r.method = "DELETE";
  r.path = ObjectPath(bucket, key);
  r.query = {{"uploadId", upload_id}};
  auto aborted = Call(r, "aborting the upload to s3://" + bucket + "/" + key);
  if (!aborted.ok()) return std::move(aborted).take_error();
  return OkStatus();
}

}  // namespace tug::aws
