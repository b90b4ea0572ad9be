#pragma once
/// Credentials from a web-identity token (EKS IAM roles for service accounts): the token in
/// AWS_WEB_IDENTITY_TOKEN_FILE is exchanged for temporary credentials of AWS_ROLE_ARN through
/// STS AssumeRoleWithWebIdentity (an unsigned call), session AWS_ROLE_SESSION_NAME (default
/// "tugboat"). The STS endpoint is AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL, else
/// https://sts.<AWS_REGION or us-east-1>.amazonaws.com.
///
/// Threading: thread-safe; the credentials are cached and fetched again (the token file re-read,
/// as the kubelet rotates it) five minutes before they expire.
/// Errors: kNotFound when the two variables are not set, kInternal for an unreadable token
/// file, STS's errors as AwsError() maps them (kPermissionDenied for a rejected token).
#include <memory>
#include <mutex>
#include <string>

#include "aws/credentials.h"
#include "core/clock.h"

namespace tug::aws {

/// "2026-12-07T06:48:37Z" or with fractional seconds -> Unix seconds; -1 when malformed.
int64_t ParseIso8601(const std::string& text);

/// The <Credentials> of an AssumeRoleWithWebIdentity answer.
[[nodiscard]] Result<Credentials> ParseAssumeRoleResponse(const std::string& xml);

class WebIdentityCredentialsProvider final : public CredentialsProvider {
 public:
  /// True when AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are both set.
  static bool Configured(const Env& env);
  WebIdentityCredentialsProvider(Env env, const Clock* clock);
  Result<Credentials> Get() override;

 private:
  Env env_;
  const Clock& clock_;
  std::mutex mu_;
  std::optional<Credentials> cached_;  // guarded by mu_
};

}  // namespace tug::aws
