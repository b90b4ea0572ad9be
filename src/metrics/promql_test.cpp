// The PromQL reader on recorded answers of the documented Prometheus HTTP API, and its HTTP side
// against a fake that speaks that API on a loopback port (tests/promql_prometheus_test.cpp runs
// it against a real Prometheus).
#include "metrics/promql.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

#include <gtest/gtest.h>

#include "net/http.h"
#include "net/http_server.h"

namespace tug::metrics {
namespace {

std::string Recorded(const std::string& name) {
  const char* src = std::getenv("TUG_SOURCE_DIR");
  EXPECT_NE(src, nullptr) << "TUG_SOURCE_DIR is set by tug_add_test";
  std::ifstream in(std::string(src == nullptr ? "." : src) + "/src/metrics/testdata/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(PromqlParseTest, MatrixFromTheDocumentation) {
  auto r = ParseQueryResponse(200, Recorded("query_range_matrix.json"));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(r->size(), 2u);
  const PromSeries& a = (*r)[0];
  EXPECT_EQ(a.labels.at("__name__"), "up");
  EXPECT_EQ(a.labels.at("job"), "prometheus");
  ASSERT_EQ(a.points.size(), 3u);
  EXPECT_EQ(a.points[0].at, Micros{1435781430'781'000});
  EXPECT_EQ(a.points[2].at, Micros{1435781460'781'000});
  EXPECT_EQ(a.points[0].value, 1);
  EXPECT_EQ((*r)[1].labels.at("instance"), "localhost:9091");
  EXPECT_EQ((*r)[1].points[1].value, 0);
}

TEST(PromqlParseTest, VectorAndScalar) {
  auto v = ParseQueryResponse(200, Recorded("query_vector.json"));
  ASSERT_TRUE(v.ok()) << v.error().ToString();
  ASSERT_EQ(v->size(), 2u);
  ASSERT_EQ((*v)[1].points.size(), 1u);
  EXPECT_EQ((*v)[1].points[0].at, Micros{1435781451'781'000});
  auto s = ParseQueryResponse(
      200, R"({"status":"success","data":{"resultType":"scalar","result":[1435781451.781,"2.5"]}})");
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->size(), 1u);
  EXPECT_TRUE((*s)[0].labels.empty());
  EXPECT_EQ((*s)[0].points[0].value, 2.5);
}

TEST(PromqlParseTest, SpecialValuesAndWarnings) {
  auto r = ParseQueryResponse(200, Recorded("query_range_usage.json"));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].points[0].at, Micros{1700000000} * kMicrosPerSecond);
  EXPECT_EQ((*r)[0].points[1].value, 2254857830.4);
  EXPECT_TRUE(std::isnan((*r)[0].points[2].value));
  EXPECT_TRUE(std::isinf((*r)[1].points[1].value) && (*r)[1].points[1].value > 0);
  EXPECT_TRUE(std::isinf((*r)[1].points[2].value) && (*r)[1].points[2].value < 0);
  auto empty =
      ParseQueryResponse(200, R"({"status":"success","data":{"resultType":"matrix","result":[]}})");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(PromqlParseTest, ApiErrorsKeepPrometheusMessage) {
  auto bad = ParseQueryResponse(400, Recorded("error_bad_data.json"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.error().message().find("unclosed left bracket"), std::string::npos);
  EXPECT_EQ(bad.error().detail(), "HTTP 400 errorType bad_data");
  auto exec = ParseQueryResponse(422, Recorded("error_execution.json"));
  ASSERT_FALSE(exec.ok());
  EXPECT_EQ(exec.error().code(), Code::kInvalidArgument);
  EXPECT_NE(exec.error().message().find("too many samples"), std::string::npos);
  auto timeout = ParseQueryResponse(503, Recorded("error_timeout.json"));
  ASSERT_FALSE(timeout.ok());
  EXPECT_EQ(timeout.error().code(), Code::kDeadlineExceeded);
  auto unavailable = ParseQueryResponse(
      503, R"({"status":"error","errorType":"unavailable","error":"TSDB not ready"})");
  EXPECT_EQ(unavailable.error().code(), Code::kUnavailable);
  auto internal =
      ParseQueryResponse(500, R"({"status":"error","errorType":"internal","error":"boom"})");
  EXPECT_EQ(internal.error().code(), Code::kInternal);
  // Not the API: a proxy's page in front of it.
  auto html = ParseQueryResponse(502, "<html><body>Bad Gateway</body></html>");
  ASSERT_FALSE(html.ok());
  EXPECT_EQ(html.error().code(), Code::kUnavailable);
  EXPECT_NE(html.error().message().find("HTTP 502"), std::string::npos);
  auto malformed = ParseQueryResponse(
      200, R"({"status":"success","data":{"resultType":"matrix","result":[{"values":[[1]]}]}})");
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.error().code(), Code::kInternal);
  auto streams =
      ParseQueryResponse(200, R"({"status":"success","data":{"resultType":"streams","result":[]}})");
  EXPECT_FALSE(streams.ok());
}

TEST(PromqlQueryTest, QueriesSelectThePodsOfOneAttempt) {
  PodUsageQuery q;
  q.namespace_ = "batch";
  q.pod_base = "tug-01jrun-1";
  q.rate_window_seconds = 60;
  EXPECT_EQ(MemoryQuery(q),
            R"(sum by (pod) (container_memory_working_set_bytes{namespace="batch", )"
            R"(pod=~"tug-01jrun-1(-.+)?", container!="", container!="POD"}))");
  EXPECT_EQ(CpuQuery(q),
            R"(sum by (pod) (rate(container_cpu_usage_seconds_total{namespace="batch", )"
            R"(pod=~"tug-01jrun-1(-.+)?", container!="", container!="POD"}[60s])))");
  EXPECT_EQ(RegexLiteral("a.b(c)"), R"(a\.b\(c\))");
  EXPECT_EQ(PromQuote(R"(a"b\c)"), R"(a\"b\\c)");
}

TEST(PromqlQueryTest, StepIsWidenedToStayWithinThePointLimit) {
  const Micros day = 86400 * kMicrosPerSecond;
  EXPECT_EQ(EffectiveStep(0, 600 * kMicrosPerSecond, 15, 11000), 15);
  EXPECT_EQ(EffectiveStep(0, day, 1, 11000), 8);  // 86400 / 10999 rounded up
  EXPECT_LE(day / kMicrosPerSecond / EffectiveStep(0, day, 1, 11000) + 1, 11000);
  EXPECT_EQ(EffectiveStep(0, 0, 0, 11000), 1);
}

PrometheusOptions At(std::string url) {
  PrometheusOptions o;
  o.url = std::move(url);
  return o;
}

// A fake speaking the API: records each request's form, answers a canned body.
class FakePrometheus {
 public:
  FakePrometheus() {
    net::Router router;
    auto handle = [this](net::Request& req) {
      std::lock_guard lock(mu_);
      requests_.push_back(req);
      net::Response resp;
      resp.status = status_;
      resp.body = body_;
      for (const auto& [needle, body] : by_query_) {
        if (req.body.find(needle) != std::string::npos) resp.body = body;
      }
      return resp;
    };
    router.Add("POST", "/api/v1/query_range", handle);
    router.Add("POST", "/api/v1/query", handle);
    net::ServerOptions o;
    o.port = 0;
    o.threads = 1;
    server_ = std::make_unique<net::HttpServer>(o, std::move(router));
    EXPECT_TRUE(server_->Start().ok());
  }
  ~FakePrometheus() { server_->Stop(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  void Answer(int status, std::string body) {
    std::lock_guard lock(mu_);
    status_ = status;
    body_ = std::move(body);
  }
  // Requests whose (encoded) form contains `needle` get `body` instead.
  void AnswerFor(std::string needle, std::string body) {
    std::lock_guard lock(mu_);
    by_query_.emplace_back(std::move(needle), std::move(body));
  }
  std::vector<net::Request> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  std::mutex mu_;
  int status_ = 200;
  std::string body_;
  std::vector<std::pair<std::string, std::string>> by_query_;
  std::vector<net::Request> requests_;
  std::unique_ptr<net::HttpServer> server_;
};

// The form's fields, decoded ('+' and %XX).
std::map<std::string, std::string> Form(const std::string& body) {
  std::map<std::string, std::string> out;
  std::stringstream ss(body);
  std::string pair;
  while (std::getline(ss, pair, '&')) {
    size_t eq = pair.find('=');
    std::string k = pair.substr(0, eq);
    std::string raw = eq == std::string::npos ? "" : pair.substr(eq + 1);
    std::string v;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size()) {
        v += static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        v += raw[i] == '+' ? ' ' : raw[i];
      }
    }
    out[k] = v;
  }
  return out;
}

TEST(PrometheusReaderTest, PostsTheRangeAndReadsTheMatrix) {
  FakePrometheus fake;
  fake.Answer(200, Recorded("query_range_matrix.json"));
  PrometheusOptions o;
  o.url = fake.url();
  o.bearer_token = "s3cret";
  auto reader = PrometheusReader::Create(o);
  ASSERT_TRUE(reader.ok()) << reader.error().ToString();
  auto r = (*reader)->QueryRange(R"(up{job="prometheus"})", 1435781430'781'000,
                                 1435781460'781'000, 15);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->size(), 2u);
  auto reqs = fake.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].headers["authorization"], "Bearer s3cret");
  EXPECT_EQ(reqs[0].headers["content-type"], "application/x-www-form-urlencoded");
  auto form = Form(reqs[0].body);
  EXPECT_EQ(form["query"], R"(up{job="prometheus"})");
  EXPECT_EQ(form["start"], "1435781430.781");
  EXPECT_EQ(form["end"], "1435781460.781");
  EXPECT_EQ(form["step"], "15");
}

