#include "aws/emr_containers.h"

#include <boost/json.hpp>

namespace tug::aws {
namespace {

std::string Str(const boost::json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string JobRunsPath(const std::string& vc) { return "/virtualclusters/" + vc + "/jobruns"; }

}  // namespace

JobRunInfo ParseJobRun(const boost::json::object& o) {
  JobRunInfo j;
  j.id = Str(o, "id");
  j.name = Str(o, "name");
  j.arn = Str(o, "arn");
  j.virtual_cluster_id = Str(o, "virtualClusterId");
  j.state = Str(o, "state");
  j.failure_reason = Str(o, "failureReason");
  j.state_details = Str(o, "stateDetails");
  j.client_token = Str(o, "clientToken");
  j.release_label = Str(o, "releaseLabel");
  if (const auto* tags = o.if_contains("tags"); tags != nullptr && tags->is_object()) {
    for (const auto& [k, v] : tags->as_object()) {
      if (v.is_string()) j.tags[std::string(k)] = std::string(v.as_string());
    }
  }
  return j;
}

Result<boost::json::object> EmrContainersClient::Call(AwsRequest request, const std::string& what) {
  request.content_type = "application/json";
  ASSIGN_OR_RETURN(net::ClientResponse response, client_->Send(request));
  if (response.status >= 300) {
    return AwsError(response.status, response.body, what, response.Header("x-amzn-errortype"));
  }
  if (response.body.empty()) return boost::json::object();
  boost::system::error_code ec;
  auto v = boost::json::parse(response.body, ec);
  if (ec || !v.is_object()) return Internal(what + ": emr-containers sent a body that is not JSON");
  return std::move(v.as_object());
}

Result<JobRunInfo> EmrContainersClient::StartJobRun(const std::string& virtual_cluster_id,
                                                    const boost::json::object& body) {
  AwsRequest r;
  r.method = "POST";
  r.path = JobRunsPath(virtual_cluster_id);
  // virtualClusterId is a URI member of StartJobRunRequest in the service model: it travels in
  // the path only, whatever the caller's object carries.
  boost::json::object wire = body;
  wire.erase("virtualClusterId");
  r.body = boost::json::serialize(wire);
  ASSIGN_OR_RETURN(auto o,
                   Call(r, "starting a job run on virtual cluster '" + virtual_cluster_id + "'"));
  return ParseJobRun(o);
}

Result<JobRunInfo> EmrContainersClient::DescribeJobRun(const std::string& virtual_cluster_id,
                                                       const std::string& id) {
  AwsRequest r;
  r.path = JobRunsPath(virtual_cluster_id) + "/" + id;
  ASSIGN_OR_RETURN(auto o, Call(r, "describing job run '" + id + "'"));
  const auto* job = o.if_contains("jobRun");
  if (job == nullptr || !job->is_object()) {
    return Internal("describing job run '" + id + "': no jobRun in the answer");
  }
  return ParseJobRun(job->as_object());
}

Status EmrContainersClient::CancelJobRun(const std::string& virtual_cluster_id,
                                         const std::string& id) {
  AwsRequest r;
  r.method = "DELETE";
  r.path = JobRunsPath(virtual_cluster_id) + "/" + id;
  auto done = Call(r, "cancelling job run '" + id + "'");
  if (!done.ok()) return std::move(done).take_error();
  return OkStatus();
}

Result<std::vector<JobRunInfo>> EmrContainersClient::ListJobRuns(
    const std::string& virtual_cluster_id, const std::string& name,
    const std::vector<std::string>& states) {
  std::vector<JobRunInfo> out;
  std::string token;
  while (true) {
    AwsRequest r;
    r.path = JobRunsPath(virtual_cluster_id);
    if (!name.empty()) r.query.emplace_back("name", name);
    for (const auto& s : states) r.query.emplace_back("states", s);
    if (!token.empty()) r.query.emplace_back("nextToken", token);
    ASSIGN_OR_RETURN(
        auto o, Call(r, "listing the job runs of virtual cluster '" + virtual_cluster_id + "'"));
    if (const auto* runs = o.if_contains("jobRuns"); runs != nullptr && runs->is_array()) {
      for (const auto& j : runs->as_array()) {
        if (j.is_object()) out.push_back(ParseJobRun(j.as_object()));
      }
    }
    token = Str(o, "nextToken");
    if (token.empty()) break;
  }
  return out;
}

Result<std::string> EmrContainersClient::CreateVirtualCluster(const std::string& name,
                                                              const std::string& eks_cluster,
                                                              const std::string& eks_namespace) {
  boost::json::object body{{"name", name},
                           {"clientToken", name},
                           {"containerProvider",
                            {{"id", eks_cluster},
                             {"type", "EKS"},
                             {"info", {{"eksInfo", {{"namespace", eks_namespace}}}}}}}};
  AwsRequest r;
  r.method = "POST";
  r.path = "/virtualclusters";
  r.body = boost::json::serialize(body);
  ASSIGN_OR_RETURN(auto o, Call(r, "creating virtual cluster '" + name + "'"));
  std::string id = Str(o, "id");
  if (id.empty()) return Internal("creating virtual cluster '" + name + "': no id in the answer");
  return id;
}

}  // namespace tug::aws
