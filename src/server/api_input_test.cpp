// API v1 against bad input, over a real HttpServer on loopback (port 0) on a real SQLite store:
// every bad body or path gets a 4xx whose message names the problem, and leaves no row behind.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "net/http_client.h"
#include "net/http_server.h"
#include "server/api_harness.h"

namespace tug::server {
namespace {

namespace json = boost::json;

constexpr const char* kJson = "application/json";
constexpr const char* kYaml = "application/yaml";

struct Reply {
  int status = 0;
  std::string code;
  std::string message;
  std::string raw;
};

class ApiInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tug_api_input_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto api = ApiHarness::Open(dir_);
    ASSERT_TRUE(api.ok()) << api.error().ToString();
    api_ = std::move(*api);
    net::Router router;
    api_->Register(router);
    net::ServerOptions o;
    o.port = 0;
    http_ = std::make_unique<net::HttpServer>(o, std::move(router));
    ASSERT_TRUE(http_->Start().ok());
    auto c = net::HttpClient::Create("http://127.0.0.1:" + std::to_string(http_->port()));
    ASSERT_TRUE(c.ok());
    client_ = std::make_unique<net::HttpClient>(std::move(*c));
    ASSERT_EQ(Call("PUT", "/api/v1/definitions/hello",
                   R"({"name":"hello","command":"echo hi","resources":{"memory":"64Mi"}})")
                  .status,
              201);
  }
  void TearDown() override {
    client_.reset();
    if (http_) http_->Stop();
    http_.reset();
    api_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Reply Call(const std::string& method, const std::string& target, const std::string& body = "",
             const std::string& content_type = kJson) {
    auto r = client_->Send(method, target, body, content_type);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().ToString());
    if (!r.ok()) return {};
    Reply out{r->status, "", "", r->body};
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    if (!ec && v.is_object()) {
      if (const json::value* e = v.as_object().if_contains("error"); e && e->is_object()) {
        if (const auto* c = e->as_object().if_contains("code"); c && c->is_string()) {
          out.code = std::string(c->as_string());
        }
        if (const auto* m = e->as_object().if_contains("message"); m && m->is_string()) {
          out.message = std::string(m->as_string());
        }
      }
    }
    return out;
  }

  ApiHarness::Rows Rows() {
    auto rows = api_->CountRows();
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? *rows : ApiHarness::Rows{};
  }

  std::string dir_;
  std::unique_ptr<ApiHarness> api_;
  std::unique_ptr<net::HttpServer> http_;
  std::unique_ptr<net::HttpClient> client_;
};

struct BadCase {
  const char* what;
  std::string method;
  std::string target;
  std::string content_type;
  std::string body;
  int status;
  std::string says;  // the message names the problem
};

std::string Nested(size_t depth, char open, char close) {
  return std::string(depth, open) + std::string(depth, close);
}

