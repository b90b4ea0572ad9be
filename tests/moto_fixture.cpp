#include "moto_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace tug::testing {
namespace {

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  (void)::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// moto_server's own entry point (moto.server.main), with one fix to its signature check: moto
// rebuilds the signed request from a URL whose query it has already percent-decoded
// ("prefix=a%2Fb" becomes "prefix=a/b") and botocore signs that raw, so any correctly signed
// query value with a reserved character fails (boto3's own list_objects_v2(Prefix="a/") fails
// the same way against moto 5.x). AWS decodes and re-encodes each name and value (RFC 3986,
// unreserved kept); the fix does exactly that before moto computes its signature. Nothing
// else is changed: every request is still verified against the IAM user's secret.
constexpr char kLauncher[] = R"PY(
import sys
from urllib.parse import quote, unquote
from moto.iam import access_control
original = access_control.IAMRequestBase.__init__
def canonical(path):
    base, sep, query = path.partition("?")
    if not sep:
        return path
    pairs = []
    for item in query.split("&"):
        k, eq, v = item.partition("=")
        pairs.append(quote(unquote(k), safe="-_.~") + eq + quote(unquote(v), safe="-_.~"))
    return base + "?" + "&".join(pairs)
def init(self, account_id, method, path, *args, **kwargs):
    original(self, account_id, method, canonical(path), *args, **kwargs)
access_control.IAMRequestBase.__init__ = init
from moto.server import main
sys.exit(main())
)PY";

bool Accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

std::string Form(const aws::NameValues& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += aws::UriEncode(k, false) + "=" + aws::UriEncode(v, false);
  }
  return out;
}

}  // namespace

MotoServer::~MotoServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

bool MotoServer::Start(std::string* error, bool verify_signatures) {
  char tmpl[] = "/tmp/tug-moto-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    *error = "mkdtemp failed";
    return false;
  }
  dir_ = tmpl;
  port_ = FreeLoopbackPort();
  std::string log = dir_ + "/moto.log";
  std::string port = std::to_string(port_);
  std::string count = std::to_string(kBootstrapCalls);
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (verify_signatures) ::setenv("INITIAL_NO_AUTH_ACTION_COUNT", count.c_str(), 1);
    ::setenv("MOTO_PORT", port.c_str(), 1);
    ::execlp("python3", "python3", "-c", kLauncher, "-H", "127.0.0.1", "-p", port.c_str(), nullptr);
    ::_exit(127);
  }
  // Poll the port; fail at once if moto exits (not installed, port taken).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      *error = "moto_server exited (is moto[server] installed? scripts/setup.sh): " + Log();
      return false;
    }
    if (Accepts(port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  *error = "moto_server did not accept connections: " + Log();
  return false;
}

std::string MotoServer::Log() const {
  std::ifstream f(dir_ + "/moto.log");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::unique_ptr<aws::AwsClient> MotoServer::Client(const std::string& service,
                                                   const aws::Credentials& credentials) const {
  aws::AwsClientOptions o;
  o.service = service;
  o.region = "us-east-1";
  o.endpoint = endpoint();
  o.credentials = std::make_shared<aws::StaticCredentialsProvider>(credentials);
  auto c = aws::AwsClient::Create(o);
  return c.ok() ? std::move(*c) : nullptr;
}

Result<aws::Credentials> MotoServer::CreateUser(const std::string& name,
                                                const std::string& actions) {
  // Signed with throwaway keys: the first kBootstrapCalls requests are not checked, but moto
  // picks the service from the signature's credential scope.
  aws::Credentials bootstrap{"AKIABOOTSTRAP0000000", "bootstrap", "", 0, "bootstrap"};
  auto iam = Client("iam", bootstrap);
  auto call = [&](const aws::NameValues& fields) -> Result<std::string> {
    aws::AwsRequest r;
    r.method = "POST";
    r.body = Form(fields);
    r.content_type = "application/x-www-form-urlencoded; charset=utf-8";
    ASSIGN_OR_RETURN(net::ClientResponse resp, iam->Send(r));
    if (resp.status != 200) return aws::AwsError(resp.status, resp.body, "iam");
    return resp.body;
  };
  RETURN_IF_ERROR(call({{"Action", "CreateUser"}, {"UserName", name}, {"Version", "2010-05-08"}}));
  std::string policy = R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":)" +
                       actions + R"(,"Resource":"*"}]})";
  RETURN_IF_ERROR(call({{"Action", "PutUserPolicy"},
                        {"UserName", name},
                        {"PolicyName", name + "-policy"},
                        {"PolicyDocument", policy},
                        {"Version", "2010-05-08"}}));
  ASSIGN_OR_RETURN(
      std::string key,
      call({{"Action", "CreateAccessKey"}, {"UserName", name}, {"Version", "2010-05-08"}}));
  aws::Credentials c;
  c.access_key_id = aws::XmlText(key, "AccessKeyId");
  c.secret_access_key = aws::XmlText(key, "SecretAccessKey");
  c.source = "moto iam user '" + name + "'";
  if (c.access_key_id.empty()) return Internal("no access key in: " + key);
  return c;
}

}  // namespace tug::testing
