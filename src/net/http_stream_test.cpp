// Push streams (StreamSource::Subscribe): the server polls such a source when it is woken, not
// on a timer, and a wake that comes after the stream or the server is gone is harmless.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "net/http_client.h"
#include "net/http_server.h"

namespace tug::net {
namespace {

using namespace std::chrono_literals;

/// What a test thread and the source share: items to send, and the server's wake.
struct Feed {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> items;  // guarded by mu
  bool closed = false;            // guarded by mu
  std::function<void()> wake;     // guarded by mu; set by Subscribe
  int polls = 0;                  // guarded by mu
  bool destroyed = false;         // guarded by mu

  void Push(std::string item, bool close) {
    std::function<void()> w;
    {
      std::lock_guard lock(mu);
      if (!item.empty()) items.push_back(std::move(item));
      closed = close;
      w = wake;
    }
    w();
  }
  std::function<void()> WaitSubscribed() {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 30s, [&] { return wake != nullptr; });
    return wake;
  }
};

class PushSource : public StreamSource {
 public:
  explicit PushSource(std::shared_ptr<Feed> feed) : feed_(std::move(feed)) {}
  ~PushSource() override {
    std::lock_guard lock(feed_->mu);
    feed_->destroyed = true;
    feed_->cv.notify_all();
  }
  StreamPoll Poll() override {
    std::lock_guard lock(feed_->mu);
    ++feed_->polls;
    if (!feed_->items.empty()) {
      StreamPoll p{feed_->items.front(), false};
      feed_->items.pop_front();
      return p;
    }
    return {"", feed_->closed};
  }
  std::optional<std::chrono::milliseconds> Subscribe(std::function<void()> wake) override {
    std::lock_guard lock(feed_->mu);
    feed_->wake = std::move(wake);
    feed_->cv.notify_all();
    // Far longer than any test: without wakes this stream would never move.
    return std::chrono::milliseconds(std::chrono::hours(1));
  }

 private:
  std::shared_ptr<Feed> feed_;
};

class PushStreamTest : public ::testing::Test {
 protected:
  void StartServer() {
    Router router;
    router.Add("GET", "/push", [feed = feed_](Request&) {
      Response r;
      r.content_type = "text/event-stream";
      r.stream = std::make_shared<PushSource>(feed);
      return r;
    });
    ServerOptions o;
    o.port = 0;
    // The default poll interval would also move the stream; a push source must not need it.
    o.stream_poll_interval = std::chrono::hours(1);
    server_ = std::make_unique<HttpServer>(o, std::move(router));
    ASSERT_TRUE(server_->Start().ok());
  }
  std::shared_ptr<Feed> feed_ = std::make_shared<Feed>();
  std::unique_ptr<HttpServer> server_;
};

TEST_F(PushStreamTest, WakesDeliverEachItemAndTheEnd) {
  StartServer();
  auto client = HttpClient::Create("http://127.0.0.1:" + std::to_string(server_->port()), 60s);
  ASSERT_TRUE(client.ok());
  std::mutex mu;
  std::condition_variable cv;
  std::string got;
  // The producer sends the next item only after the client saw the previous one, so every item
  // needs its own wake.
  std::thread producer([&] {
    feed_->WaitSubscribed();
    for (int i = 0; i < 5; ++i) {
      std::string item = "item-" + std::to_string(i) + "\n";
      feed_->Push(item, false);
      std::unique_lock lock(mu);
      cv.wait_for(lock, 30s, [&] { return got.find(item) != std::string::npos; });
    }
    feed_->Push("", true);
  });
  int status = 0;
  auto st = client->Stream(
      "GET", "/push",
      [&](std::string_view data) {
        std::lock_guard lock(mu);
        got.append(data);
        cv.notify_all();
        return true;
      },
      &status);
  producer.join();
  ASSERT_TRUE(st.ok()) << st.error().ToString();
  EXPECT_EQ(status, 200);
  EXPECT_EQ(got, "item-0\nitem-1\nitem-2\nitem-3\nitem-4\n");
}

TEST_F(PushStreamTest, WakesAfterTheStreamAndTheServerAreGoneDoNothing) {
  StartServer();
  auto client = HttpClient::Create("http://127.0.0.1:" + std::to_string(server_->port()), 60s);
  ASSERT_TRUE(client.ok());
  std::thread producer([&] {
    feed_->WaitSubscribed();
    feed_->Push("only\n", true);
  });
  int status = 0;
  std::string got;
  auto st = client->Stream(
      "GET", "/push",
      [&](std::string_view data) {
        got.append(data);
        return true;
      },
      &status);
  producer.join();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(got, "only\n");
  std::function<void()> wake;
  {
    std::unique_lock lock(feed_->mu);
    feed_->cv.wait_for(lock, 30s, [&] { return feed_->destroyed; });
    EXPECT_TRUE(feed_->destroyed);
    wake = feed_->wake;
  }
  wake();  // the stream ended
  server_->Stop();
  server_.reset();
  wake();  // the server is gone
}

}  // namespace
}  // namespace tug::net
