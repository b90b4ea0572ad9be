// HttpPool: asynchronous requests over kept connections, against loopback upstreams.
#include "net/http_pool.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "net/http_server.h"
#include "net/refusing_port.h"
#include "net/scripted_upstream.h"

namespace tug::net {
namespace {

using namespace std::chrono_literals;
using testing::RefusingPort;
using testing::ScriptedUpstream;

// Sends and waits for the callback.
Result<ClientResponse> SendWait(HttpPool& pool, const std::string& base, PoolRequest req,
                                HttpClientOptions options = {}) {
  options.peer = "the upstream";
  std::promise<Result<ClientResponse>> p;
  auto f = p.get_future();
  Status st = pool.Send(base, options, std::move(req),
                        [&p](Result<ClientResponse> r) { p.set_value(std::move(r)); });
  if (!st.ok()) return st.error();
  return f.get();
}

PoolRequest Get(std::string target) {
  PoolRequest r;
  r.target = std::move(target);
  return r;
}

// A net::HttpServer upstream that records the client address of every request (one per
// connection) so the test can count connections.
class CountingUpstream {
 public:
  CountingUpstream() {
    Router r;
    r.Add("GET", "/hello", [this](Request& req) {
      std::lock_guard lock(mu_);
      remotes_.insert(req.remote);
      return JsonResponse(200, R"({"hello":"world"})");
    });
    r.Add("GET", "/wait", [this](Request& req) {
      std::unique_lock lock(mu_);
      remotes_.insert(req.remote);
      ++waiting_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
      return JsonResponse(200, "{}");
    });
    r.Add("GET", "/big", [](Request&) {
      Response resp;
      resp.content_type = "text/plain";
      resp.body = std::string(100 << 10, 'x');
      return resp;
    });
    ServerOptions so;
    so.port = 0;
    so.threads = 8;  // /wait holds a thread per request
    server_ = std::make_unique<HttpServer>(so, std::move(r));
    EXPECT_TRUE(server_->Start().ok());
  }
  ~CountingUpstream() {
    Release();
    server_->Stop();
  }

  std::string base() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  size_t connections() {
    std::lock_guard lock(mu_);
    return remotes_.size();
  }
  void WaitForWaiting(int n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return waiting_ >= n; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> remotes_;  // guarded by mu_
  int waiting_ = 0;                // guarded by mu_
  bool released_ = false;          // guarded by mu_
  std::unique_ptr<HttpServer> server_;
};

TEST(HttpPoolTest, SequentialRequestsShareOneConnection) {
  CountingUpstream up;
  HttpPool pool;
  for (int i = 0; i < 20; ++i) {
    auto r = SendWait(pool, up.base(), Get("/hello"));
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, R"({"hello":"world"})");
    EXPECT_EQ(r->content_type, "application/json");
  }
  EXPECT_EQ(up.connections(), 1u);
  auto s = pool.stats();
  EXPECT_EQ(s.requests, 20u);
  EXPECT_EQ(s.connections_opened, 1u);
  EXPECT_EQ(s.reused, 19u);
  EXPECT_EQ(s.idle, 1u);
}

TEST(HttpPoolTest, ConcurrentRequestsKeepAtMostTheIdleLimit) {
  CountingUpstream up;
  HttpPoolOptions o;
  o.max_idle_per_endpoint = 2;
  HttpPool pool(o);
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  int ok = 0;
  for (int i = 0; i < 6; ++i) {
    HttpClientOptions co;
    ASSERT_TRUE(pool.Send(up.base(), co, Get("/wait"),
                          [&](Result<ClientResponse> r) {
                            std::lock_guard lock(mu);
                            ++done;
                            if (r.ok() && r->status == 200) ++ok;
                            cv.notify_all();
                          })
                    .ok());
  }
  // All six are at the upstream at once: six connections, none of them waiting on another.
  up.WaitForWaiting(6);
  up.Release();
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done == 6; });
  }
  EXPECT_EQ(ok, 6);
  EXPECT_EQ(up.connections(), 6u);
  EXPECT_EQ(pool.stats().idle, 2u);
  // The kept ones are used again.
  ASSERT_TRUE(SendWait(pool, up.base(), Get("/hello")).ok());
  EXPECT_EQ(pool.stats().connections_opened, 6u);
}

TEST(HttpPoolTest, AKeptConnectionThePeerClosedIsNotUsed) {
  std::mutex mu;
  std::condition_variable cv;
  bool first_closed = false;
  ScriptedUpstream up([&](int fd, int index) {
    if (!ScriptedUpstream::ReadRequest(fd)) return;
    ScriptedUpstream::Answer(fd, "conn" + std::to_string(index));
    if (index == 0) {
      // Keep-alive promised, then closed while idle (as a server's idle timeout does).
      ::shutdown(fd, SHUT_RDWR);
      std::lock_guard lock(mu);
      first_closed = true;
      cv.notify_all();
      return;
    }
    while (ScriptedUpstream::ReadRequest(fd)) ScriptedUpstream::Answer(fd, "again");
  });
  HttpPool pool;
  auto first = SendWait(pool, up.base(), Get("/a"));
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_EQ(first->body, "conn0");
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return first_closed; });
  }
  auto second = SendWait(pool, up.base(), Get("/b"));
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_EQ(second->body, "conn1");
  EXPECT_EQ(up.accepted(), 2);
  auto s = pool.stats();
  // Found closed when taken, or (if the close was still on its way) retried once.
  EXPECT_EQ(s.discarded_on_check + s.stale_retries, 1u);
}

