// Keeps the OpenAPI document (openapi.yaml) true to the code:
//   - every route the router has from Api::Register is documented, and nothing else is;
//   - every query parameter a handler reads (recorded by net::Request::query_reads while each
//     route is called) is a documented parameter of that operation;
//   - every JSON answer of the walk, and the JSON encoders' output for models with every field
//     set, satisfies the documented schema (response objects are closed: additionalProperties:
//     false), so a new field fails here until it is documented.
// A new route, parameter or field makes this test fail until openapi.yaml describes it.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "core/json.h"
#include "server/api_harness.h"
#include "server/cost_json.h"
#include "server/openapi.h"
#include "templates/parameters.h"

namespace tug::server {
namespace {

namespace json = boost::json;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tug_openapi_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto api = ApiHarness::Open(dir_);
    ASSERT_TRUE(api.ok()) << api.error().ToString();
    api_ = std::move(*api);
    auto doc = OpenApiDocument();
    ASSERT_TRUE(doc.ok()) << doc.error().message();
    doc_ = std::move(*doc);
  }
  void TearDown() override {
    api_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  const json::object* Operation(const std::string& method, const std::string& pattern) {
    const json::object& paths = doc_.at("paths").as_object();
    const json::value* item = paths.if_contains(pattern);
    if (item == nullptr) return nullptr;
    const json::value* op = item->as_object().if_contains(Lower(method));
    return op != nullptr && op->is_object() ? &op->as_object() : nullptr;
  }

  // Follows a local "$ref" ("#/components/...").
  const json::value& Resolve(const json::value& v) {
    if (!v.is_object()) return v;
    const json::value* ref = v.as_object().if_contains("$ref");
    if (ref == nullptr) return v;
    std::string pointer(ref->as_string());
    return Resolve(doc_.at_pointer(pointer.substr(1)));
  }

  // Query parameter names of an operation (its own and its path item's).
  std::set<std::string> QueryParameters(const std::string& method, const std::string& pattern) {
    std::set<std::string> out;
    const json::object& item = doc_.at("paths").at(pattern).as_object();
    auto add = [&](const json::value* list) {
      if (list == nullptr) return;
      for (const auto& p : list->as_array()) {
        const json::value& param = Resolve(p);
        if (param.at("in") == "query") out.insert(std::string(param.at("name").as_string()));
      }
    };
    add(item.if_contains("parameters"));
    if (const json::object* op = Operation(method, pattern)) add(op->if_contains("parameters"));
    return out;
  }

  // `body` against a schema of the document ("" when it satisfies it).
  std::string Check(const json::value& schema, const json::value& body) {
    json::object wrapper = schema.is_object() ? schema.as_object() : json::object{};
    wrapper["components"] = doc_.at("components");
    auto v = templates::Violation(wrapper, body);
    if (!v.ok()) return "schema unusable: " + v.error().message();
    return *v;
  }
  std::string CheckComponent(const std::string& name, const json::value& body) {
    return Check(json::object{{"$ref", "#/components/schemas/" + name}}, body);
  }

  std::string dir_;
  std::unique_ptr<ApiHarness> api_;
  json::value doc_;
};

TEST_F(OpenApiTest, IsOpenApi31AndServedAsJsonWithoutAuthentication) {
  EXPECT_EQ(doc_.at("openapi"), "3.1.0");
  net::Response r = api_->Call("GET", "/api/v1/openapi.json");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body), doc_);
  // With authentication on it is still served (it describes the API, not data).
  ApiHarness::Extras extras;
  extras.auth = true;
  auto authed = ApiHarness::Open(dir_ + "/auth", {}, extras);
  ASSERT_TRUE(authed.ok()) << authed.error().ToString();
  EXPECT_EQ((*authed)->Call("GET", "/api/v1/openapi.json").status, 200);
  EXPECT_EQ((*authed)->Call("GET", "/api/v1/runs").status, 401);
}

TEST_F(OpenApiTest, DocumentsEveryRouteAndNoOther) {
  net::Router router;
  api_->Register(router);
  std::set<std::pair<std::string, std::string>> registered;
  for (const auto& r : router.Routes()) {
    registered.insert({Lower(r.method), r.pattern});
    EXPECT_NE(Operation(r.method, r.pattern), nullptr)
        << r.method << " " << r.pattern << " is registered but not in openapi.yaml; document it";
  }
  EXPECT_GT(registered.size(), 15u);
  static const std::set<std::string> kMethods = {"get", "put", "post", "delete", "patch", "head"};
  for (const auto& [path, item] : doc_.at("paths").as_object()) {
    for (const auto& [method, op] : item.as_object()) {
      if (!kMethods.contains(std::string(method))) continue;
      EXPECT_TRUE(registered.contains({std::string(method), std::string(path)}))
          << method << " " << path << " is documented but no such route is registered";
    }
  }
}