TEST_F(ApiInputTest, BadBodiesAre4xxNamingTheProblemAndWriteNothing) {
  const std::string defs = "/api/v1/definitions";
  const std::string put = "/api/v1/definitions/x";
  const std::string runs = "/api/v1/runs";
  const BadCase cases[] = {
      // Malformed JSON and YAML.
      {"truncated json", "POST", defs, kJson, R"({"name": )", 400, "not valid JSON"},
      {"truncated json put", "PUT", put, kJson, R"({"name":"x",)", 400, "not valid JSON"},
      {"truncated json run", "POST", runs, kJson, "{definition: hello}", 400, "not valid JSON"},
      {"yaml sent as json", "POST", defs, kJson, "name: x\ncommand: y\n", 400, "not valid JSON"},
      {"malformed yaml", "POST", defs, kYaml, "name: [unclosed\n", 400, "YAML line 2"},
      {"malformed yaml put", "PUT", put, "text/yaml", "name: x\n  command: : y\n", 400,
       "YAML line"},
      {"malformed yaml run", "POST", runs, "application/x-yaml", "definition: {hello\n", 400,
       "YAML line"},
      {"yaml stray comma (hung yaml-cpp)", "POST", defs, kYaml, ",", 400, "unexpected character"},
      {"two yaml documents", "POST", defs, kYaml, "name: a\ncommand: b\n---\nname: c\n", 400,
       "2 YAML documents"},
      {"empty body", "POST", defs, kJson, "", 400, "request body is empty"},
      {"empty body run", "POST", runs, kJson, "", 400, "request body is empty"},
      {"empty yaml", "POST", defs, kYaml, "# nothing\n", 400, "0 YAML documents"},
      // Deep nesting: refused at the parser's depth limit, the stack untouched.
      {"deep json", "POST", defs, kJson, Nested(100'000, '[', ']'), 400,
       "nested more than 64 levels"},
      {"deep json objects", "POST", runs, kJson,
       [] {
         std::string s;
         for (int i = 0; i < 100'000; ++i) s += "{\"a\":";
         return s + "1" + std::string(100'000, '}');
       }(),
       400, "nested more than 64 levels"},
      {"deep yaml", "POST", defs, kYaml, Nested(100'000, '[', ']'), 400,
       "nested more than 64 levels"},
      {"deep yaml run", "POST", runs, kYaml,
       [] {
         std::string s;
         for (int i = 0; i < 100'000; ++i) s += "{a: ";
         return s + "1" + std::string(100'000, '}');
       }(),
       400, "nested more than 64 levels"},
      {"yaml not utf-8", "POST", defs, kYaml, "name: x\ncommand: echo \xff\n", 400,
       "not valid UTF-8"},
      {"json not utf-8", "POST", defs, kJson, "{\"name\":\"x\",\"command\":\"\xff\"}", 400,
       "not valid JSON"},
      {"yaml alias bomb", "POST", defs, kYaml,
       [] {
         std::string s = "a0: &a0 [x, x]\n";
         for (int i = 1; i <= 40; ++i) {
           s += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [*a" +
                std::to_string(i - 1) + ", *a" + std::to_string(i - 1) + "]\n";
         }
         return s;
       }(),
       400, "too many values"},
      // Wrong types.
      {"array body", "POST", defs, kJson, "[]", 400, "definition must be a JSON object"},
      {"string body run", "POST", runs, kJson, R"("hello")", 400, "must be a JSON object"},
      {"name not a string", "POST", defs, kJson, R"({"name":5,"command":"x"})", 400,
       "'name' must be a string"},
      {"command a number", "POST", defs, kJson, R"({"name":"x","command":42})", 400,
       "command must be a string"},
      {"memory a bool", "PUT", put, kYaml, "name: x\ncommand: y\nresources: {memory: true}\n", 400,
       "'memory' must be a number or a string"},
      {"env a list", "POST", runs, kJson, R"({"definition":"hello","env":[1]})", 400,
       "'env' must be a map"},
      {"definition a number", "POST", runs, kJson, R"({"definition":5})", 400,
       "field 'definition' is required"},
      {"owner a number", "POST", runs, kJson, R"({"definition":"hello","owner":5})", 400,
       "'owner' must be a string"},
      {"timeout negative", "POST", runs, kJson, R"({"definition":"hello","timeout":-5})", 400,
       "timeout must be positive"},
      {"memory negative", "POST", runs, kYaml, "definition: hello\nresources: {memory: -64Mi}\n",
       400, "must be positive"},
      // Unknown fields are refused, naming the field (docs/api.md, docs/definitions.md).
      {"unknown field", "POST", defs, kJson, R"({"name":"x","command":"y","memroy":"1Gi"})", 400,
       "unknown field 'memroy'"},
      {"unknown nested field", "PUT", put, kYaml, "name: x\ncommand: y\nresources: {mem: 1Gi}\n",
       400, "unknown field 'mem'"},
      {"unknown run field", "POST", runs, kJson, R"({"definition":"hello","retries":3})", 400,
       "unknown field 'retries'"},
      // Well-formed but wrong.
      {"bad name", "POST", defs, kJson, R"({"name":"Hello World","command":"x"})", 400,
       "must be lower-case"},
      {"name mismatch", "PUT", put, kJson, R"({"name":"y","command":"x"})", 400, "does not match"},
      {"too much memory", "POST", runs, kJson,
       R"({"definition":"hello","resources":{"memory":"900Ti"}})", 422, "lower it"},
      {"unknown definition", "POST", runs, kJson, R"({"definition":"nope"})", 404,
       "definition 'nope' not found"},
      {"exists already", "POST", defs, kJson, R"({"name":"hello","command":"x"})", 409,
       "already exists"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.what);
    ApiHarness::Rows before = Rows();
    Reply r = Call(c.method, c.target, c.body, c.content_type);
    EXPECT_EQ(r.status, c.status) << r.raw.substr(0, 500);
    EXPECT_FALSE(r.code.empty()) << r.raw.substr(0, 500);
    EXPECT_FALSE(r.message.empty());
    EXPECT_NE(r.message.find(c.says), std::string::npos) << r.message;
    EXPECT_EQ(Rows(), before) << "a rejected request must not write a row";
  }
}

TEST_F(ApiInputTest, YamlBodiesWork) {
  Reply created = Call("POST", "/api/v1/definitions",
                       "name: from-yaml\ncommand: [echo, hi]\nresources: {memory: 64Mi}\n", kYaml);
  EXPECT_EQ(created.status, 201) << created.raw;
  Reply put = Call("PUT", "/api/v1/definitions/from-yaml",
                   "name: from-yaml\ncommand: [echo, hi]\nresources: {memory: 64Mi}\n",
                   "application/yaml; charset=utf-8");
  EXPECT_EQ(put.status, 200) << put.raw;
  EXPECT_NE(put.raw.find("\"change\":\"unchanged\""), std::string::npos) << put.raw;
  Reply run = Call("POST", "/api/v1/runs", "definition: from-yaml\nenv: {K: v}\n", kYaml);
  EXPECT_EQ(run.status, 201) << run.raw;
}

TEST_F(ApiInputTest, BadIdsInPathsAre4xxAndWriteNothing) {
  Reply run = Call("POST", "/api/v1/runs", R"({"definition":"hello"})");
  ASSERT_EQ(run.status, 201);
  std::string id(json::parse(run.raw).at("id").as_string());
  ASSERT_EQ(Call("POST", "/api/v1/runs/" + id + "/stop").status, 202);
  const std::string long_id(10'000, '7');
  const BadCase cases[] = {
      // The message quotes the id; the answer stays valid JSON (UTF-8) all the same.
      {"garbage run", "GET", "/api/v1/runs/zzz%00%ff", kJson, "", 404, "not found"},
      {"long run id", "GET", "/api/v1/runs/" + long_id, kJson, "", 404, "not found"},
      {"traversal", "GET", "/api/v1/runs/..%2F..%2Fetc%2Fpasswd", kJson, "", 404, "no route"},
      {"dot dot", "GET", "/api/v1/runs/../logs", kJson, "", 404, "not found"},
      {"traversal logs", "GET", "/api/v1/runs/..%2F..%2Fetc/logs", kJson, "", 404, "no route"},
      {"garbage logs", "GET", "/api/v1/runs/%2e%2e/logs", kJson, "", 404, "not found"},
      {"bad component", "GET", "/api/v1/runs/" + id + "/logs?component=..%2F..%2Fx", kJson, "", 400,
       "component"},
      {"garbage events", "GET", "/api/v1/runs/" + long_id + "/events", kJson, "", 404, "not found"},
      {"bad after", "GET", "/api/v1/runs/" + id + "/events?after=-1", kJson, "", 400, "after"},
      {"stop garbage", "POST", "/api/v1/runs/..%2Fx/stop", kJson, "", 404, "no route"},
      {"stop long", "POST", "/api/v1/runs/" + long_id + "/stop", kJson, "", 404, "not found"},
      {"stop ended", "POST", "/api/v1/runs/" + id + "/stop", kJson, "", 422, "ended"},
      {"bad escape", "GET", "/api/v1/runs/%zz", kJson, "", 400, "percent-encoding"},
      {"get garbage definition", "GET", "/api/v1/definitions/%00", kJson, "", 404, "not found"},
      {"put garbage definition", "PUT", "/api/v1/definitions/..", kJson,
       R"({"name":"..","command":"x"})", 400, "must be lower-case"},
      {"put long definition", "PUT", "/api/v1/definitions/" + std::string(300, 'a'), kJson,
       R"({"name":")" + std::string(300, 'a') + R"(","command":"x"})", 400, "longer than 63"},
      {"delete missing", "DELETE", "/api/v1/definitions/" + long_id, kJson, "", 404, "not found"},
      {"wrong method", "PATCH", "/api/v1/definitions/hello", kJson, "{}", 405, "not allowed"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.what);
    ApiHarness::Rows before = Rows();
    Reply r = Call(c.method, c.target, c.body, c.content_type);
    EXPECT_EQ(r.status, c.status) << r.raw.substr(0, 500);
    EXPECT_FALSE(r.code.empty()) << r.raw.substr(0, 500);
    EXPECT_NE(r.message.find(c.says), std::string::npos) << r.message.substr(0, 500);
    EXPECT_EQ(Rows(), before) << "a rejected request must not write a row";
  }
}

// A raw connection: sends what the test says, reads what comes back.
class RawConn {
 public:
  explicit RawConn(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConn() { ::close(fd_); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;
  bool connected() const { return connected_; }
  // Sends `data` unless the server has answered meanwhile; false once it has (or on error).
  bool SendUnlessAnswered(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      pollfd p{fd_, POLLIN | POLLOUT, 0};
      if (::poll(&p, 1, 5000) <= 0 || (p.revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
        return false;
      }
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
      sent_ += static_cast<size_t>(n);
    }
    return true;
  }
  // Everything until the server closes (or 10 s pass).
  std::string ReadAll() {
    std::string out;
    char buf[16384];
    while (true) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 10000) <= 0) break;
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  size_t sent() const { return sent_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  size_t sent_ = 0;
};

TEST_F(ApiInputTest, A100MegabyteBodyIs413WithoutBeingRead) {
  constexpr size_t kHundredMiB = size_t{100} << 20;
  const std::string chunk(size_t{64} << 10, 'a');
  for (const std::string path : {"/api/v1/definitions", "/api/v1/runs"}) {
    SCOPED_TRACE(path);
    ApiHarness::Rows before = Rows();
    {
      // Content-Length says 100 MiB: refused from the header, before any of the body is read.
      RawConn c(http_->port());
      ASSERT_TRUE(c.connected());
      std::string head = "POST " + path +
                         " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Content-Length: " +
                         std::to_string(kHundredMiB) + "\r\n\r\n";
      ASSERT_TRUE(c.SendUnlessAnswered(head));
      for (size_t sent = 0; sent < kHundredMiB && c.SendUnlessAnswered(chunk);) {
        sent += chunk.size();
      }
      std::string reply = c.ReadAll();
      EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply.substr(0, 300);
      EXPECT_NE(reply.find("request body exceeds 1 MiB; send less"), std::string::npos) << reply;
      EXPECT_LT(c.sent(), size_t{16} << 20) << "the server answered before the body was sent";
    }
    {
      // Chunked, no length: refused once it passes the limit.
      RawConn c(http_->port());
      ASSERT_TRUE(c.connected());
      ASSERT_TRUE(c.SendUnlessAnswered("POST " + path +
                                       " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                       "Transfer-Encoding: chunked\r\n\r\n"));
      char size_line[32];
      std::snprintf(size_line, sizeof(size_line), "%zx\r\n", chunk.size());
      const std::string framed = size_line + chunk + "\r\n";
      for (size_t sent = 0; sent < kHundredMiB && c.SendUnlessAnswered(framed);) {
        sent += chunk.size();
      }
      std::string reply = c.ReadAll();
      EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply.substr(0, 300);
      EXPECT_NE(reply.find("request body exceeds 1 MiB; send less"), std::string::npos) << reply;
      EXPECT_LT(c.sent(), size_t{16} << 20) << "the server answered before the body was sent";
    }
    EXPECT_EQ(Rows(), before);
  }
}

}  // namespace
}  // namespace tug::server
