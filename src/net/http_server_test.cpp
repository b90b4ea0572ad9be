#include "net/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "core/json.h"
#include "net/http_client.h"

namespace tug::net {
namespace {

using namespace std::chrono_literals;

/// A plain POSIX connection for what HttpClient will not send: malformed or pipelined bytes.
class RawConn {
 public:
  explicit RawConn(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};  // a safety net: a broken server fails the test instead of hanging it
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
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
  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  /// Everything until the server closes (or the 10 s safety net).
  std::string ReadAll() {
    std::string out;
    char buf[4096];
    while (true) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  /// One response with a Content-Length body.
  std::string ReadResponse() {
    while (true) {
      size_t end = pending_.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t length = 0;
        size_t cl = pending_.find("Content-Length: ");
        if (cl != std::string::npos && cl < end) length = std::stoul(pending_.substr(cl + 16));
        if (pending_.size() >= end + 4 + length) {
          std::string out = pending_.substr(0, end + 4 + length);
          pending_.erase(0, end + 4 + length);
          return out;
        }
      }
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return "";
      pending_.append(buf, static_cast<size_t>(n));
    }
  }
  /// True when the server closed the connection (recv returns 0 or a reset).
  bool ClosedByPeer() {
    char c = 0;
    return ::recv(fd_, &c, 1, 0) <= 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

std::string ErrorCode(const std::string& body) {
  auto v = ParseJson(body);
  if (!v.ok() || !v->is_object()) return "<not json: " + body + ">";
  return std::string(v->at("error").at("code").as_string());
}

std::string ErrorMessage(const std::string& body) {
  auto v = ParseJson(body);
  if (!v.ok() || !v->is_object()) return "<not json: " + body + ">";
  return std::string(v->at("error").at("message").as_string());
}

/// Signals its destruction, for tests that check when the server releases a stream.
struct Flag {
  std::mutex mu;
  std::condition_variable cv;
  bool set = false;
  void Set() {
    std::lock_guard<std::mutex> lock(mu);
    set = true;
    cv.notify_all();
  }
  bool WaitFor(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, timeout, [&] { return set; });
  }
};

class CountingSource : public StreamSource {
 public:
  CountingSource(int chunks, std::shared_ptr<Flag> destroyed)
      : chunks_(chunks), destroyed_(std::move(destroyed)) {}
  ~CountingSource() override {
    if (destroyed_) destroyed_->Set();
  }
  StreamPoll Poll() override {
    // Alternate data and empty polls so both the immediate and the timed path run.
    ++polls_;
    if (polls_ % 2 == 0) return {};
    StreamPoll p;
    if (chunks_ < 0 || sent_ < chunks_) p.data = "chunk-" + std::to_string(sent_++) + "\n";
    p.done = chunks_ >= 0 && sent_ == chunks_;
    return p;
  }

