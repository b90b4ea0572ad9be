#include "net/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>

#include <gtest/gtest.h>

#include "net/http_server.h"

namespace tug::net {
namespace {

using namespace std::chrono_literals;

/// A loopback port that is bound but not listening: connecting to it is refused, and nobody
/// else can take it while the test runs.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~RefusingPort() { ::close(fd_); }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

TEST(HttpClientTest, NothingListeningIsUnavailableWithAHint) {
  RefusingPort refusing;
  ASSERT_NE(refusing.port(), 0);
  std::string base = "http://127.0.0.1:" + std::to_string(refusing.port());
  auto client = HttpClient::Create(base, 5s);
  ASSERT_TRUE(client.ok());
  auto r = client->Send("GET", "/api/v1/runs");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
  EXPECT_EQ(r.error().message(),
            "cannot reach the tug server at " + base +
                " (connection refused); start it with `tug server` or point --server/TUG_SERVER "
                "at it");
  int status = 0;
  auto st = client->Stream(
      "GET", "/x", [](std::string_view) { return true; }, &status);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kUnavailable);
}

TEST(HttpClientTest, RejectsUnsupportedUrls) {
  auto https = HttpClient::Create("https://tug.example:443");
  ASSERT_FALSE(https.ok());
  EXPECT_EQ(https.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(https.error().message(), "https is not supported yet");
  for (const char* bad : {"127.0.0.1:8080", "ftp://x", "http://", "http://h:1/?q=1", "not a url"}) {
    auto r = HttpClient::Create(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument) << bad;
  }
  auto ok = HttpClient::Create("http://127.0.0.1:8080/");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->base_url(), "http://127.0.0.1:8080");
}

Router Hello(std::string text) {
  Router router;
  router.Add("GET", "/hello", [text](Request&) { return JsonResponse(200, text); });
  return router;
}

TEST(HttpClientTest, ReconnectsOnceWhenTheKeptConnectionWentStale) {
  ServerOptions o;
  o.port = 0;
  auto first = std::make_unique<HttpServer>(o, Hello("\"one\""));
  ASSERT_TRUE(first->Start().ok());
  o.port = first->port();
  auto client = HttpClient::Create("http://127.0.0.1:" + std::to_string(o.port), 5s);
  ASSERT_TRUE(client.ok());
  auto r = client->Send("GET", "/hello");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "\"one\"");
  first->Stop();  // closes the connection the client keeps

  HttpServer second(o, Hello("\"two\""));
  auto st = second.Start();
  ASSERT_TRUE(st.ok()) << st.error().ToString();
  auto again = client->Send("GET", "/hello");
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(again->body, "\"two\"");
  second.Stop();
}

TEST(HttpClientTest, SlowServerIsDeadlineExceeded) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  Router router;
  router.Add("GET", "/slow", [released](Request&) {
    released.wait_for(10s);
    return JsonResponse(200, "{}");
  });
  ServerOptions o;
  o.port = 0;
  HttpServer server(o, std::move(router));
  ASSERT_TRUE(server.Start().ok());
  auto client = HttpClient::Create("http://127.0.0.1:" + std::to_string(server.port()), 200ms);
  ASSERT_TRUE(client.ok());
  auto r = client->Send("GET", "/slow");
  release.set_value();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kDeadlineExceeded);
  EXPECT_NE(r.error().message().find("within 200ms"), std::string::npos) << r.error().message();
  server.Stop();
}

TEST(HttpClientTest, IsMovable) {
  auto c = HttpClient::Create("http://127.0.0.1:1");
  ASSERT_TRUE(c.ok());
  HttpClient moved = std::move(*c);
  HttpClient assigned = std::move(moved);
  EXPECT_EQ(assigned.base_url(), "http://127.0.0.1:1");
}

}  // namespace
}  // namespace tug::net
