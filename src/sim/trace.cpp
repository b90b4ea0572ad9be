#include "sim/trace.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/model.h"
#include "core/quantity.h"

namespace json = boost::json;

namespace tug::sim {
namespace {

// ---------------------------------------------------------------- reading fields

/// Parsing context: the line prefix for messages.
struct Ctx {
  std::string where;
  Error Bad(std::string_view field, std::string_view what) const {
    return InvalidArgument(fmt::format("{}: '{}' {}", where, field, what));
  }
};

Status CheckKeys(const json::object& o, std::initializer_list<std::string_view> allowed,
                 const Ctx& c, std::string_view in) {
  for (const auto& kv : o) {
    if (std::find(allowed.begin(), allowed.end(), kv.key()) == allowed.end()) {
      std::string list;
      for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return InvalidArgument(fmt::format("{}: unknown field '{}{}'; expected one of: {}", c.where,
                                         in, std::string(kv.key()), list));
    }
  }
  return OkStatus();
}

Result<std::string> Str(const json::object& o, std::string_view key, const Ctx& c, bool required) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (required) return c.Bad(key, "is required");
    return std::string();
  }
  if (!v->is_string()) return c.Bad(key, "must be a string");
  return std::string(v->get_string());
}

Result<double> Num(const json::object& o, std::string_view key, const Ctx& c, double fallback,
                   bool required) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (required) return c.Bad(key, "is required");
    return fallback;
  }
  if (!v->is_number()) return c.Bad(key, "must be a number");
  double d = v->to_number<double>();
  if (!std::isfinite(d)) return c.Bad(key, "must be finite");
  return d;
}

/// Memory: a Kubernetes quantity ("4Gi") or a number of bytes.
Result<int64_t> Mem(const json::object& o, std::string_view key, const Ctx& c, bool required) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (required) return c.Bad(key, "is required");
    return int64_t{0};
  }
  if (v->is_int64() || v->is_uint64()) {
    int64_t b = v->to_number<int64_t>();
    if (b < 0) return c.Bad(key, "must not be negative");
    return b;
  }
  if (!v->is_string()) return c.Bad(key, "must be a memory quantity such as \"4Gi\"");
  auto m = ParseMemory(std::string(v->get_string()));
  if (!m.ok())
    return c.Bad(key, "must be a memory quantity such as \"4Gi\": " + m.error().message());
  return *m;
}

/// CPU: a quantity ("500m", "2") or a number of cores.
Result<int64_t> Cpu(const json::object& o, std::string_view key, const Ctx& c, bool required) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (required) return c.Bad(key, "is required");
    return int64_t{0};
  }
  if (v->is_number()) {
    double cores = v->to_number<double>();
    if (!(cores >= 0) || cores > 1e6) return c.Bad(key, "must be a number of cores >= 0");
    return static_cast<int64_t>(std::llround(cores * 1000));
  }
  if (!v->is_string()) return c.Bad(key, R"(must be a cpu quantity such as "500m" or "2")");
  auto m = ParseCpu(std::string(v->get_string()));
  if (!m.ok()) return c.Bad(key, "must be a cpu quantity such as \"2\": " + m.error().message());
  return *m;
}

Result<const json::object*> Obj(const json::object& o, std::string_view key, const Ctx& c,
                                bool required) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (required) return c.Bad(key, "is required");
    return static_cast<const json::object*>(nullptr);
  }
  if (!v->is_object()) return c.Bad(key, "must be an object");
  return &v->get_object();
}

Result<RoleSize> ParseRole(const json::object& o, std::string_view key, const Ctx& c) {
  ASSIGN_OR_RETURN(const json::object* r, Obj(o, key, c, true));
  Ctx in{fmt::format("{}: {}", c.where, key)};
  RETURN_IF_ERROR(CheckKeys(*r, {"cpu", "memory", "overhead"}, c, std::string(key) + "."));
  RoleSize s;
  ASSIGN_OR_RETURN(s.cpu_millis, Cpu(*r, "cpu", in, true));
  ASSIGN_OR_RETURN(s.memory_bytes, Mem(*r, "memory", in, true));
  ASSIGN_OR_RETURN(s.overhead_bytes, Mem(*r, "overhead", in, false));
  return s;
}

Result<Peak> ParsePeak(const json::object& o, std::string_view key, const Ctx& c) {
  ASSIGN_OR_RETURN(const json::object* r, Obj(o, key, c, true));
  Ctx in{fmt::format("{}: peak.{}", c.where, key)};
  RETURN_IF_ERROR(CheckKeys(*r, {"heap", "offheap"}, c, "peak." + std::string(key) + "."));
  Peak p;
  ASSIGN_OR_RETURN(p.heap_bytes, Mem(*r, "heap", in, true));
  ASSIGN_OR_RETURN(p.offheap_bytes, Mem(*r, "offheap", in, false));
  return p;
}

