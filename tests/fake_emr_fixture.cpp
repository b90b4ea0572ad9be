#include "fake_emr_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

#include "net/http_client.h"

#ifndef TUG_FAKE_EMR_SCRIPT
#error "TUG_FAKE_EMR_SCRIPT must name tests/fake_emr_containers.py"
#endif

namespace tug::testing {
namespace {

constexpr char kAccessKey[] = "AKIAFAKEEMR000000000";
constexpr char kSecretKey[] = "fake-emr-secret-key-for-tests";

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

FakeEmrServer::~FakeEmrServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

aws::Credentials FakeEmrServer::credentials() const {
  if (!credentials_.access_key_id.empty()) return credentials_;
  return aws::Credentials{kAccessKey, kSecretKey, "", 0, "fake emr keys"};
}

bool FakeEmrServer::Start(std::string* error, const FakeEmrOptions& options) {
  char tmpl[] = "/tmp/tug-fake-emr-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    *error = "mkdtemp failed";
    return false;
  }
  dir_ = tmpl;
  credentials_ = options.credentials;
  const aws::Credentials keys = credentials();
  const std::string port_file = dir_ + "/port";
  const std::string log = dir_ + "/fake.log";
  const std::string delay = std::to_string(options.submit_delay_seconds);
  const std::string grace = std::to_string(options.cancel_grace_seconds);
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::setenv("FAKE_EMR_S3_ACCESS_KEY_ID", options.s3_credentials.access_key_id.c_str(), 1);
    ::setenv("FAKE_EMR_S3_SECRET_ACCESS_KEY", options.s3_credentials.secret_access_key.c_str(), 1);
    ::execlp("python3", "python3", TUG_FAKE_EMR_SCRIPT, "--port-file", port_file.c_str(),
             "--access-key", keys.access_key_id.c_str(), "--secret-key",
             keys.secret_access_key.c_str(), "--s3-endpoint", options.s3_endpoint.c_str(),
             "--submit-delay", delay.c_str(), "--cancel-grace", grace.c_str(), nullptr);
    ::_exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      *error = "the fake emr-containers exited: " + Log();
      return false;
    }
    if (std::filesystem::exists(port_file)) {
      port_ = std::stoi(ReadFile(port_file));
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  *error = "the fake emr-containers wrote no port: " + Log();
  return false;
}

std::string FakeEmrServer::Log() const { return ReadFile(dir_ + "/fake.log"); }

std::unique_ptr<aws::EmrContainersClient> FakeEmrServer::Client() const {
  return Client(credentials());
}

std::unique_ptr<aws::EmrContainersClient> FakeEmrServer::Client(
    const aws::Credentials& credentials) const {
  aws::AwsClientOptions o;
  o.service = "emr-containers";
  o.region = "us-east-1";
  o.endpoint = endpoint();
  o.credentials = std::make_shared<aws::StaticCredentialsProvider>(credentials);
  auto c = aws::AwsClient::Create(o);
  if (!c.ok()) return nullptr;
  return std::make_unique<aws::EmrContainersClient>(std::move(*c));
}

Status FakeEmrServer::Control(const std::string& path, const std::string& body) {
  auto http = net::HttpClient::Create(endpoint());
  if (!http.ok()) return std::move(http).take_error();
  auto resp = http->Send("POST", path, body);
  if (!resp.ok()) return std::move(resp).take_error();
  if (resp->status != 200) return Internal("fake control " + path + ": " + resp->body);
  return OkStatus();
}

Status FakeEmrServer::MarkUnavailable(const std::string& vc) {
  return Control("/_fake/virtualclusters/" + vc + "/unavailable", R"({"unavailable":true})");
}

Status FakeEmrServer::FailJobRun(const std::string& job_run_id, const std::string& failure_reason,
                                 const std::string& state_details) {
  boost::json::object o{{"failureReason", failure_reason}, {"stateDetails", state_details}};
  return Control("/_fake/jobruns/" + job_run_id + "/fail", boost::json::serialize(o));
}

}  // namespace tug::testing
