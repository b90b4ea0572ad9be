// net::Deferred: a handler's response given later from another thread.
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "net/http_client.h"
#include "net/http_server.h"

namespace tug::net {
namespace {

// A handler may answer later from another thread; the connection stays usable afterwards.
TEST(DeferredTest, ReplyFromAnotherThreadAndDroppedReply) {
  Router router;
  std::mutex mu;
  std::vector<std::shared_ptr<Deferred>> pending;
  std::condition_variable cv;
  router.Add("POST", "/later", [&](Request& req) {
    Response r;
    r.deferred = std::make_shared<Deferred>();
    std::lock_guard lock(mu);
    pending.push_back(r.deferred);
    cv.notify_all();
    (void)req;
    return r;
  });
  router.Add("POST", "/never", [](Request&) {
    Response r;
    r.deferred = std::make_shared<Deferred>();  // dropped when this response is discarded
    return r;
  });
  router.Add("GET", "/now", [](Request&) { return JsonResponse(200, "{}"); });
  ServerOptions o;
  o.port = 0;
  HttpServer server(o, std::move(router));
  ASSERT_TRUE(server.Start().ok());
  std::thread replier([&] {
    for (int i = 0; i < 20; ++i) {
      std::shared_ptr<Deferred> d;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return !pending.empty(); });
        d = pending.front();
        pending.erase(pending.begin());
      }
      d->Reply(JsonResponse(201, "{\"n\":" + std::to_string(i) + "}"));
      d->Reply(JsonResponse(500, "{}"));  // only the first reply counts
    }
  });
  auto client = HttpClient::Create("http://127.0.0.1:" + std::to_string(server.port()));
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 20; ++i) {
    auto r = client->Send("POST", "/later", "{}");
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->body, "{\"n\":" + std::to_string(i) + "}");
    auto now = client->Send("GET", "/now");
    ASSERT_TRUE(now.ok());
    EXPECT_EQ(now->status, 200);
  }
  replier.join();
  auto never = client->Send("POST", "/never", "{}");
  ASSERT_TRUE(never.ok()) << never.error().ToString();
  EXPECT_EQ(never->status, 503);
  server.Stop();
}

// A Deferred may outlive the server (an upstream pool or a writer thread still holds it): a
// reply after Stop(), or after the server is gone, is dropped without touching either.
TEST(DeferredTest, ReplyAfterTheServerStoppedIsDropped) {
  for (bool destroy : {false, true}) {
    std::mutex mu;
    std::condition_variable cv;
    std::shared_ptr<Deferred> held;
    Router router;
    router.Add("GET", "/later", [&](Request&) {
      Response r;
      r.deferred = std::make_shared<Deferred>();
      std::lock_guard lock(mu);
      held = r.deferred;
      cv.notify_all();
      return r;
    });
    ServerOptions o;
    o.port = 0;
    auto server = std::make_unique<HttpServer>(o, std::move(router));
    ASSERT_TRUE(server->Start().ok());
    auto client = HttpClient::Create("http://127.0.0.1:" + std::to_string(server->port()));
    ASSERT_TRUE(client.ok());
    auto answer = std::async(std::launch::async, [&] { return client->Send("GET", "/later"); });
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return held != nullptr; });
    }
    server->Stop();
    if (destroy) server.reset();
    auto r = answer.get();
    EXPECT_FALSE(r.ok());  // the connection was dropped at Stop
    held->Reply(JsonResponse(200, "{}"));
    held.reset();
  }
}

}  // namespace
}  // namespace tug::net