 private:
  int chunks_;  // < 0: never ends
  int sent_ = 0;
  int polls_ = 0;
  std::shared_ptr<Flag> destroyed_;
};

struct HookRecord {
  std::mutex mu;
  std::vector<std::tuple<std::string, std::string, int>> calls;  // method, route, status
};

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add("GET", "/hello", [](Request&) {
      Response r;
      r.content_type = "text/plain";
      r.body = "hello";
      return r;
    });
    router_.Add("POST", "/echo/{name}", [](Request& req) {
      boost::json::object o;
      o["name"] = req.params["name"];
      o["body"] = req.body;
      o["content_type"] = req.Header("content-type");
      o["remote"] = req.remote;
      return JsonResponse(201, Serialize(o));
    });
    router_.Add("GET", "/decode/{segment}", [](Request& req) {
      boost::json::object o;
      o["path"] = req.path;
      o["segment"] = req.params["segment"];
      boost::json::object q;
      for (const auto& [k, v] : req.query) q[k] = v;
      o["query"] = std::move(q);
      o["x"] = req.Query("x");
      o["missing"] = req.Query("missing", "fallback");
      return JsonResponse(200, Serialize(o));
    });
    router_.Add("DELETE", "/thing", [](Request&) {
      Response r;
      r.status = 204;
      r.body = "ignored";
      return r;
    });
    router_.Add("GET", "/csv", [](Request&) {
      Response r;
      r.headers.emplace_back("content-type", "text/csv");
      r.headers.emplace_back("X-Bad", "a\r\nInjected: yes");
      r.headers.emplace_back("Content-Length", "999");
      r.body = "a,b\n";
      return r;
    });
    router_.Add("GET", "/whoami", [](Request& req) { return JsonResponse(200, req.remote); });
    router_.Add("GET", "/throw",
                [](Request&) -> Response { throw std::runtime_error("secret token abc"); });
    router_.Add("GET", "/stream", [this](Request&) {
      Response r;
      r.content_type = "text/plain";
      r.stream = std::make_shared<CountingSource>(5, stream_destroyed_);
      return r;
    });
    router_.Add("GET", "/forever", [this](Request&) {
      Response r;
      r.stream = std::make_shared<CountingSource>(-1, stream_destroyed_);
      return r;
    });
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  void StartServer(ServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    options.stream_poll_interval = 5ms;
    server_ = std::make_unique<HttpServer>(
        options, std::move(router_),
        [this](const Request& req, const std::string& route, int status, double seconds) {
          EXPECT_GE(seconds, 0.0);
          std::lock_guard<std::mutex> lock(hooks_.mu);
          hooks_.calls.emplace_back(req.method, route, status);
        });
    auto st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.error().ToString();
    ASSERT_NE(server_->port(), 0);
  }

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  HttpClient Client(std::chrono::milliseconds timeout = 10s) {
    auto c = HttpClient::Create(Url(), timeout);
    EXPECT_TRUE(c.ok());
    return std::move(*c);
  }

  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::shared_ptr<Flag> stream_destroyed_ = std::make_shared<Flag>();
  HookRecord hooks_;
};

TEST_F(HttpServerTest, RoundTrip) {
  StartServer();
  HttpClient client = Client();
  auto r = client.Send("GET", "/hello");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->content_type, "text/plain");

  auto e = client.Send("POST", "/echo/bob", R"({"a":1})");
  ASSERT_TRUE(e.ok()) << e.error().ToString();
  EXPECT_EQ(e->status, 201);
  auto v = ParseJson(e->body);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->at("name").as_string(), "bob");
  EXPECT_EQ(v->at("body").as_string(), R"({"a":1})");
  EXPECT_EQ(v->at("content_type").as_string(), "application/json");
  EXPECT_EQ(std::string(v->at("remote").as_string()).rfind("127.0.0.1:", 0), 0u);
}

TEST_F(HttpServerTest, KeepAliveReusesOneConnection) {
  StartServer();
  HttpClient client = Client();
  std::string first;
  for (int i = 0; i < 5; ++i) {
    auto r = client.Send("GET", "/whoami");
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    if (i == 0) first = r->body;
    EXPECT_EQ(r->body, first) << "request " << i << " came from another connection";
  }
}

