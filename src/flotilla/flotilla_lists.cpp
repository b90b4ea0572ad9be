// Flotilla's list endpoints: their parameters, filters, ordering, paging and envelopes.
#include "flotilla/flotilla_lists.h"

#include <algorithm>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/clock.h"
#include "net/http.h"

namespace json = boost::json;

namespace tug::flotilla {

Result<ListRequest> ParseListRequest(std::string_view target) {
  ListRequest r;
  std::map<std::string, std::vector<std::string>> params;
  auto q = target.find('?');
  std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    std::string key;
    std::string value;
    if (!net::PercentDecode(part.substr(0, eq), true, key) ||
        (eq != std::string_view::npos && !net::PercentDecode(part.substr(eq + 1), true, value))) {
      return InvalidArgument(
          fmt::format("query parameter '{}' has a malformed %-escape; escape '%' as %25", part));
    }
    params[key].push_back(std::move(value));
  }
  auto first = [&](const char* key, const std::string& fallback) -> std::string {
    auto it = params.find(key);
    return it == params.end() || it->second.empty() ? fallback : it->second.front();
  };
  auto to_int = [](const std::string& s) -> int64_t {
    int64_t n = 0;
    bool neg = !s.empty() && (s[0] == '-' || s[0] == '+');
    if (s.empty() || s.size() > 18 ||
        s.find_first_not_of("0123456789", neg ? 1 : 0) != std::string::npos ||
        s.size() == (neg ? 1u : 0u)) {
      return 0;  // strconv.Atoi's error, ignored by decodeListRequest
    }
    n = std::stoll(s.substr(s[0] == '+' ? 1 : 0));
    return n;
  };
  r.limit = to_int(first("limit", "1024"));
  r.offset = to_int(first("offset", "0"));
  r.sort_by = first("sort_by", "group_name");
  r.order = first("order", "asc");
  for (auto& [k, v] : params) {
    if (k == "limit" || k == "offset" || k == "sort_by" || k == "order") continue;
    if (k == "env") {
      for (const auto& kv : v) {
        auto bar = kv.find('|');
        if (bar != std::string::npos && kv.find('|', bar + 1) == std::string::npos) {
          r.env_filters[kv.substr(0, bar)] = kv.substr(bar + 1);
        }
      }
      continue;
    }
    r.filters[k] = v;
  }
  return r;
}

json::object ListEnvelope(const ListRequest& request, int64_t total, const char* key,
                          json::array items) {
  // Go writes a map's keys sorted; filters are set last, over the fixed keys, as endpoints.go
  // does.
  std::map<std::string, json::value> fields;
  fields["total"] = total;
  fields[key] = std::move(items);
  fields["limit"] = request.limit;
  fields["offset"] = request.offset;
  fields["sort_by"] = request.sort_by;
  fields["order"] = request.order;
  json::object env;
  for (const auto& [k, v] : request.env_filters) env[k] = v;
  fields["env_filters"] = std::move(env);
  for (const auto& [k, values] : request.filters) {
    json::array a;
    for (const auto& v : values) a.emplace_back(v);
    fields[k] = std::move(a);
  }
  json::object out;
  for (auto& [k, v] : fields) out[k] = std::move(v);
  return out;
}

const Columns& DefinitionColumns() {
  static const Columns c{"definitions",
                         {{"definition_id", "definition_id"},
                          {"alias", "alias"},
                          {"group_name", "group_name"},
                          {"image", "image"},
                          {"command", "command"},
                          {"memory", "memory"},
                          {"cpu", "cpu"},
                          {"gpu", "gpu"},
                          {"task_type", "task_type"},
                          {"adaptive_resource_allocation", "adaptive_resource_allocation"}},
                         // pg_state_manager.go Definition.ValidOrderFields
                         {"alias", "image", "group_name", "memory"}};
  return c;
}

const Columns& RunColumns() {
  // "engine" is set by ListRuns itself (eks, eks-spark), whatever the request says: "" ignores.
  static const Columns c{
      "runs",
      {{"run_id", "run_id"},
       {"definition_id", "definition_id"},
       {"alias", "alias"},
       {"image", "image"},
       {"cluster_name", "cluster"},
       {"cluster", "cluster"},  // endpoints_test.go TestEndpoints_ListRuns
       {"exit_code", "exit_code"},
       {"exit_reason", "exit_reason"},
       {"status", "status"},
       {"queued_at", "queued_at"},
       {"started_at", "started_at"},
       {"finished_at", "finished_at"},
       {"group_name", "group_name"},
       {"user", "user"},
       {"task_type", "task_type"},
       {"command", "command"},
       {"command_hash", "command_hash"},
       {"memory", "memory"},
       {"cpu", "cpu"},
       {"node_lifecycle", "node_lifecycle"},
       {"executable_id", "executable_id"},
       {"executable_type", "executable_type"},
       {"description", "description"},
       {"idempotence_key", "idempotence_key"},
       {"arch", "arch"},
       {"engine", ""}},
      // pg_state_manager.go Run.ValidOrderFields
      {"run_id", "cluster_name", "status", "started_at", "finished_at", "group_name"}};
  return c;
}

