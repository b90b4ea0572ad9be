// SparkUiProxy against a stand-in Spark driver UI: the upstream connection (errors, limits,
// kept connections, io threads).
#include "server/spark_ui_proxy_test_fixture.h"

namespace tug::server {
namespace {

// The fixture is per translation unit (the header defines it in an unnamed namespace), so this
// file names its own suite.
class SparkUiProxyUpstreamTest : public SparkUiProxyTest {};

TEST_F(SparkUiProxyUpstreamTest, UnreachableDriverIs502AndSlowOneIs504) {
  auto down = Get("/runs/down/spark-ui/jobs/");
  EXPECT_EQ(down.status, 502);
  std::string base = "http://127.0.0.1:" + std::to_string(refusing_.port());
  EXPECT_EQ(ErrorMessage(down), "the Spark driver of run 'down' is not reachable at " + base +
                                    ": connection refused; if the run just ended, reload in a "
                                    "moment for its history");
  EXPECT_EQ(down.body.find("upstream-token"), std::string::npos);

  auto slow = Get("/runs/slow/spark-ui/slow");
  EXPECT_EQ(slow.status, 504);
  EXPECT_EQ(ErrorMessage(slow), "the Spark driver of run 'slow' at " + driver_base_ +
                                    " did not answer within 300ms; it may be busy, reload in a "
                                    "moment");
}

TEST_F(SparkUiProxyUpstreamTest, ResponseOverTheLimitIs502) {
  auto big = Get("/runs/r1/spark-ui/big");
  EXPECT_EQ(big.status, 502);
  EXPECT_NE(ErrorMessage(big).find("larger than 256 KiB"), std::string::npos) << big.body;
  // The proxy keeps serving.
  EXPECT_EQ(Get("/runs/r1/spark-ui/jobs/").status, 200);
}

// The proxy hands the upstream request to its pool and returns: with the server's only io
// thread, a driver that takes its time does not keep a health check waiting.
TEST_F(SparkUiProxyUpstreamTest, SlowDriverHoldsNoIoThread) {
  auto other = net::HttpClient::Create("http://127.0.0.1:" + std::to_string(server_->port()), 10s);
  ASSERT_TRUE(other.ok());
  auto slow =
      std::async(std::launch::async, [&] { return other->Send("GET", "/runs/r1/spark-ui/slow"); });
  WaitForSlowRequests(1);  // the proxied request is at the driver, which does not answer yet
  for (int i = 0; i < 3; ++i) {
    auto health = Get("/healthz");
    EXPECT_EQ(health.status, 200);
    // Other proxied pages too.
    EXPECT_EQ(Get("/runs/r1/spark-ui/jobs/").status, 200);
  }
  ReleaseSlow();
  auto answer = slow.get();
  ASSERT_TRUE(answer.ok()) << answer.error().ToString();
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(answer->body, R"({"slow":"done"})");
}

TEST_F(SparkUiProxyUpstreamTest, RequestsReuseKeptConnectionsToTheDriver) {
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(EchoedTarget("/runs/r1/spark-ui/echo/" + std::to_string(i)),
              "/echo/" + std::to_string(i));
  }
  EXPECT_EQ(DriverConnections(), 1u);
  auto stats = proxy_->pool_stats();
  EXPECT_EQ(stats.connections_opened, 1u);
  EXPECT_EQ(stats.reused, 9u);
}

// A driver's Jetty closes idle keep-alive connections (30 s); one that closes just as a request
// is sent on it must not cost the caller an error page.
TEST_F(SparkUiProxyUpstreamTest, DriverClosingAKeptConnectionIsHandled) {
  ScriptedUpstream upstream([](int fd, int index) {
    if (!ScriptedUpstream::ReadRequest(fd)) return;
    ScriptedUpstream::Answer(fd, "page " + std::to_string(index));
    if (index == 0) {
      // Reads the next request on this connection, then closes without an answer.
      ScriptedUpstream::ReadRequest(fd);
      ::shutdown(fd, SHUT_RDWR);
      return;
    }
    if (index == 1) {
      ::shutdown(fd, SHUT_RDWR);  // answered, kept alive, then closed while idle
      return;
    }
    while (ScriptedUpstream::ReadRequest(fd)) ScriptedUpstream::Answer(fd, "more");
  });
  scripted_base_ = upstream.base();
  auto first = Get("/runs/scripted/spark-ui/a");
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, "page 0");
  auto second = Get("/runs/scripted/spark-ui/b");  // sent on connection 0, which closes
  EXPECT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.body, "page 1");
  auto third = Get("/runs/scripted/spark-ui/c");  // connection 1 closed while kept
  EXPECT_EQ(third.status, 200) << third.body;
  EXPECT_EQ(third.body, "page 2");
  EXPECT_EQ(upstream.accepted(), 3);
  EXPECT_GE(proxy_->pool_stats().stale_retries, 1u);
}

TEST_F(SparkUiProxyUpstreamTest, DriverThatWentAwayIs502WithTheReason) {
  EXPECT_EQ(Get("/runs/r1/spark-ui/jobs/").status, 200);  // a connection is kept
  driver_->Stop();
  auto gone = Get("/runs/r1/spark-ui/jobs/");
  EXPECT_EQ(gone.status, 502);
  EXPECT_EQ(ErrorMessage(gone), "the Spark driver of run 'r1' is not reachable at " + driver_base_ +
                                    ": connection refused; if the run just ended, reload in a "
                                    "moment for its history");
  EXPECT_EQ(Get("/healthz").status, 200);
}

}  // namespace
}  // namespace tug::server
