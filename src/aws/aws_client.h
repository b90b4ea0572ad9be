#pragma once
/// A SigV4-signing HTTP(S) client for one AWS service in one region, on net::HttpClient
/// (Boost.Beast, TLS through OpenSSL; no Asio/Beast in this header).
///
/// Lifecycle: Create() parses the endpoint (no I/O); requests connect lazily and keep one
/// keep-alive connection. Threading: thread-safe (one request at a time, behind a mutex).
/// Errors: transport errors as net::HttpClient reports them; AWS error responses (4xx/5xx) as
/// AwsError(): 400 kInvalidArgument, 401/403 kPermissionDenied, 404 kNotFound, 409 kAborted,
/// 416 kFailedPrecondition, 429/5xx kUnavailable; whatever the status, *NotFoundException and
/// NoSuch* are kNotFound. The AWS error code and HTTP status are the detail. Credentials never
/// appear in errors or logs.
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "core/clock.h"
#include "core/error.h"
#include "net/http_client.h"

namespace tug::aws {

struct AwsClientOptions {
  std::string service;  // signing name: "s3", "emr-containers", "sts", "iam"
  std::string region = "us-east-1";
  /// "http://127.0.0.1:5000" (tests, S3-compatible stores); empty:
  /// https://<service>.<region>.amazonaws.com
  std::string endpoint;
  std::shared_ptr<CredentialsProvider> credentials;
  const Clock* clock = nullptr;  // nullptr: the system clock
  std::chrono::milliseconds timeout{30000};
  net::TlsOptions tls;
};

struct AwsRequest {
  std::string method = "GET";
  std::string path = "/";  // decoded; encoded on the wire
  NameValues query;
  NameValues headers;  // extra headers, signed too
  std::string body;
  std::string content_type = "application/json";
};

/// The default endpoint for a service and region.
std::string DefaultEndpoint(const std::string& service, const std::string& region);

/// An AWS error response as an Error (see the file comment); `body` is the XML or JSON error,
/// `error_type` the x-amzn-ErrorType header of REST-JSON services (used when the body names no
/// error).
Error AwsError(int status, const std::string& body, const std::string& what,
               std::string_view error_type = {});

class AwsClient {
 public:
  [[nodiscard]] static Result<std::unique_ptr<AwsClient>> Create(AwsClientOptions options);

  /// Signs and sends; HTTP error statuses come back as responses (use AwsError to convert).
  [[nodiscard]] Result<net::ClientResponse> Send(const AwsRequest& request);

  const AwsClientOptions& options() const { return options_; }

 private:
  AwsClient(AwsClientOptions options, net::HttpClient http, std::string host);
  AwsClientOptions options_;
  std::mutex mu_;
  net::HttpClient http_;  // guarded by mu_
  std::string host_;      // the Host header net::HttpClient sends, signed
};

/// Text of the first <tag>...</tag> in xml, XML entities decoded ("" when absent).
std::string XmlText(const std::string& xml, const std::string& tag, size_t* pos = nullptr);

}  // namespace tug::aws