namespace {

bool IsTimeKey(std::string_view key) {
  return key == "queued_at" || key == "started_at" || key == "finished_at";
}

// A value as SQL compares it to a filter's text: numbers and booleans by their text.
std::optional<std::string> Text(const json::value* v) {
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (v->is_string()) return std::string(v->as_string());
  return json::serialize(*v);
}

// The order of two values of one field, NULL (absent) last whatever the direction: < 0, 0, > 0.
int CompareValues(const json::value* a, const json::value* b, bool time) {
  if (time && a != nullptr && b != nullptr && a->is_string() && b->is_string()) {
    auto ta = ParseTimestamp(std::string(a->as_string()));
    auto tb = ParseTimestamp(std::string(b->as_string()));
    if (ta.ok() && tb.ok()) return *ta < *tb ? -1 : (*ta > *tb ? 1 : 0);
  }
  if (a->is_number() && b->is_number()) {
    double x = a->to_number<double>();
    double y = b->to_number<double>();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  std::string x = Text(a).value_or("");
  std::string y = Text(b).value_or("");
  return x.compare(y);
}

}  // namespace

Result<Page> Select(std::vector<json::object> rows, const ListRequest& request,
                    const Columns& columns) {
  // pg_state_manager.go orderBy: the order first, then the field.
  if (request.order != "asc" && request.order != "desc") {
    return Internal(
        fmt::format("Invalid order string, must be one of ('asc', 'desc'), was {}", request.order));
  }
  if (std::find(columns.sortable.begin(), columns.sortable.end(), request.sort_by) ==
      columns.sortable.end()) {
    std::string fields;
    for (const auto& f : columns.sortable) fields += (fields.empty() ? "" : ", ") + f;
    return Internal(fmt::format("Invalid field to order by [{}], must be one of [{}]",
                                request.sort_by, fields));
  }
  struct Condition {
    std::string key;  // JSON key
    enum { kEqual, kIn, kLike, kAfter, kBefore } op;
    std::vector<std::string> values;
    Micros time = 0;
  };
  std::vector<Condition> conditions;
  for (const auto& [column, values] : request.filters) {
    std::string name = column;
    auto op = Condition::kEqual;
    auto suffix = [&](std::string_view s) {
      return name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    if (values.size() == 1 && suffix("_since")) {
      name.resize(name.size() - 6);
      op = Condition::kAfter;
    } else if (values.size() == 1 && suffix("_until")) {
      name.resize(name.size() - 6);
      op = Condition::kBefore;
    }
    auto it = columns.filterable.find(name);
    if (it == columns.filterable.end()) {
      return Internal(fmt::format("issue running list {} sql: column \"{}\" does not exist",
                                  columns.what, name));
    }
    if (it->second.empty()) continue;
    Condition c{it->second, op, values, 0};
    if (op == Condition::kAfter || op == Condition::kBefore) {
      auto t = ParseTimestamp(values.front());
      if (!t.ok()) {
        return Internal(fmt::format(
            "issue running list {} sql: invalid input syntax for type timestamp: \"{}\" (write "
            "e.g. 2026-11-24T08:30:00Z)",
            columns.what, values.front()));
      }
      c.time = *t;
    } else if (values.size() > 1) {
      c.op = Condition::kIn;  // no LIKE for several values of one key
    } else if (name == "image" || name == "alias" || name == "group_name" || name == "command" ||
               name == "exit_reason") {
      c.op = Condition::kLike;
    }
    conditions.push_back(std::move(c));
  }
  std::vector<json::object> kept;
  for (auto& row : rows) {
    bool ok = true;
    for (const Condition& c : conditions) {
      std::optional<std::string> v = Text(row.if_contains(c.key));
      if (!v) {
        ok = false;  // NULL matches nothing
        break;
      }
      switch (c.op) {
        case Condition::kEqual:
          ok = *v == c.values.front();
          break;
        case Condition::kIn:
          ok = std::find(c.values.begin(), c.values.end(), *v) != c.values.end();
          break;
        case Condition::kLike:
          ok = v->find(c.values.front()) != std::string::npos;
          break;
        case Condition::kAfter:
        case Condition::kBefore: {
          auto t = ParseTimestamp(*v);
          ok = t.ok() && (c.op == Condition::kAfter ? *t > c.time : *t < c.time);
          break;
        }
      }
      if (!ok) break;
    }
    if (ok) kept.push_back(std::move(row));
  }
  const std::string sort_key = columns.filterable.at(request.sort_by);
  const bool time = IsTimeKey(sort_key);
  const bool desc = request.order == "desc";
  std::stable_sort(kept.begin(), kept.end(), [&](const json::object& a, const json::object& b) {
    const json::value* x = a.if_contains(sort_key);
    const json::value* y = b.if_contains(sort_key);
    if (x != nullptr && x->is_null()) x = nullptr;
    if (y != nullptr && y->is_null()) y = nullptr;
    if (x == nullptr || y == nullptr) return x != nullptr && y == nullptr;  // NULLS LAST
    int c = CompareValues(x, y, time);
    return desc ? c > 0 : c < 0;
  });
  if (request.limit < 0) return Internal("LIMIT must not be negative");
  if (request.offset < 0) return Internal("OFFSET must not be negative");
  Page page;
  page.total = static_cast<int64_t>(kept.size());
  for (auto i = static_cast<size_t>(std::min<int64_t>(request.offset, page.total));
       i < kept.size() && static_cast<int64_t>(page.items.size()) < request.limit; ++i) {
    page.items.push_back(std::move(kept[i]));
  }
  return page;
}

bool MatchesEnv(const std::map<std::string, std::string>& env, const ListRequest& request) {
  for (const auto& [k, v] : request.env_filters) {
    auto it = env.find(k);
    if (it == env.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace tug::flotilla