Result<Injection> ParseInjection(const json::value& v, const Ctx& c, size_t index) {
  Ctx in{fmt::format("{}: failures[{}]", c.where, index)};
  if (!v.is_object()) return InvalidArgument(in.where + " must be an object");
  const json::object& o = v.get_object();
  RETURN_IF_ERROR(CheckKeys(o, {"kind", "attempts", "at", "min_executors"}, in, ""));
  Injection inj;
  ASSIGN_OR_RETURN(std::string kind, Str(o, "kind", in, true));
  if (kind == "transient") {
    inj.kind = Injection::Kind::kTransient;
  } else if (kind == "user_error") {
    inj.kind = Injection::Kind::kUserError;
  } else if (kind == "timeout") {
    inj.kind = Injection::Kind::kTimeout;
  } else {
    return in.Bad("kind", fmt::format("is '{}'; use transient, user_error or timeout", kind));
  }
  if (const json::value* a = o.if_contains("attempts"); a != nullptr && !a->is_null()) {
    if (!a->is_array()) return in.Bad("attempts", "must be a list of attempt numbers");
    for (const json::value& n : a->get_array()) {
      if (!n.is_int64() || n.get_int64() < 1 || n.get_int64() > 1000) {
        return in.Bad("attempts", "must hold attempt numbers from 1");
      }
      inj.attempts.push_back(static_cast<int>(n.get_int64()));
    }
  }
  ASSIGN_OR_RETURN(inj.at, Num(o, "at", in, 0.5, false));
  ASSIGN_OR_RETURN(double me, Num(o, "min_executors", in, 0, false));
  if (me < 0 || me > 100000 || me != std::floor(me)) {
    return in.Bad("min_executors", "must be a whole number >= 0");
  }
  inj.min_executors = static_cast<int>(me);
  return inj;
}

Result<TraceJob> ParseJob(const json::object& o, const Ctx& c) {
  RETURN_IF_ERROR(CheckKeys(
      o,
      {"id", "submit", "user", "name", "kind", "class", "queue", "driver", "executor", "instances",
       "cpu", "memory", "gpu", "peak", "duration", "peak_at", "critical", "failures"},
      c, ""));
  TraceJob j;
  ASSIGN_OR_RETURN(j.id, Str(o, "id", c, true));
  ASSIGN_OR_RETURN(double submit, Num(o, "submit", c, 0, true));
  if (submit < 0 || submit > 1e9) return c.Bad("submit", "must be seconds from the trace start");
  j.submit = static_cast<Micros>(std::llround(submit * static_cast<double>(kMicrosPerSecond)));
  ASSIGN_OR_RETURN(j.user, Str(o, "user", c, false));
  ASSIGN_OR_RETURN(j.name, Str(o, "name", c, false));
  if (j.name.empty()) j.name = j.id;
  ASSIGN_OR_RETURN(j.kind, Str(o, "kind", c, true));
  ASSIGN_OR_RETURN(j.klass, Str(o, "class", c, false));
  ASSIGN_OR_RETURN(j.queue, Str(o, "queue", c, false));
  if (!j.queue.empty() && !ValidateName(j.queue).ok()) {
    return c.Bad("queue", "must be a queue name: lower-case letters, digits, '-', '_' or '.'");
  }
  ASSIGN_OR_RETURN(const json::object* peak, Obj(o, "peak", c, true));
  if (j.kind == "spark") {
    ASSIGN_OR_RETURN(j.driver, ParseRole(o, "driver", c));
    ASSIGN_OR_RETURN(j.executor, ParseRole(o, "executor", c));
    ASSIGN_OR_RETURN(double inst, Num(o, "instances", c, 0, true));
    if (inst < 1 || inst > 100000 || inst != std::floor(inst)) {
      return c.Bad("instances", "must be a whole number of executors >= 1");
    }
    j.instances = static_cast<int>(inst);
    RETURN_IF_ERROR(CheckKeys(*peak, {"driver", "executor"}, c, "peak."));
    ASSIGN_OR_RETURN(j.driver_peak, ParsePeak(*peak, "driver", c));
    ASSIGN_OR_RETURN(j.executor_peak, ParsePeak(*peak, "executor", c));
    for (std::string_view k : {"cpu", "memory"}) {
      if (o.contains(k))
        return c.Bad(k, "is for container jobs; a Spark job sizes driver/executor");
    }
  } else if (j.kind == "container") {
    ASSIGN_OR_RETURN(j.container.cpu_millis, Cpu(o, "cpu", c, true));
    ASSIGN_OR_RETURN(j.container.memory_bytes, Mem(o, "memory", c, true));
    RETURN_IF_ERROR(CheckKeys(*peak, {"memory"}, c, "peak."));
    Ctx in{c.where + ": peak"};
    ASSIGN_OR_RETURN(j.container_peak_bytes, Mem(*peak, "memory", in, true));
    for (std::string_view k : {"driver", "executor", "instances"}) {
      if (o.contains(k)) return c.Bad(k, "is for Spark jobs; a container job sets cpu and memory");
    }
  } else {
    return c.Bad("kind", fmt::format("is '{}'; use spark or container", j.kind));
  }
  // Duration: seconds, or a duration string ("25m").
  if (const json::value* d = o.if_contains("duration"); d != nullptr && d->is_string()) {
    auto secs = ParseDuration(std::string(d->get_string()));
    if (!secs.ok()) return c.Bad("duration", "must be seconds or a duration such as \"25m\"");
    j.duration_s = static_cast<double>(*secs);
  } else {
    ASSIGN_OR_RETURN(j.duration_s, Num(o, "duration", c, 0, true));
  }
  ASSIGN_OR_RETURN(j.peak_at, Num(o, "peak_at", c, 0.6, false));
  ASSIGN_OR_RETURN(double gpu, Num(o, "gpu", c, 0, false));
  if (gpu < 0 || gpu > 64 || gpu != std::floor(gpu)) {
    return c.Bad("gpu", "must be a whole number of GPUs, 0-64 (per container, per executor)");
  }
  j.gpu = static_cast<int64_t>(gpu);
  if (const json::value* cr = o.if_contains("critical"); cr != nullptr && !cr->is_null()) {
    if (!cr->is_bool()) return c.Bad("critical", "must be true or false");
    j.critical = cr->get_bool();
  }
  if (const json::value* f = o.if_contains("failures"); f != nullptr && !f->is_null()) {
    if (!f->is_array()) return c.Bad("failures", "must be a list");
    size_t i = 0;
    for (const json::value& v : f->get_array()) {
      ASSIGN_OR_RETURN(Injection inj, ParseInjection(v, c, i++));
      j.failures.push_back(std::move(inj));
    }
  }
  RETURN_IF_ERROR(ValidateJob(j, c.where));
  return j;
}

