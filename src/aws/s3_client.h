#pragma once
/// The few S3 calls Tugboat needs, path-style (endpoint/bucket/key), on AwsClient.
///
/// Threading: thread-safe (AwsClient is). Errors: as AwsError() maps them; kNotFound for a
/// missing bucket or key; a Range past the end of an object is kFailedPrecondition.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/aws_client.h"

namespace tug::aws {

struct S3Object {
  std::string key;
  int64_t size = 0;
};

struct S3Range {
  std::string data;
  int64_t total_size = -1;  // from Content-Range ("bytes 0-9/42"); -1 when not sent
};

class S3Client {
 public:
  explicit S3Client(std::unique_ptr<AwsClient> client) : client_(std::move(client)) {}

  [[nodiscard]] Status CreateBucket(const std::string& bucket);
  [[nodiscard]] Status PutObject(const std::string& bucket, const std::string& key,
                                 const std::string& body);
  /// The whole object, or bytes [offset, offset + length) of it when length > 0.
  [[nodiscard]] Result<S3Range> GetObject(const std::string& bucket, const std::string& key,
                                          int64_t offset = 0, int64_t length = 0);
  /// Every key under prefix (follows continuation tokens), in S3's (lexicographic) order.
  [[nodiscard]] Result<std::vector<S3Object>> ListObjectsV2(const std::string& bucket,
                                                            const std::string& prefix);
  [[nodiscard]] Status DeleteObject(const std::string& bucket, const std::string& key);

  /// Multipart upload: Create returns the upload id; parts are numbered from 1 and (but the last)
  /// at least 5 MiB; Complete takes the ETags UploadPart returned, in order.
  [[nodiscard]] Result<std::string> CreateMultipartUpload(const std::string& bucket,
                                                          const std::string& key);
  [[nodiscard]] Result<std::string> UploadPart(const std::string& bucket, const std::string& key,
                                               const std::string& upload_id, int part_number,
                                               const std::string& body);
  [[nodiscard]] Status CompleteMultipartUpload(const std::string& bucket, const std::string& key,
                                               const std::string& upload_id,
                                               const std::vector<std::string>& etags);
  [[nodiscard]] Status AbortMultipartUpload(const std::string& bucket, const std::string& key,
                                            const std::string& upload_id);

  AwsClient& client() { return *client_; }

 private:
  [[nodiscard]] Result<net::ClientResponse> Call(AwsRequest request, const std::string& what);
  std::unique_ptr<AwsClient> client_;
};

}  // namespace tug::aws