TEST_F(HttpServerTest, NotFoundAndMethodNotAllowedAreJson) {
  StartServer();
  HttpClient client = Client();
  auto r = client.Send("GET", "/x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->content_type, "application/json");
  EXPECT_EQ(ErrorCode(r->body), "not_found");
  EXPECT_EQ(ErrorMessage(r->body).rfind("no route for GET /x; see /api/v1", 0), 0u) << r->body;

  auto m = client.Send("DELETE", "/hello");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->status, 405);
  EXPECT_EQ(ErrorCode(m->body), "invalid_argument");

  RawConn raw(server_->port());
  ASSERT_TRUE(raw.Send("PUT /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
  std::string resp = raw.ReadResponse();
  EXPECT_EQ(resp.rfind("HTTP/1.1 405 ", 0), 0u) << resp;
  EXPECT_NE(resp.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos) << resp;
  EXPECT_NE(resp.find("\r\nServer: tugboat\r\n"), std::string::npos) << resp;
}

TEST_F(HttpServerTest, BodyOverTheLimitIs413) {
  ServerOptions o;
  o.max_body_bytes = 1 << 20;
  StartServer(o);
  HttpClient client = Client();
  auto r = client.Send("POST", "/echo/big", std::string((1 << 20) + 1, 'x'));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(ErrorCode(r->body), "resource_exhausted");
  EXPECT_EQ(ErrorMessage(r->body), "request body exceeds 1 MiB; send less");
  // The client reconnects after the server closed that connection.
  auto ok = client.Send("POST", "/echo/small", std::string(1 << 20, 'x'));
  ASSERT_TRUE(ok.ok()) << ok.error().ToString();
  EXPECT_EQ(ok->status, 201);
}

TEST_F(HttpServerTest, ChunkedBodyOverTheLimitIs413) {
  ServerOptions o;
  o.max_body_bytes = 1024;
  StartServer(o);
  RawConn raw(server_->port());
  std::string chunk(800, 'y');
  ASSERT_TRUE(raw.Send("POST /echo/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  ASSERT_TRUE(raw.Send("320\r\n" + chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n"));
  std::string resp = raw.ReadAll();
  EXPECT_EQ(resp.rfind("HTTP/1.1 413 ", 0), 0u) << resp;
  EXPECT_NE(resp.find("request body exceeds 1 KiB; send less"), std::string::npos) << resp;
}

TEST_F(HttpServerTest, MalformedRequestIs400AndCloses) {
  StartServer();
  RawConn raw(server_->port());
  ASSERT_TRUE(raw.Send("GET /hello HTTP/1.1\r\nHost x\r\n\r\n"));
  std::string resp = raw.ReadAll();  // returns because the server closes
  EXPECT_EQ(resp.rfind("HTTP/1.1 400 ", 0), 0u) << resp;
  EXPECT_NE(resp.find("Connection: close"), std::string::npos);
  EXPECT_NE(resp.find("\"invalid_argument\""), std::string::npos) << resp;

  RawConn bad_escape(server_->port());
  ASSERT_TRUE(bad_escape.Send("GET /decode/%zz HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string esc = bad_escape.ReadResponse();
  EXPECT_EQ(esc.rfind("HTTP/1.1 400 ", 0), 0u) << esc;
}

TEST_F(HttpServerTest, HandlerExceptionIs500AndServerKeepsServing) {
  StartServer();
  HttpClient client = Client();
  auto r = client.Send("GET", "/throw");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(ErrorCode(r->body), "internal");
  EXPECT_EQ(r->body.find("secret"), std::string::npos);
  auto again = client.Send("GET", "/hello");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 200);
}

TEST_F(HttpServerTest, StreamArrivesInOrderThenConnectionIsReused) {
  StartServer();
  HttpClient client = Client();
  std::string whoami = client.Send("GET", "/whoami")->body;
  std::string got;
  int pieces = 0;
  int status = 0;
  auto st = client.Stream(
      "GET", "/stream",
      [&](std::string_view data) {
        got.append(data);
        ++pieces;
        return true;
      },
      &status);
  ASSERT_TRUE(st.ok()) << st.error().ToString();
  EXPECT_EQ(status, 200);
  EXPECT_EQ(got, "chunk-0\nchunk-1\nchunk-2\nchunk-3\nchunk-4\n");
  EXPECT_GE(pieces, 1);
  EXPECT_TRUE(stream_destroyed_->WaitFor(10s));
  auto after = client.Send("GET", "/whoami");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->body, whoami);
}

TEST_F(HttpServerTest, ClientDisconnectEndsTheStream) {
  StartServer();
  HttpClient client = Client();
  int status = 0;
  std::string first;
  auto st = client.Stream(
      "GET", "/forever",
      [&](std::string_view data) {
        first = std::string(data);
        return false;  // hang up after the first piece
      },
      &status);
  ASSERT_TRUE(st.ok()) << st.error().ToString();
  EXPECT_EQ(first.rfind("chunk-0", 0), 0u);
  EXPECT_TRUE(stream_destroyed_->WaitFor(10s)) << "the server kept polling a gone client";
}

TEST_F(HttpServerTest, DecodesPathAndQuery) {
  StartServer();
  HttpClient client = Client();
  auto r = client.Send("GET", "/decode/a%20b?x=1&y=hello%20world&z=a+b&x=2");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, 200) << r->body;
  auto v = ParseJson(r->body);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->at("path").as_string(), "/decode/a b");
  EXPECT_EQ(v->at("segment").as_string(), "a b");
  EXPECT_EQ(v->at("x").as_string(), "2");
  EXPECT_EQ(v->at("missing").as_string(), "fallback");
  EXPECT_EQ(v->at("query").at("y").as_string(), "hello world");
  EXPECT_EQ(v->at("query").at("z").as_string(), "a b");
}

