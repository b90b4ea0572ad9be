#pragma once
/// Test support: the fake emr-containers service (tests/fake_emr_containers.py, built from
/// AWS's published service model; see the script's docstring for what it does and why) as a
/// separate process on a loopback port it picks itself, verifying every request's SigV4
/// signature against one key pair and uploading its job runs' logs to an S3 endpoint (moto's).
///
/// Lifecycle: Start() forks python3 and waits for the port file (failing at once if the
/// process exits); the destructor SIGTERMs it (it kills its job processes) and reaps it.
/// Not thread-safe.
#include <sys/types.h>

#include <memory>
#include <string>

#include "aws/aws_client.h"
#include "aws/credentials.h"
#include "aws/emr_containers.h"

namespace tug::testing {

struct FakeEmrOptions {
  std::string s3_endpoint;  // "" : logs are not uploaded
  aws::Credentials s3_credentials;
  /// The keys the fake accepts; empty: its own (credentials()).
  aws::Credentials credentials;
  double submit_delay_seconds = 0.05;
  double cancel_grace_seconds = 2.0;
};

class FakeEmrServer {
 public:
  FakeEmrServer() = default;
  ~FakeEmrServer();
  FakeEmrServer(const FakeEmrServer&) = delete;
  FakeEmrServer& operator=(const FakeEmrServer&) = delete;

  bool Start(std::string* error, const FakeEmrOptions& options = {});
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  /// The keys the fake accepts.
  aws::Credentials credentials() const;
  std::string Log() const;

  /// A client signing with credentials() (or `credentials`).
  std::unique_ptr<aws::EmrContainersClient> Client() const;
  std::unique_ptr<aws::EmrContainersClient> Client(const aws::Credentials& credentials) const;

  /// The test controls (see the script): later runs on `vc` fail CLUSTER_UNAVAILABLE; a run
  /// ends FAILED with `failure_reason`.
  [[nodiscard]] Status MarkUnavailable(const std::string& vc);
  [[nodiscard]] Status FailJobRun(const std::string& job_run_id, const std::string& failure_reason,
                                  const std::string& state_details);

 private:
  [[nodiscard]] Status Control(const std::string& path, const std::string& body);
  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
  aws::Credentials credentials_;
};

}  // namespace tug::testing