TEST(PrometheusReaderTest, ErrorsFromTheApiAndTheTransport) {
  FakePrometheus fake;
  fake.Answer(400, Recorded("error_bad_data.json"));
  auto reader = PrometheusReader::Create(At(fake.url()));
  ASSERT_TRUE(reader.ok());
  auto r = (*reader)->QueryRange("rate(x[", 0, kMicrosPerSecond, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_FALSE((*reader)->QueryRange("", 0, 1, 1).ok());
  EXPECT_FALSE((*reader)->QueryRange("up", 10, 1, 1).ok());
  EXPECT_FALSE(PrometheusReader::Create(At("prometheus:9090")).ok());
  // Nobody listens on the fake's port once it is gone.
  std::string gone;
  {
    FakePrometheus stopped;
    gone = stopped.url();
  }
  auto unreachable = PrometheusReader::Create(At(gone));
  ASSERT_TRUE(unreachable.ok());
  auto u = (*unreachable)->QueryRange("up", 0, kMicrosPerSecond, 1);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().code(), Code::kUnavailable) << u.error().ToString();
}

TEST(PrometheusReaderTest, PodUsageMergesMemoryAndCpuByPodAndTime) {
  FakePrometheus fake;
  // Both queries get the same answer here: memory and "cores" from one matrix.
  fake.Answer(200, Recorded("query_range_usage.json"));
  auto reader = PrometheusReader::Create(At(fake.url()));
  ASSERT_TRUE(reader.ok());
  PodUsageQuery q;
  q.namespace_ = "batch";
  q.pod_base = "tug-01jrun-1";
  q.start = Micros{1700000000} * kMicrosPerSecond;
  q.end = Micros{1700000045} * kMicrosPerSecond;
  auto usage = ReadPodUsage(**reader, q);
  ASSERT_TRUE(usage.ok()) << usage.error().ToString();
  ASSERT_EQ(usage->size(), 2u);
  const auto& driver = usage->at("tug-01jrun-1-driver");
  ASSERT_EQ(driver.size(), 2u);  // the NaN step is a gap
  EXPECT_EQ(driver[0].memory_bytes, int64_t{2147483648});
  EXPECT_EQ(driver[1].memory_bytes, int64_t{2254857830});
  const auto& exec = usage->at("tug-01jrun-1-exec-1");
  ASSERT_EQ(exec.size(), 1u);  // ±Inf dropped
  EXPECT_EQ(exec[0].at, Micros{1700000015} * kMicrosPerSecond);
  auto reqs = fake.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(Form(reqs[0].body)["query"], MemoryQuery(q));
  EXPECT_EQ(Form(reqs[1].body)["query"], CpuQuery(q));
}