TEST_F(OpenApiTest, EveryQueryParameterHandlersReadAndEveryAnswerIsDocumented) {
  // Something for every route to find: a templated definition, a run of it, a token.
  ASSERT_EQ(api_->Call("PUT", "/api/v1/definitions/hello",
                       R"({"name":"hello","command":"echo {{ who }}","labels":{"team":"a"},
                           "env":{"A":"1","S":{"secret":true,"value":"x"}},
                           "parameters":{"type":"object","properties":{"who":{"type":"string",
                           "default":"world"}}}})")
                .status,
            201);
  net::Response run = api_->Call("POST", "/api/v1/runs", R"({"definition":"hello"})");
  ASSERT_EQ(run.status, 201) << run.body;
  const std::string run_id(json::parse(run.body).at("id").as_string());
  net::Response token = api_->Call("POST", "/api/v1/tokens", R"({"user":"ada"})");
  ASSERT_EQ(token.status, 201) << token.body;
  const std::string token_id(json::parse(token.body).at("id").as_string());

  net::Router router;
  api_->Register(router);
  std::vector<net::Router::Registered> routes = router.Routes();
  // Reads first, then changes, deletes last, so each route finds what it needs.
  auto rank = [](const std::string& m) {
    return m == "GET" ? 0 : m == "DELETE" ? 3 : m == "POST" ? 1 : 2;
  };
  std::stable_sort(routes.begin(), routes.end(),
                   [&](const auto& a, const auto& b) { return rank(a.method) < rank(b.method); });
  int checked = 0;
  std::set<std::string> all_reads;
  for (const auto& r : routes) {
    std::string path = r.pattern;
    auto fill = [&](const std::string& param, const std::string& value) {
      if (auto at = path.find(param); at != std::string::npos)
        path.replace(at, param.size(), value);
    };
    fill("{id}", r.pattern.starts_with("/api/v1/tokens") ? token_id : run_id);
    fill("{name}", "hello");
    std::string body;
    if (r.method == "POST" && r.pattern == "/api/v1/definitions") {
      body = R"({"name":"walk","command":"true"})";
    } else if (r.method == "PUT" && r.pattern == "/api/v1/definitions/{name}") {
      body = R"({"name":"hello","command":"echo {{ who }} again","parameters":{"type":"object",
                 "properties":{"who":{"type":"string","default":"world"}}}})";
    } else if (r.method == "POST" && r.pattern == "/api/v1/runs") {
      body = R"({"definition":"hello","parameters":{"who":"ada"},"env":{"K":"v"},
                 "resources":{"memory":"64Mi","cpu":"500m"},"timeout":"1h","engine":"local"})";
    } else if (r.method == "POST" && r.pattern == "/api/v1/tokens") {
      body = R"({"user":"grace","name":"ci","groups":["ml"],"role":"user","expires_in":"1d"})";
    }
    std::set<std::string> reads;
    net::Request req;
    req.method = r.method;
    req.target = path;
    req.body = body;
    req.headers["content-type"] = "application/json";
    req.query_reads = &reads;
    net::Response resp = api_->Call(std::move(req));
    SCOPED_TRACE(r.method + " " + path + " -> " + std::to_string(resp.status) + " " +
                 resp.body.substr(0, 300));

    all_reads.insert(reads.begin(), reads.end());
    const std::set<std::string> documented = QueryParameters(r.method, r.pattern);
    for (const auto& key : reads) {
      EXPECT_TRUE(documented.contains(key))
          << "the handler reads query parameter '" << key
          << "', which openapi.yaml does not list for this operation";
    }
    const json::object* op = Operation(r.method, r.pattern);
    if (op == nullptr) continue;  // reported by DocumentsEveryRouteAndNoOther
    const json::value* response =
        op->at("responses").as_object().if_contains(std::to_string(resp.status));
    ASSERT_NE(response, nullptr) << "answered " << resp.status
                                 << ", which openapi.yaml does not list for this operation";
    const json::value& described = Resolve(*response);
    if (resp.content_type.find("application/json") == std::string::npos || resp.body.empty()) {
      continue;
    }
    const json::value* content = described.as_object().if_contains("content");
    ASSERT_NE(content, nullptr) << "a JSON answer documented without content";
    const json::value* media = content->as_object().if_contains("application/json");
    ASSERT_NE(media, nullptr) << "a JSON answer documented without application/json";
    EXPECT_EQ(Check(media->at("schema"), json::parse(resp.body)), "");
    ++checked;
  }
  EXPECT_GT(checked, 12);
  // The recording works (the check above is not vacuous): parameters of several handlers.
  for (const char* key : {"limit", "cursor", "dry_run", "after", "follow", "user"}) {
    EXPECT_TRUE(all_reads.contains(key)) << key;
  }
}