// ---------------------------------------------------------------- writing

json::object RoleJson(const RoleSize& r) {
  json::object o{{"cpu", FormatCpu(r.cpu_millis)}, {"memory", FormatMemory(r.memory_bytes)}};
  if (r.overhead_bytes > 0) o["overhead"] = FormatMemory(r.overhead_bytes);
  return o;
}

json::object PeakJson(const Peak& p) {
  return json::object{{"heap", FormatMemory(p.heap_bytes)},
                      {"offheap", FormatMemory(p.offheap_bytes)}};
}

/// Seconds with at most millisecond digits, as a number.
json::value Seconds(Micros t) {
  // Parentheses, not braces: a braced json::value would be an array.
  if (t % kMicrosPerSecond == 0) return json::value(t / kMicrosPerSecond);  // NOLINT
  // Cut to whole milliseconds first: the trace keeps no finer times.
  return json::value(  // NOLINT(modernize-return-braced-init-list)
      static_cast<double>(t - t % kMicrosPerMilli) / static_cast<double>(kMicrosPerSecond));
}

/// Compact JSON like json::serialize, but numbers as people write them ("2820.372", not
/// Boost's "2.820372E3"): fmt's shortest representation that reads back to the same double.
void WriteCompact(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += json::serialize(json::string_view(kv.key()));
        out += ':';
        WriteCompact(kv.value(), out);
      }
      out += '}';
      break;
    }
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const json::value& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        WriteCompact(e, out);
      }
      out += ']';
      break;
    }
    case json::kind::double_:
      out += fmt::format("{}", v.get_double());
      break;
    default:
      out += json::serialize(v);
  }
}

}  // namespace

std::string_view ToString(Injection::Kind k) {
  switch (k) {
    case Injection::Kind::kTransient:
      return "transient";
    case Injection::Kind::kUserError:
      return "user_error";
    case Injection::Kind::kTimeout:
      return "timeout";
  }
  return "transient";
}

Status ValidateJob(const TraceJob& j, std::string_view where) {
  Ctx c{std::string(where)};
  if (j.id.empty()) return c.Bad("id", "must not be empty");
  if (!(j.duration_s > 0) || j.duration_s > 30 * 86400.0) {
    return c.Bad("duration", "must be a positive number of seconds (at most 30 days)");
  }
  if (!(j.peak_at > 0 && j.peak_at <= 1)) return c.Bad("peak_at", "must be in (0, 1]");
  if (j.gpu < 0 || j.gpu > 64) return c.Bad("gpu", "must be a whole number of GPUs, 0-64");
  if (j.spark()) {
    if (j.driver.cpu_millis <= 0 || j.executor.cpu_millis <= 0) {
      return c.Bad("cpu", "of driver and executor must be > 0");
    }
    if (j.driver.memory_bytes <= 0 || j.executor.memory_bytes <= 0) {
      return c.Bad("memory", "of driver and executor must be > 0");
    }
    if (j.driver_peak.heap_bytes <= 0 || j.executor_peak.heap_bytes <= 0) {
      return c.Bad("peak", "heap of driver and executor must be > 0");
    }
  } else {
    if (j.container.cpu_millis <= 0) return c.Bad("cpu", "must be > 0");
    if (j.container.memory_bytes <= 0) return c.Bad("memory", "must be > 0");
    if (j.container_peak_bytes <= 0) return c.Bad("peak", "memory must be > 0");
  }
  for (const Injection& f : j.failures) {
    if (!(f.at > 0 && f.at <= 1)) return c.Bad("failures", "'at' must be in (0, 1]");
  }
  return OkStatus();
}

