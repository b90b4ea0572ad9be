#pragma once
/// Test support: a real moto server (`moto_server`, moto 5) as a separate process on a free
/// loopback port, started with INITIAL_NO_AUTH_ACTION_COUNT so that after the first few
/// (unauthenticated) calls every request's SigV4 signature is verified. CreateUser() spends
/// those calls on an IAM user with an inline policy and an access key.
///
/// Lifecycle: Start() forks moto_server and polls its port until it accepts (failing at once
/// if the process exits); the destructor SIGTERMs and reaps it. Not thread-safe.
#include <sys/types.h>

#include <memory>
#include <string>

#include "aws/aws_client.h"
#include "aws/credentials.h"

namespace tug::testing {

class MotoServer {
 public:
  /// The number of unauthenticated calls: CreateUser, PutUserPolicy, CreateAccessKey.
  static constexpr int kBootstrapCalls = 3;

  MotoServer() = default;
  ~MotoServer();
  MotoServer(const MotoServer&) = delete;
  MotoServer& operator=(const MotoServer&) = delete;

  /// Starts moto_server; false (with the reason in *error) when it cannot. Without
  /// `verify_signatures` moto checks no signature at all (for unsigned calls such as STS
  /// AssumeRoleWithWebIdentity).
  bool Start(std::string* error, bool verify_signatures = true);
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  /// The server's output so far (for failure messages).
  std::string Log() const;

  /// An IAM user allowed `actions` (a JSON array of strings, e.g. R"(["s3:*"])") on every
  /// resource, and its access key. Spends the unauthenticated calls; call once, first.
  [[nodiscard]] Result<aws::Credentials> CreateUser(const std::string& name,
                                                    const std::string& actions);

  /// A client for `service` signing with `credentials`.
  std::unique_ptr<aws::AwsClient> Client(const std::string& service,
                                         const aws::Credentials& credentials) const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
};

}  // namespace tug::testing
