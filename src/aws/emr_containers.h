#pragma once
/// The emr-containers API (EMR on EKS, version 2020-10-01): the job-run calls the emr-on-eks
/// engine makes, plus CreateVirtualCluster for tests. REST-JSON on AwsClient (service
/// "emr-containers").
///
/// Threading: thread-safe. Errors: AwsError() mapping: ValidationException 400
/// kInvalidArgument, ResourceNotFoundException 404 kNotFound, InternalServerException 500
/// kUnavailable; the AWS error name is in Error::detail().
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "aws/aws_client.h"

namespace tug::aws {

struct JobRunInfo {
  std::string id;
  std::string name;
  std::string arn;
  std::string virtual_cluster_id;
  std::string state;  // PENDING SUBMITTED RUNNING COMPLETED FAILED CANCEL_PENDING CANCELLED
  std::string failure_reason;  // INTERNAL_ERROR USER_ERROR VALIDATION_ERROR CLUSTER_UNAVAILABLE
  std::string state_details;
  std::string client_token;
  std::string release_label;
  std::map<std::string, std::string> tags;
};

class EmrContainersClient {
 public:
  explicit EmrContainersClient(std::unique_ptr<AwsClient> client) : client_(std::move(client)) {}

  /// POST /virtualclusters/{id}/jobruns with `body` (name, clientToken, executionRoleArn,
  /// releaseLabel, jobDriver, configurationOverrides, tags; a virtualClusterId member is left
  /// out: it is the path's); returns id, name, arn.
  [[nodiscard]] Result<JobRunInfo> StartJobRun(const std::string& virtual_cluster_id,
                                               const boost::json::object& body);
  [[nodiscard]] Result<JobRunInfo> DescribeJobRun(const std::string& virtual_cluster_id,
                                                  const std::string& id);
  [[nodiscard]] Status CancelJobRun(const std::string& virtual_cluster_id, const std::string& id);
  /// Every job run of the cluster (follows nextToken), optionally only those named `name` and
  /// in `states`.
  [[nodiscard]] Result<std::vector<JobRunInfo>> ListJobRuns(
      const std::string& virtual_cluster_id, const std::string& name = "",
      const std::vector<std::string>& states = {});
  /// Tests and setup: a virtual cluster on an EKS namespace; returns its id.
  [[nodiscard]] Result<std::string> CreateVirtualCluster(const std::string& name,
                                                         const std::string& eks_cluster,
                                                         const std::string& eks_namespace);

 private:
  [[nodiscard]] Result<boost::json::object> Call(AwsRequest request, const std::string& what);
  std::unique_ptr<AwsClient> client_;
};

/// A describe/list item as JobRunInfo (missing fields are empty).
JobRunInfo ParseJobRun(const boost::json::object& o);

}  // namespace tug::aws