TEST(PrometheusReaderTest, NamespaceUsageFromInstantQueries) {
  FakePrometheus fake;
  fake.Answer(200, R"({"status":"success","data":{"resultType":"vector","result":[
    {"metric":{"pod":"tug-a-1"},"value":[1700000000.5,"104857600"]},
    {"metric":{"pod":"tug-b-1-driver"},"value":[1700000000.5,"NaN"]},
    {"metric":{},"value":[1700000000.5,"1"]}]}})");
  fake.AnswerFor("rate", R"({"status":"success","data":{"resultType":"vector","result":[
    {"metric":{"pod":"tug-a-1"},"value":[1700000000.5,"0.25"]},
    {"metric":{"pod":"tug-b-1-driver"},"value":[1700000000.5,"1.5"]}]}})");
  auto reader = PrometheusReader::Create(At(fake.url()));
  ASSERT_TRUE(reader.ok());
  const Micros at = 1700000000'500'000;
  auto usage = ReadNamespaceUsage(**reader, "batch", "tug-", at, 120);
  ASSERT_TRUE(usage.ok()) << usage.error().ToString();
  ASSERT_EQ(usage->size(), 2u);  // the series without a pod label is not a pod
  EXPECT_EQ((*usage)[0].pod, "tug-a-1");
  EXPECT_EQ((*usage)[0].at, at);
  EXPECT_EQ((*usage)[0].memory_bytes, 104857600);
  EXPECT_EQ((*usage)[0].cpu_millis, 250);
  EXPECT_EQ((*usage)[1].memory_bytes, -1);  // NaN: no reading
  EXPECT_EQ((*usage)[1].cpu_millis, 1500);
  auto reqs = fake.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].path, "/api/v1/query");
  auto form = Form(reqs[0].body);
  EXPECT_EQ(form["query"],
            R"(sum by (pod) (container_memory_working_set_bytes{namespace="batch", )"
            R"(pod=~"tug-.+", container!="", container!="POD"}))");
  EXPECT_EQ(form["time"], "1700000000.500");
  EXPECT_NE(Form(reqs[1].body)["query"].find("[120s]"), std::string::npos);
}

}  // namespace
}  // namespace tug::metrics
