#include "cli/log_commands.h"

#include <set>

namespace tug::cli {
namespace {

// `tug logs --errors`: the highlighted lines of the attempt's diagnosis with context, the root
// cause marked ">>", everything else elided.
int ErrorsCmd(Client& client, const LogsArgs& a) {
  auto run = client.Call("GET", "/api/v1/runs/" + UrlEncode(a.id));
  if (!run.ok()) return Fail(run.error().message());
  const auto& attempts = run->as_object().at("attempts").as_array();
  if (attempts.empty()) return Fail("the run has no attempts yet");
  const json::value* attempt = &attempts.back();
  for (const auto& at : attempts) {
    if (!a.attempt.empty() && json::serialize(at.at("number")) == a.attempt) attempt = &at;
  }
  const json::value& d = attempt->at("diagnosis");
  if (!d.is_object()) {
    std::cerr << "no diagnosis for this attempt (it did not fail, or has not ended yet)\n";
    return 0;
  }
  // Default: the component the root cause is in (the driver's log for "Lost executor 1").
  std::string component = a.component;
  if (component.empty()) {
    const auto& rc = d.at("root_cause");
    component = rc.is_object() && rc.at("component").is_string()
                    ? std::string(rc.at("component").as_string())
                    : "main";
    if (component.empty()) component = "main";
  }
  std::set<int64_t> marked;
  int64_t root = 0;
  if (const auto& rc = d.at("root_cause");
      rc.is_object() && rc.at("component") == json::value(component)) {
    root = rc.at("line").to_number<int64_t>();
    if (root > 0) marked.insert(root);
  }
  if (const json::value* hs = d.as_object().if_contains("highlights"); hs && hs->is_array()) {
    for (const auto& h : hs->as_array()) {
      if (h.at("component") == json::value(component))
        marked.insert(h.at("line").to_number<int64_t>());
    }
  }
  std::cout << fmt::format("{}: {}\n", std::string(d.at("class").as_string()),
                           std::string(d.at("summary").as_string()));
  if (marked.empty()) return 0;
  std::string text;
  auto st = client.Stream("/api/v1/runs/" + UrlEncode(a.id) +
                              "/logs?attempt=" + json::serialize(attempt->at("number")) +
                              "&component=" + UrlEncode(component),
                          [&](std::string_view chunk) {
                            text.append(chunk);
                            return true;
                          });
  if (!st.ok()) return Fail(st.error().message());
  constexpr int64_t kContext = 3;
  int64_t line_no = 0;
  int64_t last_printed = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string::npos ? text.size() : nl;
    ++line_no;
    auto near = marked.lower_bound(line_no - kContext);
    if (near != marked.end() && *near <= line_no + kContext) {
      if (last_printed != 0 && line_no > last_printed + 1) std::cout << "   ...\n";
      std::string_view line(text.data() + pos, end - pos);
      std::cout << fmt::format("{}{:>6}  {}\n",
                               line_no == root ? ">>" : (marked.count(line_no) > 0 ? " *" : "  "),
                               line_no, line);
      last_printed = line_no;
    }
    pos = end + 1;
  }
  return 0;
}

}  // namespace

int LogsCmd(const Globals& g, const LogsArgs& a) {
  auto client = Client::Connect(g);
  if (!client.ok()) return Fail(client.error().message());
  if (a.errors) return ErrorsCmd(*client, a);
  std::string q = fmt::format("?follow={}", a.follow ? "true" : "false");
  if (!a.attempt.empty()) q += "&attempt=" + UrlEncode(a.attempt);
  if (!a.component.empty()) q += "&component=" + UrlEncode(a.component);
  if (a.timestamps) q += "&timestamps=true";
  auto st =
      client->Stream("/api/v1/runs/" + UrlEncode(a.id) + "/logs" + q, [](std::string_view chunk) {
        std::cout.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        std::cout.flush();
        return true;
      });
  if (!st.ok()) return Fail(st.error().message());
  return 0;
}

}  // namespace tug::cli
