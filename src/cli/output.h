#pragma once
/// Printing API objects as table, JSON or YAML.
#include <string>
#include <vector>

#include <boost/json/value.hpp>

namespace tug::cli {

std::string ToYaml(const boost::json::value& v);
std::string ToPrettyJson(const boost::json::value& v);
/// Aligned columns, header first.
std::string Table(const std::vector<std::vector<std::string>>& rows);
/// "3m12s ago"-style age from an RFC 3339 string ("" if null).
std::string Age(const boost::json::value& rfc3339, int64_t now_micros);
/// Wall time between two RFC 3339 values, e.g. "1m05s" ("" if either is null).
std::string Duration(const boost::json::value& from, const boost::json::value& to);
/// "42s" until an RFC 3339 time, or "now" when it passed.
std::string Until(const boost::json::value& rfc3339, int64_t now_micros);

/// An amount in a currency: "$0.42" for USD, "0.42 EUR" otherwise; "" without a number.
std::string Money(const boost::json::value* amount, const boost::json::value* currency);
std::string RunsTable(const boost::json::value& runs, int64_t now);
std::string RunDetail(const boost::json::value& run, int64_t now);
std::string DefinitionsTable(const boost::json::value& defs);
/// `tug get queues`: GET /api/v1/queues as a table (usage/quota, counts, share, what blocks).
std::string QueuesTable(const boost::json::value& body);

}  // namespace tug::cli
