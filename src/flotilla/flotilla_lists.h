#pragma once
/// Flotilla's list endpoints (GET /api/v6/task, /history, ...): their parameters as
/// flotilla/endpoints.go decodeListRequest reads them, the filters, ordering and paging its SQL
/// applies (state/pg_state_manager.go makeWhereClause, orderBy), and the envelope it answers.
/// Pure: JSON objects in, a page out.
///
/// Errors: kInvalidArgument for a malformed query; kInternal for what Flotilla answers 500 (a bad
/// sort field, order or filter column reaches its SQL and fails there).
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/error.h"

namespace tug::flotilla {

/// limit, offset, sort_by, order and every other parameter as a filter (repeated ones kept;
/// env=NAME|VALUE as env filters), as endpoints.go decodeListRequest reads them. A number that
/// does not parse is 0, as strconv.Atoi's error is ignored there.
struct ListRequest {
  int64_t limit = 1024;
  int64_t offset = 0;
  std::string sort_by = "group_name";
  std::string order = "asc";
  std::map<std::string, std::vector<std::string>> filters;
  std::map<std::string, std::string> env_filters;
};
/// From a raw request target ("/api/v6/task?limit=5&alias=a"). kInvalidArgument for a malformed
/// escape.
[[nodiscard]] Result<ListRequest> ParseListRequest(std::string_view target);

/// The answer of a list endpoint: `items` under `key` ("definitions", "history"), total, limit,
/// offset, sort_by, order, env_filters and each filter echoed, keys sorted as Go writes a map.
boost::json::object ListEnvelope(const ListRequest& request, int64_t total, const char* key,
                                 boost::json::array items);

/// Filters, orders and pages Flotilla JSON objects the way its SQL does (LIKE for image, alias,
/// group_name, command, exit_reason; IN for repeated values; *_since / *_until on times; ORDER BY
/// sort_by order NULLS LAST); `columns` maps the filterable column names to JSON keys and
/// `sortable` lists the fields it may order by. The page, and the total before paging.
struct Page {
  int64_t total = 0;
  std::vector<boost::json::object> items;
};
struct Columns {
  const char* what;                               // "definitions" or "runs", for messages
  std::map<std::string, std::string> filterable;  // column → JSON key
  std::vector<std::string> sortable;
};
const Columns& DefinitionColumns();
const Columns& RunColumns();
[[nodiscard]] Result<Page> Select(std::vector<boost::json::object> rows, const ListRequest& request,
                                  const Columns& columns);
/// Does `env` hold every NAME=VALUE of the request's env filters?
bool MatchesEnv(const std::map<std::string, std::string>& env, const ListRequest& request);

}  // namespace tug::flotilla