TEST_F(OpenApiTest, EncodersWithEveryFieldSetMatchTheSchemas) {
  Definition d;
  d.name = "all";
  d.version = 3;
  d.kind = "spark";
  d.description = "every field";
  d.image = "img:1";
  d.command = "echo {{ x }}";
  d.env = {{"A", "1"}};
  d.secret_env = {{"S", SecretEnv{"v", "", ""}}, {"R", SecretEnv{"", "sec", "key"}}};
  d.working_dir = "/w";
  d.resources.memory_bytes = 1 << 30;
  d.resources.cpu_millis = 1500;
  d.resources.spark.driver = {1000, 2 << 20, 1 << 20};
  d.resources.spark.executor = {2000, 4 << 20, 1 << 20};
  d.resources.spark.instances = 2;
  d.resources.spark.min_executors = 1;
  d.resources.spark.max_executors = 4;
  d.resources.spark.dynamic_allocation = true;
  d.resources.spark.max_result_size_bytes = 1 << 30;
  d.timeout_seconds = 600;
  d.adapt.max_memory_bytes = int64_t{8} << 30;
  d.adapt.max_executors = 9;
  d.adapt.critical = true;
  d.spark = SparkSpec{"3.5", "local:///a.py", "Main", {"a"}, {{"k", "v"}}, {"p"}, {"j"}, {"f"}};
  d.engine = "spark";
  d.cluster = "c1";
  d.kubernetes =
      KubernetesSpec{"sa", "Always", {"pull"}, {{"n", "s"}}, {{"k", "Equal", "v", "NoSchedule"}}};
  d.labels = {{"team", "a"}};
  d.parameters = R"({"type":"object","properties":{"x":{"type":"string"}}})";
  d.created_at = 1'700'000'000'000'000;
  d.owner = "ada";
  d.group = "ml";
  EXPECT_EQ(CheckComponent("Definition", ToJson(d)), "");

  tug::Run run;
  run.id = "r1";
  run.owner = "ada";
  run.group = "ml";
  run.definition = "all";
  run.definition_version = 3;
  run.status = RunStatus::kFailed;
  run.spec = d;
  run.overrides.env = {{"K", "v"}};
  run.overrides.resources.memory_bytes = 1 << 20;
  run.overrides.resources.cpu_millis = 100;
  run.overrides.timeout_seconds = 60;
  run.overrides.engine = "local";
  run.overrides.parameters = R"({"x":"y"})";
  run.created_at = run.updated_at = run.started_at = run.ended_at = 1'700'000'000'000'000;
  run.stop_requested = true;
  run.outcome = Outcome{1, "error", "boom"};
  run.plan = R"({"rule":"first","sentence":"s"})";
  run.attempt_count = 1;
  run.last_failure_class = "oom";
  run.cost_usd = 0.5;
  run.retries_cost_usd = 0.5;
  Attempt a;
  a.id = "r1-1";
  a.run_id = "r1";
  a.status = AttemptStatus::kFailed;
  a.resources = d.resources;
  a.placement = {"spot", "on-demand"};
  a.claimed_by = "host/1";
  a.created_at = a.due_at = a.launched_at = a.started_at = a.ended_at = run.created_at;
  a.outcome = Outcome{137, "OOMKilled", "killed"};
  a.peak_memory_bytes = 5;
  a.cpu_micros = 7;
  a.diagnosis = R"({"class":"oom"})";
  a.decision = R"({"retry":true})";
  ComponentStatus c{"driver", "pod-1", "node-1", "spot", "failed", 1, "Error", "m", 1, 2, true};
  a.components = ComponentsJson({c});
  a.app_id = "spark-1";
  a.cost_usd = 0.5;
  a.cost_basis = "requested 1 cpu / 1Gi on-demand";
  run.attempts.push_back(a);
  EXPECT_EQ(CheckComponent("Run", ToJson(run)), "");
  EXPECT_EQ(CheckComponent("RunSummary", ToJsonSummary(run)), "");
  // The API's cost (server/cost_json.h) on a run and on a listed run.
  json::value priced = ToJson(run);
  AddRunCost(priced.as_object(), run, CostView{}, run.ended_at);
  ASSERT_TRUE(priced.at("cost").is_object());
  EXPECT_TRUE(priced.at("attempts").at(0).at("cost").at("retry").as_bool());
  EXPECT_EQ(CheckComponent("Run", priced), "");
  json::object listed = ToJsonSummary(run);
  AddSummaryCost(listed, run, CostView{});
  EXPECT_EQ(CheckComponent("RunSummary", listed), "");

  Event e{9, "r1", "r1-1", run.created_at, "ended", "exit 1"};
  EXPECT_EQ(CheckComponent("Event", ToJson(e)), "");

  // The check can fail: a field the document does not know is refused.
  json::value extra = ToJson(e);
  extra.as_object()["undocumented"] = 1;
  EXPECT_THAT(CheckComponent("Event", extra), ::testing::HasSubstr("undocumented"));
}

}  // namespace
}  // namespace tug::server