Status Normalize(Trace& trace) {
  std::stable_sort(trace.jobs.begin(), trace.jobs.end(), [](const TraceJob& a, const TraceJob& b) {
    return a.submit != b.submit ? a.submit < b.submit : a.id < b.id;
  });
  std::set<std::string_view> seen;
  for (const TraceJob& j : trace.jobs) {
    if (!seen.insert(j.id).second) {
      return InvalidArgument(
          fmt::format("job id '{}' appears twice in the trace; ids must be unique", j.id));
    }
  }
  return OkStatus();
}

Result<Trace> ParseTrace(std::string_view text) {
  Trace t;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    Ctx c{fmt::format("trace line {}", line_no)};
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec) {
      return InvalidArgument(fmt::format(
          "{}: not valid JSON ({}); each line must be one job object", c.where, ec.message()));
    }
    if (!v.is_object()) {
      return InvalidArgument(c.where + ": must be a JSON object describing one job");
    }
    ASSIGN_OR_RETURN(TraceJob j, ParseJob(v.get_object(), c));
    t.jobs.push_back(std::move(j));
  }
  if (t.jobs.empty())
    return InvalidArgument("the trace has no jobs; expected one JSON object per line");
  RETURN_IF_ERROR(Normalize(t));
  return t;
}

std::string ToJsonLine(const TraceJob& j) {
  json::object o;
  o["id"] = j.id;
  o["submit"] = Seconds(j.submit);
  if (!j.user.empty()) o["user"] = j.user;
  o["name"] = j.name;
  o["kind"] = j.kind;
  if (!j.klass.empty()) o["class"] = j.klass;
  if (!j.queue.empty()) o["queue"] = j.queue;
  if (j.spark()) {
    o["driver"] = RoleJson(j.driver);
    o["executor"] = RoleJson(j.executor);
    o["instances"] = j.instances;
    o["peak"] =
        json::object{{"driver", PeakJson(j.driver_peak)}, {"executor", PeakJson(j.executor_peak)}};
  } else {
    o["cpu"] = FormatCpu(j.container.cpu_millis);
    o["memory"] = FormatMemory(j.container.memory_bytes);
    o["peak"] = json::object{{"memory", FormatMemory(j.container_peak_bytes)}};
  }
  // Whole seconds stay integers; otherwise milliseconds are enough.
  double d = std::round(j.duration_s * 1000.0) / 1000.0;
  if (d == std::floor(d)) {
    o["duration"] = static_cast<int64_t>(d);
  } else {
    o["duration"] = d;
  }
  o["peak_at"] = std::round(j.peak_at * 1000.0) / 1000.0;
  if (j.gpu > 0) o["gpu"] = j.gpu;
  if (j.critical) o["critical"] = true;
  if (!j.failures.empty()) {
    json::array fs;
    for (const Injection& f : j.failures) {
      json::object fo{{"kind", ToString(f.kind)}};
      if (!f.attempts.empty()) {
        json::array a;
        for (int n : f.attempts) a.push_back(n);
        fo["attempts"] = std::move(a);
      }
      fo["at"] = std::round(f.at * 1000.0) / 1000.0;
      if (f.min_executors > 0) fo["min_executors"] = f.min_executors;
      fs.push_back(std::move(fo));
    }
    o["failures"] = std::move(fs);
  }
  std::string out;
  WriteCompact(o, out);
  return out;
}

std::string ToJsonLines(const Trace& trace) {
  std::string out = "# tugboat fleet trace (docs/fleet.md): " + trace.source + "\n";
  for (const TraceJob& j : trace.jobs) {
    out += ToJsonLine(j);
    out += '\n';
  }
  return out;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(fmt::format("cannot read '{}'; check the path", path));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return InvalidArgument(fmt::format("reading '{}' failed", path));
  return ss.str();
}

Status WriteFile(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return InvalidArgument(fmt::format("cannot write '{}'; check the directory", path));
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) return Internal(fmt::format("writing '{}' failed", path));
  return OkStatus();
}

}  // namespace tug::sim
