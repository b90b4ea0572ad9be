#include "net/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>

#include <gtest/gtest.h>

#include "net/http_server.h"
#include "net/refusing_port.h"

namespace tug::net {
namespace {

using namespace std::chrono_literals;
using testing::RefusingPort;

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
  auto https = HttpClient::Create("https://tug.example:443");  // TLS: http_client_tls_test.cpp
  ASSERT_TRUE(https.ok()) << https.error().ToString();
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

TEST(HttpClientTest, PeerLabelNamesTheServerInMessages) {
  RefusingPort refusing;
  std::string base = "http://127.0.0.1:" + std::to_string(refusing.port());
  HttpClientOptions o;
  o.timeout = 5s;
  o.peer = "the Kubernetes API server";
  auto client = HttpClient::Create(base, std::move(o));
  ASSERT_TRUE(client.ok());
  auto r = client->Send("GET", "/api");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
  EXPECT_EQ(r.error().message(), "cannot reach the Kubernetes API server at " + base +
                                     " (connection refused); check the address and that it is "
                                     "running");
}

TEST(HttpClientTest, HeadersComeFromTheCallbackPerRequestAndFromTheCall) {
  Router router;
  router.Add("GET", "/echo", [](Request& r) {
    return JsonResponse(200, "\"" + r.Header("authorization") + "|" + r.Header("x-extra") + "|" +
                                 r.Header("user-agent") + "\"");
  });
  ServerOptions so;
  so.port = 0;
  HttpServer server(so, std::move(router));
  ASSERT_TRUE(server.Start().ok());
  int calls = 0;
  HttpClientOptions o;
  o.user_agent = "tugboat-test";
  o.headers = [&calls] {
    return HeaderList{{"Authorization", "Bearer t" + std::to_string(++calls)}};
  };
  auto client = HttpClient::Create("http://127.0.0.1:" + std::to_string(server.port()), o);
  ASSERT_TRUE(client.ok());
  auto a = client->Send("GET", "/echo");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->body, "\"Bearer t1||tugboat-test\"");
  auto b = client->Send("GET", "/echo", "", "application/json", {{"X-Extra", "yes"}});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->body, "\"Bearer t2|yes|tugboat-test\"");
  std::string streamed;
  int status = 0;
  auto st = client->Stream("GET", "/echo",
                           [&](std::string_view d) {
                             streamed.append(d);
                             return true;
                           },
                           &status, {{"X-Extra", "s"}});
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(status, 200);
  EXPECT_EQ(streamed, "\"Bearer t3|s|tugboat-test\"");
  server.Stop();
}

TEST(HttpClientTest, ResponseHeadersAreExposedAndRedirectsAreNotFollowed) {
  Router router;
  router.Add("GET", "/moved", [](Request&) {
    Response r;
    r.status = 302;
    r.content_type = "text/html";
    r.headers = {{"Location", "/target"}, {"X-Multi", "a"}, {"x-multi", "b"}};
    return r;
  });
  router.Add("GET", "/target", [](Request&) { return JsonResponse(200, "\"followed\""); });
  ServerOptions so;
  so.port = 0;
  HttpServer server(so, std::move(router));
  ASSERT_TRUE(server.Start().ok());
  auto client = HttpClient::Create("http://127.0.0.1:" + std::to_string(server.port()), 5s);
  ASSERT_TRUE(client.ok());
  auto r = client->Send("GET", "/moved");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->body, "");
  EXPECT_EQ(r->content_type, "text/html");
  EXPECT_EQ(r->Header("location"), "/target");
  EXPECT_EQ(r->Header("content-type"), "text/html");
  EXPECT_EQ(r->Header("server"), "tugboat");
  EXPECT_EQ(r->Header("missing"), "");
  EXPECT_EQ(r->Header("x-multi"), "a");  // the first of a repeated header
  std::vector<std::string> multi;
  for (const auto& [name, value] : r->headers) {
    EXPECT_EQ(name, [&] {
      std::string lower = name;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return lower;
    }());
    if (name == "x-multi") multi.push_back(value);
  }
  EXPECT_EQ(multi, (std::vector<std::string>{"a", "b"}));
  server.Stop();
}