TEST_F(HttpServerTest, PipelinedRequestsAnswerInOrder) {
  StartServer();
  RawConn raw(server_->port());
  ASSERT_TRUE(
      raw.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string a = raw.ReadResponse();
  std::string b = raw.ReadResponse();
  std::string c = raw.ReadResponse();
  EXPECT_EQ(a.rfind("HTTP/1.1 200 ", 0), 0u) << a;
  EXPECT_NE(a.find("\r\n\r\nhello"), std::string::npos);
  EXPECT_EQ(b.rfind("HTTP/1.1 404 ", 0), 0u) << b;
  EXPECT_EQ(c.rfind("HTTP/1.1 200 ", 0), 0u) << c;
  EXPECT_NE(c.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(raw.ClosedByPeer());
}

TEST_F(HttpServerTest, Http10ClosesAfterTheResponse) {
  StartServer();
  RawConn raw(server_->port());
  ASSERT_TRUE(raw.Send("GET /hello HTTP/1.0\r\n\r\n"));
  std::string resp = raw.ReadAll();
  EXPECT_EQ(resp.rfind("HTTP/1.1 200 ", 0), 0u) << resp;
  EXPECT_NE(resp.find("Content-Length: 5\r\n"), std::string::npos);
  EXPECT_NE(resp.find("\r\n\r\nhello"), std::string::npos);
}

TEST_F(HttpServerTest, HeadSendsNoBody) {
  StartServer();
  RawConn raw(server_->port());
  ASSERT_TRUE(raw.Send("HEAD /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string resp = raw.ReadAll();
  EXPECT_EQ(resp.rfind("HTTP/1.1 200 ", 0), 0u) << resp;
  EXPECT_NE(resp.find("Content-Length: 5\r\n"), std::string::npos);
  EXPECT_EQ(resp.find("hello"), std::string::npos);
}

TEST_F(HttpServerTest, ExpectContinueGetsAnInterimResponse) {
  StartServer();
  RawConn raw(server_->port());
  ASSERT_TRUE(
      raw.Send("POST /echo/c HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
               "Expect: 100-continue\r\n\r\n"));
  std::string interim = raw.ReadResponse();
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(raw.Send("{}"));
  std::string resp = raw.ReadResponse();
  EXPECT_EQ(resp.rfind("HTTP/1.1 201 ", 0), 0u) << resp;
}

TEST_F(HttpServerTest, HeadersTheServerOwnsAreNotOverridden) {
  StartServer();
  RawConn raw(server_->port());
  ASSERT_TRUE(
      raw.Send("DELETE /thing HTTP/1.1\r\nHost: x\r\n\r\n"
               "GET /csv HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string no_content = raw.ReadResponse();
  EXPECT_EQ(no_content.rfind("HTTP/1.1 204 ", 0), 0u) << no_content;
  EXPECT_EQ(no_content.find("Content-Length"), std::string::npos) << no_content;
  EXPECT_EQ(no_content.find("ignored"), std::string::npos) << no_content;
  std::string csv = raw.ReadResponse();
  EXPECT_NE(csv.find("\r\ncontent-type: text/csv\r\n"), std::string::npos) << csv;
  EXPECT_EQ(csv.find("application/json"), std::string::npos) << csv;
  EXPECT_EQ(csv.find("Injected"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\r\nContent-Length: 4\r\n"), std::string::npos) << csv;
  EXPECT_EQ(csv.find("999"), std::string::npos) << csv;
}

TEST_F(HttpServerTest, CompletionHookSeesRouteAndStatus) {
  StartServer();
  HttpClient client = Client();
  ASSERT_TRUE(client.Send("POST", "/echo/a", "{}").ok());
  ASSERT_TRUE(client.Send("GET", "/nope").ok());
  server_->Stop();  // joins the io threads: every hook call has happened
  std::lock_guard<std::mutex> lock(hooks_.mu);
  ASSERT_EQ(hooks_.calls.size(), 2u);
  EXPECT_EQ(hooks_.calls[0],
            std::make_tuple(std::string("POST"), std::string("/echo/{name}"), 201));
  EXPECT_EQ(hooks_.calls[1], std::make_tuple(std::string("GET"), std::string(""), 404));
}

TEST_F(HttpServerTest, ConcurrentClientsAllSucceed) {
  StartServer();
  constexpr int kThreads = 8;
  constexpr int kRequests = 200;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto client = HttpClient::Create(Url(), 10s);
      if (!client.ok()) return;
      for (int i = 0; i < kRequests; ++i) {
        std::string name = std::to_string(t) + "-" + std::to_string(i);
        auto r = client->Send("POST", "/echo/" + name, "{}");
        if (r.ok() && r->status == 201 && r->body.find(name) != std::string::npos) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kRequests);
}

TEST_F(HttpServerTest, IdleConnectionIsClosed) {
  ServerOptions o;
  o.idle_timeout = 1s;
  StartServer(o);
  RawConn raw(server_->port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.Send("GET /hel"));  // a slow client that never finishes its request
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(raw.ClosedByPeer());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST_F(HttpServerTest, StopWithOpenConnectionsReturnsPromptly) {
  StartServer();
  HttpClient idle = Client();
  ASSERT_TRUE(idle.Send("GET", "/hello").ok());  // a kept-alive connection
  RawConn half(server_->port());
  ASSERT_TRUE(half.Send("POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab"));
  // A stream in progress, read from another thread.
  std::promise<void> streaming;
  std::thread reader([&] {
    HttpClient c = Client();
    bool first = true;
    int status = 0;
    (void)c.Stream(
        "GET", "/forever",
        [&](std::string_view) {
          if (first) streaming.set_value();
          first = false;
          return true;
        },
        &status);
  });
  ASSERT_EQ(streaming.get_future().wait_for(10s), std::future_status::ready);
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_TRUE(stream_destroyed_->WaitFor(1s));
  reader.join();  // the stream ends because the server closed it
  EXPECT_TRUE(half.ClosedByPeer());
  server_->Stop();  // idempotent
}

TEST_F(HttpServerTest, PortInUseIsUnavailable) {
  StartServer();
  ServerOptions o;
  o.host = "127.0.0.1";
  o.port = server_->port();
  HttpServer second(o, Router());
  auto st = second.Start();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kUnavailable);
  EXPECT_EQ(st.error().message(), "listen 127.0.0.1:" + std::to_string(o.port) +
                                      ": address in use; pick another with --listen");
}

}  // namespace
}  // namespace tug::net