TEST(HttpPoolTest, AGetOnAConnectionClosedUnderItIsSentAgainOnce) {
  ScriptedUpstream up([](int fd, int index) {
    if (index == 0) {
      if (!ScriptedUpstream::ReadRequest(fd)) return;
      ScriptedUpstream::Answer(fd, "first");
      // The next request arrives just as this server decides the connection was idle too long:
      // it closes without answering.
      ScriptedUpstream::ReadRequest(fd);
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
    while (ScriptedUpstream::ReadRequest(fd)) ScriptedUpstream::Answer(fd, "fresh");
  });
  HttpPool pool;
  ASSERT_TRUE(SendWait(pool, up.base(), Get("/a")).ok());
  auto again = SendWait(pool, up.base(), Get("/b"));
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(again->body, "fresh");
  EXPECT_EQ(pool.stats().stale_retries, 1u);
  EXPECT_EQ(up.accepted(), 2);
}

TEST(HttpPoolTest, APostOnAConnectionClosedUnderItIsNotSentAgain) {
  ScriptedUpstream up([](int fd, int) {
    if (!ScriptedUpstream::ReadRequest(fd)) return;
    ScriptedUpstream::Answer(fd, "first");
    ScriptedUpstream::ReadRequest(fd);
    ::shutdown(fd, SHUT_RDWR);
  });
  HttpPool pool;
  ASSERT_TRUE(SendWait(pool, up.base(), Get("/a")).ok());
  PoolRequest post;
  post.method = "POST";
  post.target = "/b";
  post.body = "{}";
  auto r = SendWait(pool, up.base(), post);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
  EXPECT_EQ(r.error().message(),
            "lost the connection to the upstream at " + up.base() + " (end of stream); retry");
  EXPECT_EQ(pool.stats().stale_retries, 0u);
  EXPECT_EQ(up.accepted(), 1);
}

TEST(HttpPoolTest, ConnectionCloseAnswersAreNotKept) {
  ScriptedUpstream up([](int fd, int index) {
    if (!ScriptedUpstream::ReadRequest(fd)) return;
    ScriptedUpstream::Answer(fd, "bye" + std::to_string(index), false);
    ::shutdown(fd, SHUT_WR);
  });
  HttpPool pool;
  for (int i = 0; i < 3; ++i) {
    auto r = SendWait(pool, up.base(), Get("/"));
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_EQ(r->body, "bye" + std::to_string(i));
  }
  EXPECT_EQ(up.accepted(), 3);
  EXPECT_EQ(pool.stats().idle, 0u);
  EXPECT_EQ(pool.stats().reused, 0u);
}

TEST(HttpPoolTest, ErrorsSayWhatHappened) {
  HttpPool pool;
  RefusingPort refusing;
  std::string down = "http://127.0.0.1:" + std::to_string(refusing.port());
  auto refused = SendWait(pool, down, Get("/"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), Code::kUnavailable);
  EXPECT_EQ(refused.error().message(), "cannot reach the upstream at " + down +
                                           " (connection refused); check the address and that "
                                           "it is running");
  EXPECT_EQ(refused.error().detail(), "Connection refused");

  // Accepts and never answers.
  ScriptedUpstream silent([](int fd, int) {
    char buf[256];
    while (::recv(fd, buf, sizeof(buf), 0) > 0) {
    }
  });
  HttpClientOptions quick;
  quick.timeout = 200ms;
  auto slow = SendWait(pool, silent.base(), Get("/"), quick);
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.error().code(), Code::kDeadlineExceeded);
  EXPECT_EQ(slow.error().message(), "the upstream at " + silent.base() +
                                        " did not answer within 200ms; check that it is "
                                        "healthy, or retry");

  CountingUpstream up;
  HttpClientOptions limited;
  limited.max_response_bytes = 64 << 10;
  auto big = SendWait(pool, up.base(), Get("/big"), limited);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code(), Code::kResourceExhausted);
  // The connection of a refused body is not kept, and the pool goes on.
  EXPECT_TRUE(SendWait(pool, up.base(), Get("/hello")).ok());

  PoolRequest head = Get("/big");
  head.method = "HEAD";
  auto h = SendWait(pool, up.base(), head, limited);
  ASSERT_TRUE(h.ok()) << h.error().ToString();
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->body, "");

  bool called = false;
  for (const char* bad : {"ftp://x", "not a url", "http://user@h:1"}) {
    Status st = pool.Send(bad, {}, Get("/"), [&](Result<ClientResponse>) { called = true; });
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.error().code(), Code::kInvalidArgument) << bad;
  }
  HttpClientOptions bad_tls;
  bad_tls.tls.ca_pem = "not a certificate";
  Status st = pool.Send("https://127.0.0.1:1", bad_tls, Get("/"),
                        [&](Result<ClientResponse>) { called = true; });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kInvalidArgument);
  EXPECT_FALSE(called);
}

TEST(HttpPoolTest, DestroyingThePoolDropsCallbacksInFlight) {
  CountingUpstream up;
  std::atomic<bool> called{false};
  auto owned = std::make_shared<int>(1);
  std::weak_ptr<int> watch = owned;
  {
    HttpPool pool;
    ASSERT_TRUE(pool.Send(up.base(), {}, Get("/wait"),
                          [&called, owned](Result<ClientResponse>) { called = true; })
                    .ok());
    owned.reset();
    up.WaitForWaiting(1);
  }
  EXPECT_FALSE(called.load());
  EXPECT_TRUE(watch.expired());  // what the callback owned went with it
}

}  // namespace
}  // namespace tug::net
