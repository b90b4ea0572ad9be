#include "metrics/promql.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "net/http_client.h"

namespace json = boost::json;

namespace tug::metrics {
namespace {

std::string Excerpt(std::string_view body) {
  std::string s(body.substr(0, 200));
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

// The API's errorType → our codes (docs: "bad_data", "execution", "timeout", "canceled",
// "unavailable", "not_found", "internal"; VictoriaMetrics answers the same envelope).
Error ApiError(int http_status, const std::string& type, const std::string& message) {
  std::string detail = fmt::format("HTTP {} errorType {}", http_status, type);
  std::string text = fmt::format("prometheus: {}", message.empty() ? type : message);
  if (type == "bad_data" || type == "execution") return Error(Code::kInvalidArgument, text, detail);
  if (type == "timeout") return Error(Code::kDeadlineExceeded, text, detail);
  if (type == "canceled") return Error(Code::kCancelled, text, detail);
  if (type == "unavailable") return Error(Code::kUnavailable, text, detail);
  if (type == "not_found") return Error(Code::kNotFound, text, detail);
  return Error(Code::kInternal, text, detail);
}

// [<unix seconds as a number>, "<value as a string>"]
Result<PromPoint> ParsePoint(const json::value& v) {
  if (!v.is_array() || v.as_array().size() != 2) {
    return Internal("prometheus: a sample is not [time, \"value\"]", json::serialize(v));
  }
  const json::value& t = v.as_array()[0];
  const json::value& x = v.as_array()[1];
  double seconds = 0;
  if (t.is_double()) {
    seconds = t.as_double();
  } else if (t.is_int64()) {
    seconds = static_cast<double>(t.as_int64());
  } else if (t.is_uint64()) {
    seconds = static_cast<double>(t.as_uint64());
  } else {
    return Internal("prometheus: a sample's time is not a number", json::serialize(v));
  }
  if (!x.is_string()) {
    return Internal("prometheus: a sample's value is not a string", json::serialize(v));
  }
  PromPoint p;
  // Milliseconds are the API's resolution; round so 1435781451.781 is ...451'781'000 exactly.
  p.at = static_cast<Micros>(std::llround(seconds * 1000.0)) * kMicrosPerMilli;
  const std::string s(x.as_string());
  if (s == "NaN") {
    p.value = std::numeric_limits<double>::quiet_NaN();
  } else if (s == "+Inf" || s == "Inf") {
    p.value = std::numeric_limits<double>::infinity();
  } else if (s == "-Inf") {
    p.value = -std::numeric_limits<double>::infinity();
  } else {
    char* end = nullptr;
    p.value = std::strtod(s.c_str(), &end);
    if (end == s.c_str() || *end != '\0') {
      return Internal(fmt::format("prometheus: sample value '{}' is not a number", s));
    }
  }
  return p;
}

Result<PromSeries> ParseSeries(const json::value& v, bool matrix) {
  if (!v.is_object()) return Internal("prometheus: a result item is not an object");
  const json::object& o = v.as_object();
  PromSeries series;
  if (const json::value* m = o.if_contains("metric"); m != nullptr && m->is_object()) {
    for (const auto& kv : m->as_object()) {
      if (kv.value().is_string()) {
        series.labels[std::string(kv.key())] = std::string(kv.value().as_string());
      }
    }
  }
  if (matrix) {
    const json::value* values = o.if_contains("values");
    // Native histograms come as "histograms"; usage series are floats only.
    if (values == nullptr) return series;
    if (!values->is_array()) return Internal("prometheus: a series' values are not a list");
    series.points.reserve(values->as_array().size());
    for (const auto& p : values->as_array()) {
      ASSIGN_OR_RETURN(PromPoint point, ParsePoint(p));
      series.points.push_back(point);
    }
  } else if (const json::value* value = o.if_contains("value"); value != nullptr) {
    ASSIGN_OR_RETURN(PromPoint point, ParsePoint(*value));
    series.points.push_back(point);
  }
  return series;
}

std::string FormatSeconds(Micros t) {
  // Prometheus takes RFC 3339 or unix seconds with a fraction; seconds with milliseconds.
  const bool negative = t < 0;
  const Micros a = negative ? -t : t;
  return fmt::format("{}{}.{:03}", negative ? "-" : "", a / kMicrosPerSecond,
                     (a % kMicrosPerSecond) / kMicrosPerMilli);
}

std::string UrlEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string Selector(const PodUsageQuery& q) {
  return fmt::format(R"({{namespace="{}", pod=~"{}", container!="", container!="POD"}})",
                     PromQuote(q.namespace_),
                     PromQuote(RegexLiteral(q.pod_base) + "(-.+)?"));
}

}  // namespace

Result<std::vector<PromSeries>> ParseQueryResponse(int http_status, std::string_view body) {
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec || !doc.is_object()) {
    // A proxy's HTML page, an empty 502: not the API speaking.
    return Error(http_status >= 500 ? Code::kUnavailable : Code::kInternal,
                 fmt::format("prometheus answered HTTP {} without its JSON envelope: {}",
                             http_status, Excerpt(body)),
                 fmt::format("HTTP {}", http_status));
  }
  const json::object& o = doc.as_object();
  auto text = [&](const char* key) -> std::string {
    const json::value* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  const std::string status = text("status");
  if (status == "error" || http_status >= 400) {
    return ApiError(http_status, text("errorType"), text("error"));
  }
  if (status != "success") {
    return Internal(fmt::format("prometheus: unknown status '{}'", status), Excerpt(body));
  }
  const json::value* data = o.if_contains("data");
  if (data == nullptr || !data->is_object()) return Internal("prometheus: answer without data");
  const json::value* type = data->as_object().if_contains("resultType");
  const json::value* result = data->as_object().if_contains("result");
  if (type == nullptr || !type->is_string() || result == nullptr) {
    return Internal("prometheus: data without resultType and result");
  }
  const std::string rt(type->as_string());
  std::vector<PromSeries> out;
  if (rt == "scalar") {
    PromSeries s;
    ASSIGN_OR_RETURN(PromPoint p, ParsePoint(*result));
    s.points.push_back(p);
    out.push_back(std::move(s));
    return out;
  }
  if (rt != "matrix" && rt != "vector") {
    return Internal(fmt::format("prometheus: result type '{}' is not a matrix or vector", rt));
  }
  if (!result->is_array()) return Internal("prometheus: result is not a list");
  out.reserve(result->as_array().size());
  for (const auto& item : result->as_array()) {
    ASSIGN_OR_RETURN(PromSeries s, ParseSeries(item, rt == "matrix"));
    out.push_back(std::move(s));
  }
  return out;
}

int64_t EffectiveStep(Micros start, Micros end, int64_t step_seconds, int64_t max_points) {
  int64_t step = std::max<int64_t>(step_seconds, 1);
  if (max_points < 2 || end <= start) return step;
  // Points = range/step + 1 must stay within max_points.
  const int64_t range = (end - start + kMicrosPerSecond - 1) / kMicrosPerSecond;
  const int64_t min_step = (range + max_points - 2) / (max_points - 1);
  return std::max(step, min_step);
}

std::string PromQuote(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string RegexLiteral(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\.+*?()|[]{}^$").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

std::string MemoryQuery(const PodUsageQuery& q) {
  return "sum by (pod) (container_memory_working_set_bytes" + Selector(q) + ")";
}

std::string CpuQuery(const PodUsageQuery& q) {
  return fmt::format("sum by (pod) (rate(container_cpu_usage_seconds_total{}[{}s]))", Selector(q),
                     std::max<int64_t>(q.rate_window_seconds, 1));
}

PrometheusReader::PrometheusReader(PrometheusOptions options,
                                   std::unique_ptr<net::HttpClient> client)
    : options_(std::move(options)), client_(std::move(client)) {}

PrometheusReader::~PrometheusReader() = default;

Result<std::unique_ptr<PrometheusReader>> PrometheusReader::Create(PrometheusOptions options) {
  if (options.url.rfind("http://", 0) != 0 && options.url.rfind("https://", 0) != 0) {
    return InvalidArgument(fmt::format(
        "prometheus url '{}' must be http(s)://host:port, e.g. http://prometheus:9090",
        options.url));
  }
  net::HttpClientOptions ho;
  ho.timeout = options.timeout;
  ho.peer = "prometheus";
  ho.user_agent = "tug-promql";
  // Usage of a long attempt at a fine step is the largest answer we ask for; bound it.
  ho.max_response_bytes = int64_t{64} << 20;
  if (!options.bearer_token.empty()) {
    std::string header = "Bearer " + options.bearer_token;
    ho.headers = [header] { return net::HeaderList{{"Authorization", header}}; };
  }
  ASSIGN_OR_RETURN(net::HttpClient client, net::HttpClient::Create(options.url, std::move(ho)));
  return std::unique_ptr<PrometheusReader>(new PrometheusReader(
      std::move(options), std::make_unique<net::HttpClient>(std::move(client))));
}

Result<std::vector<PromSeries>> PrometheusReader::QueryRange(const std::string& query,
                                                             Micros start, Micros end,
                                                             int64_t step_seconds) {
  if (query.empty()) return InvalidArgument("prometheus: the query is empty");
  if (end < start) return InvalidArgument("prometheus: the range ends before it starts");
  if (step_seconds < 1) return InvalidArgument("prometheus: the step must be at least 1 second");
  const int64_t step = EffectiveStep(start, end, step_seconds, options_.max_points);
  // POST with a form body: the query stays out of URLs (and access logs), and long selectors
  // do not meet a URL length limit.
  const std::string form = fmt::format("query={}&start={}&end={}&step={}", UrlEncode(query),
                                       FormatSeconds(start), FormatSeconds(end), step);
  return Post("/api/v1/query_range", form);
}

Result<std::vector<PromSeries>> PrometheusReader::Query(const std::string& query, Micros at) {
  if (query.empty()) return InvalidArgument("prometheus: the query is empty");
  return Post("/api/v1/query",
              fmt::format("query={}&time={}", UrlEncode(query), FormatSeconds(at)));
}

Result<std::vector<PromSeries>> PrometheusReader::Post(const std::string& path,
                                                       const std::string& form) {
  std::lock_guard lock(mu_);
  ASSIGN_OR_RETURN(net::ClientResponse resp,
                   client_->Send("POST", path, form, "application/x-www-form-urlencoded"));
  return ParseQueryResponse(resp.status, resp.body);
}

Result<std::map<std::string, std::vector<PodUsagePoint>>> ReadPodUsage(PrometheusReader& reader,
                                                                       const PodUsageQuery& q) {
  ASSIGN_OR_RETURN(auto memory, reader.QueryRange(MemoryQuery(q), q.start, q.end, q.step_seconds));
  ASSIGN_OR_RETURN(auto cpu, reader.QueryRange(CpuQuery(q), q.start, q.end, q.step_seconds));
  // Merge both queries by pod and time (the same step grid, so times match exactly).
  std::map<std::string, std::map<Micros, PodUsagePoint>> merged;
  auto add = [&](const std::vector<PromSeries>& series, bool is_memory) {
    for (const PromSeries& s : series) {
      auto pod = s.labels.find("pod");
      if (pod == s.labels.end()) continue;
      for (const PromPoint& p : s.points) {
        if (!std::isfinite(p.value) || p.value < 0) continue;
        PodUsagePoint& u = merged[pod->second][p.at];
        u.at = p.at;
        if (is_memory) {
          u.memory_bytes = std::llround(p.value);
        } else {
          u.cpu_millis = std::llround(p.value * 1000.0);
        }
      }
    }
  };
  add(memory, true);
  add(cpu, false);
  std::map<std::string, std::vector<PodUsagePoint>> out;
  for (auto& [pod, points] : merged) {
    auto& v = out[pod];
    v.reserve(points.size());
    for (auto& [at, p] : points) v.push_back(p);
  }
  return out;
}

Result<std::vector<PodUsageNow>> ReadNamespaceUsage(PrometheusReader& reader,
                                                   const std::string& namespace_,
                                                   const std::string& pod_prefix, Micros at,
                                                   int64_t rate_window_seconds) {
  const std::string sel =
      fmt::format(R"({{namespace="{}", pod=~"{}.+", container!="", container!="POD"}})",
                  PromQuote(namespace_), PromQuote(RegexLiteral(pod_prefix)));
  ASSIGN_OR_RETURN(auto memory,
                   reader.Query("sum by (pod) (container_memory_working_set_bytes" + sel + ")", at));
  ASSIGN_OR_RETURN(
      auto cpu, reader.Query(fmt::format("sum by (pod) (rate(container_cpu_usage_seconds_total{}"
                                         "[{}s]))",
                                         sel, std::max<int64_t>(rate_window_seconds, 1)),
                             at));
  std::map<std::string, PodUsageNow> by_pod;
  auto add = [&](const std::vector<PromSeries>& series, bool is_memory) {
    for (const PromSeries& s : series) {
      auto pod = s.labels.find("pod");
      if (pod == s.labels.end() || s.points.empty()) continue;
      const PromPoint& p = s.points.back();
      if (!std::isfinite(p.value) || p.value < 0) continue;
      PodUsageNow& u = by_pod[pod->second];
      u.pod = pod->second;
      u.at = std::max(u.at, p.at);
      if (is_memory) {
        u.memory_bytes = std::llround(p.value);
      } else {
        u.cpu_millis = std::llround(p.value * 1000.0);
      }
    }
  };
  add(memory, true);
  add(cpu, false);
  std::vector<PodUsageNow> out;
  out.reserve(by_pod.size());
  for (auto& [pod, u] : by_pod) out.push_back(std::move(u));
  return out;
}

}  // namespace tug::metrics