TEST(HttpClientTest, BodyOverTheLimitIsResourceExhausted) {
  Router router;
  router.Add("GET", "/big", [](Request&) { return JsonResponse(200, std::string(4096, 'x')); });
  router.Add("GET", "/small", [](Request&) { return JsonResponse(200, "\"ok\""); });
  ServerOptions so;
  so.port = 0;
  HttpServer server(so, std::move(router));
  ASSERT_TRUE(server.Start().ok());
  HttpClientOptions o;
  o.timeout = 5s;
  o.peer = "the test server";
  o.max_response_bytes = 1024;
  std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  auto client = HttpClient::Create(base, o);
  ASSERT_TRUE(client.ok());
  auto big = client->Send("GET", "/big");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code(), Code::kResourceExhausted);
  EXPECT_EQ(big.error().message(),
            "the response from the test server at " + base + " is larger than 1 KiB; ask for less");
  // The limit does not apply to HEAD (no body), and the client is usable afterwards.
  auto head = client->Send("HEAD", "/big");
  ASSERT_TRUE(head.ok()) << head.error().ToString();
  EXPECT_EQ(head->status, 200);
  auto small = client->Send("GET", "/small");
  ASSERT_TRUE(small.ok()) << small.error().ToString();
  EXPECT_EQ(small->body, "\"ok\"");
  server.Stop();
}

/// Sends one chunk, then nothing until the client goes away.
class QuietStream : public StreamSource {
 public:
  StreamPoll Poll() override {
    StreamPoll p;
    if (!sent_) p.data = "first";
    sent_ = true;
    return p;
  }

 private:
  bool sent_ = false;
};

TEST(HttpClientTest, CancelFromAnotherThreadUnblocksAStream) {
  Router router;
  router.Add("GET", "/quiet", [](Request&) {
    Response r;
    r.content_type = "text/plain";
    r.stream = std::make_shared<QuietStream>();
    return r;
  });
  ServerOptions so;
  so.port = 0;
  so.stream_poll_interval = 10ms;
  HttpServer server(so, std::move(router));
  ASSERT_TRUE(server.Start().ok());
  auto client = HttpClient::Create("http://127.0.0.1:" + std::to_string(server.port()), 5s);
  ASSERT_TRUE(client.ok());
  std::promise<void> got_data;
  auto streaming = std::async(std::launch::async, [&] {
    bool first = true;
    return client->Stream(
        "GET", "/quiet",
        [&](std::string_view) {
          if (first) got_data.set_value();
          first = false;
          return true;
        },
        nullptr);
  });
  got_data.get_future().wait();
  client->Cancel();
  Status st = streaming.get();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kCancelled);
  EXPECT_TRUE(client->cancelled());
  // Sticky: the client is done.
  auto again = client->Send("GET", "/quiet");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), Code::kCancelled);
  server.Stop();
}

TEST(HttpClientTest, StreamBodyTimeoutIsDeadlineExceeded) {
  Router router;
  router.Add("GET", "/quiet", [](Request&) {
    Response r;
    r.stream = std::make_shared<QuietStream>();
    return r;
  });
  ServerOptions so;
  so.port = 0;
  so.stream_poll_interval = 10ms;
  HttpServer server(so, std::move(router));
  ASSERT_TRUE(server.Start().ok());
  auto client = HttpClient::Create("http://127.0.0.1:" + std::to_string(server.port()), 5s);
  ASSERT_TRUE(client.ok());
  auto st = client->Stream(
      "GET", "/quiet", [](std::string_view) { return true; }, nullptr, {}, 100ms);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kDeadlineExceeded);
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
