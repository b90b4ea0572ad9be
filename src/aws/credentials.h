#pragma once
/// Where AWS credentials come from, in the SDKs' order: the environment
/// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), then the shared credentials file
/// (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile AWS_PROFILE or "default").
///
/// The environment is injected (an `Env` lookup) so tests never touch the process's.
/// Threading: the functions are thread-safe; a CredentialsProvider is thread-safe.
/// Errors: kNotFound when a source has nothing (the chain moves on), kInvalidArgument for a
/// half-configured source (an id without a secret), kInternal for an unreadable file.
/// Secrets never appear in error messages.
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "aws/sigv4.h"
#include "core/clock.h"
#include "core/error.h"

namespace tug::aws {

/// Looks an environment variable up; std::nullopt when unset.
using Env = std::function<std::optional<std::string>(const std::string& name)>;
/// The process's environment.
Env ProcessEnv();

[[nodiscard]] Result<Credentials> FromEnvironment(const Env& env);
/// Parses an INI credentials file's text for `profile`.
[[nodiscard]] Result<Credentials> ParseSharedCredentials(const std::string& text,
                                                         const std::string& profile,
                                                         const std::string& path);
[[nodiscard]] Result<Credentials> FromSharedFile(const Env& env);

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  /// Current credentials (refreshed when temporary ones are about to expire).
  [[nodiscard]] virtual Result<Credentials> Get() = 0;
};

/// Fixed credentials (tests, config).
class StaticCredentialsProvider final : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(Credentials credentials)
      : credentials_(std::move(credentials)) {}
  Result<Credentials> Get() override { return credentials_; }

 private:
  Credentials credentials_;
};

/// Tries each source in order on every Get(): the environment's keys, a web-identity token
/// (web_identity.h; its credentials cached until shortly before they expire), the shared
/// credentials file. kNotFound with a message naming every source when none has credentials.
class DefaultCredentialsChain final : public CredentialsProvider {
 public:
  explicit DefaultCredentialsChain(Env env, const Clock* clock = nullptr);
  ~DefaultCredentialsChain() override;
  Result<Credentials> Get() override;

 private:
  Env env_;
  std::unique_ptr<CredentialsProvider> web_identity_;
};

}  // namespace tug::aws
