#include "cli/output.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>
#include <boost/json.hpp>

#include "core/clock.h"
#include "core/quantity.h"
#include "cost/pricing.h"

namespace json = boost::json;

namespace tug::cli {
namespace {

// A scalar as JSON text. Doubles in their shortest exact form ("1.6", not Boost.JSON's "1.6E0");
// JSON has no NaN or infinity, so those are null.
std::string Scalar(const json::value& v) {
  if (v.is_double()) {
    const double d = v.get_double();
    if (!std::isfinite(d)) return "null";
    std::string text = fmt::format("{}", d);
    // Keep it a double for readers that care ("3" would read back as an integer).
    if (text.find_first_of(".eE") == std::string::npos) text += ".0";
    return text;
  }
  return json::serialize(v);
}

void Emit(YAML::Emitter& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::object:
      out << YAML::BeginMap;
      for (const auto& kv : v.get_object()) {
        out << YAML::Key << std::string(kv.key()) << YAML::Value;
        Emit(out, kv.value());
      }
      out << YAML::EndMap;
      break;
    case json::kind::array:
      out << YAML::BeginSeq;
      for (const auto& x : v.get_array()) Emit(out, x);
      out << YAML::EndSeq;
      break;
    case json::kind::string: {
      std::string s(v.get_string());
      // Quote strings YAML would read back as another type.
      bool plain_other = s.empty() || s == "true" || s == "false" || s == "null" || s == "~" ||
                         s.find_first_not_of("0123456789.-+eE") == std::string::npos;
      if (plain_other) out << YAML::DoubleQuoted;
      out << s;
      break;
    }
    case json::kind::null:
      out << YAML::Null;
      break;
    default:
      out << Scalar(v);
  }
}

void Pretty(std::string& out, const json::value& v, int indent) {
  std::string pad(static_cast<size_t>(indent) * 2, ' ');
  std::string pad_in(static_cast<size_t>(indent + 1) * 2, ' ');
  if (v.is_object()) {
    const auto& o = v.get_object();
    if (o.empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    size_t i = 0;
    for (const auto& kv : o) {
      out += pad_in + json::serialize(json::string(kv.key())) + ": ";
      Pretty(out, kv.value(), indent + 1);
      out += ++i < o.size() ? ",\n" : "\n";
    }
    out += pad + "}";
  } else if (v.is_array()) {
    const auto& a = v.get_array();
    if (a.empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    for (size_t i = 0; i < a.size(); ++i) {
      out += pad_in;
      Pretty(out, a[i], indent + 1);
      out += i + 1 < a.size() ? ",\n" : "\n";
    }
    out += pad + "]";
  } else {
    out += Scalar(v);
  }
}

std::string Str(const json::value* v) {
  if (v == nullptr || v->is_null()) return "";
  if (v->is_string()) return std::string(v->get_string());
  return Scalar(*v);
}

const json::value* At(const json::value& v, std::initializer_list<const char*> path) {
  const json::value* cur = &v;
  for (const char* key : path) {
    if (cur == nullptr || !cur->is_object()) return nullptr;
    cur = cur->get_object().if_contains(key);
  }
  return cur;
}

std::string HumanSpan(int64_t micros) {
  int64_t s = micros / kMicrosPerSecond;
  if (s < 0) s = 0;
  if (s < 60) {
    if (micros < 10 * kMicrosPerSecond) {
      return fmt::format("{:.1f}s", static_cast<double>(micros) / 1e6);
    }
    return fmt::format("{}s", s);
  }
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}d{}h", s / 86400, (s % 86400) / 3600);
}

std::string Memory(const json::value* v) {
  if (v == nullptr || !v->is_number()) return "-";
  auto bytes = v->to_number<int64_t>();
  return bytes > 0 ? FormatMemory(bytes) : "-";
}

// "driver 2Gi+384Mi, 3 x 4Gi+1Gi" from an attempt's resources.spark (overhead omitted when
// Spark's default applies).
std::string SparkSizes(const json::value& sp) {
  auto role = [&sp](const char* name) {
    std::string mem = Str(At(sp, {name, "memory"}));
    std::string over = Str(At(sp, {name, "memoryOverhead"}));
    if (mem.empty()) mem = "default";
    return over.empty() ? mem : mem + "+" + over;
  };
  std::string instances = Str(At(sp, {"executor", "instances"}));
  return fmt::format("driver {}, {}{}", role("driver"), instances.empty() ? "" : instances + " x ",
                     role("executor"));
}

}  // namespace

std::string ToYaml(const json::value& v) {
  YAML::Emitter out;
  Emit(out, v);
  return std::string(out.c_str()) + "\n";
}

std::string ToPrettyJson(const json::value& v) {
  std::string out;
  Pretty(out, v, 0);
  return out + "\n";
}

std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& r : rows) {
    if (widths.size() < r.size()) widths.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(widths[i] - r[i].size() + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string Age(const json::value& v, int64_t now) {
  if (!v.is_string()) return "";
  auto t = ParseTimestamp(std::string(v.get_string()));
  if (!t.ok()) return "";
  return HumanSpan(now - *t);
}

std::string Until(const json::value& v, int64_t now) {
  if (!v.is_string()) return "";
  auto t = ParseTimestamp(std::string(v.get_string()));
  if (!t.ok()) return "";
  return *t <= now ? "now" : HumanSpan(*t - now);
}

std::string Duration(const json::value& from, const json::value& to) {
  if (!from.is_string() || !to.is_string()) return "";
  auto a = ParseTimestamp(std::string(from.get_string()));
  auto b = ParseTimestamp(std::string(to.get_string()));
  if (!a.ok() || !b.ok()) return "";
  return HumanSpan(*b - *a);
}

std::string Money(const json::value* amount, const json::value* currency) {
  if (amount == nullptr || !amount->is_number()) return "";
  std::string text = cost::FormatUsd(amount->to_number<double>());
  const std::string cur = Str(currency);
  if (cur.empty() || cur == "USD") return text;
  text.erase(text.find('$'), 1);
  return text + " " + cur;
}

std::string RunsTable(const json::value& runs, int64_t now) {
  std::vector<std::vector<std::string>> rows{
      {"ID", "DEFINITION", "OWNER", "STATUS", "ATTEMPTS", "REASON", "EXIT", "COST", "AGE"}};
  if (runs.is_array()) {
    for (const auto& r : runs.get_array()) {
      const json::value* created = At(r, {"created_at"});
      // A listing shows stored costs (priced as attempts end): none yet for an active run.
      const std::string status = Str(At(r, {"status"}));
      const json::value* total = At(r, {"cost", "total"});
      const bool active = status == "QUEUED" || status == "RUNNING" || status == "RETRYING";
      std::string cost = Money(total, At(r, {"cost", "currency"}));
      if (active && (total == nullptr || !total->is_number() || total->to_number<double>() == 0)) {
        cost = "-";
      }
      rows.push_back({Str(At(r, {"id"})), Str(At(r, {"definition"})), Str(At(r, {"owner"})), status,
                      Str(At(r, {"attempt_count"})), Str(At(r, {"outcome", "reason"})),
                      Str(At(r, {"outcome", "exit_code"})), cost,
                      created != nullptr ? Age(*created, now) : ""});
    }
  }
  return Table(rows);
}

std::string QueuesTable(const json::value& body) {
  std::vector<std::vector<std::string>> rows = {
      {"QUEUE", "WEIGHT", "RUNNING", "QUEUED", "CPU", "MEMORY", "GPU", "SHARE", "WAITING ON"}};
  const json::value* queues = At(body, {"queues"});
  if (queues == nullptr || !queues->is_array()) return Table(rows);
  // "used/quota", or just "used" without a quota.
  auto of = [](const json::value& q, const char* used_key, const char* limit_key, auto format) {
    const json::value* used = At(q, {"usage", used_key});
    const json::value* limit = At(q, {"limits", limit_key});
    std::string u = used != nullptr && used->is_int64() ? format(used->as_int64()) : "0";
    if (limit == nullptr || !limit->is_int64()) return u;
    return u + "/" + format(limit->as_int64());
  };
  for (const json::value& q : queues->get_array()) {
    const json::value* share = At(q, {"share"});
    rows.push_back({Str(At(q, {"name"})), Str(At(q, {"weight"})), Str(At(q, {"running"})),
                    Str(At(q, {"queued"})), of(q, "cpu_millis", "cpu_millis", FormatCpu),
                    of(q, "memory_bytes", "memory_bytes", FormatMemory),
                    of(q, "gpu", "gpu", [](int64_t n) { return std::to_string(n); }),
                    share != nullptr && share->is_number()
                        ? fmt::format("{:.2f}", share->to_number<double>())
                        : "",
                    Str(At(q, {"blocked"}))});
  }
  return Table(rows);
}

std::string RunDetail(const json::value& run, int64_t now) {
  std::string out;
  auto line = [&](const char* k, const std::string& v) {
    if (!v.empty()) out += fmt::format("{:<12}{}\n", k, v);
  };
  line("Run:", Str(At(run, {"id"})));
  line("Definition:", fmt::format("{} (version {})", Str(At(run, {"definition"})),
                                  Str(At(run, {"definition_version"}))));
  line("Owner:", Str(At(run, {"owner"})));
  line("Parent:", Str(At(run, {"parent_run_id"})));
  line("Status:", Str(At(run, {"status"})));
  if (const json::value* c = At(run, {"cost"}); c != nullptr && c->is_object()) {
    const json::value* currency = At(*c, {"currency"});
    const json::value* retries = At(*c, {"retries"});
    const bool estimated = At(*c, {"estimated"}) != nullptr && At(*c, {"estimated"})->is_bool() &&
                           At(*c, {"estimated"})->get_bool();
    std::string text = Money(At(*c, {"total"}), currency);
    if (retries != nullptr && retries->is_number() && retries->to_number<double>() > 0) {
      text += ", retries cost " + Money(retries, currency);
    }
    std::vector<std::string> notes;
    if (std::string basis = Str(At(*c, {"basis"})); !basis.empty()) notes.push_back(basis);
    if (estimated) notes.push_back("running attempts estimated to now");
    if (!notes.empty()) text += " (" + fmt::format("{}", fmt::join(notes, "; ")) + ")";
    line("Cost:", text);
  }
  // Team queues: where it waits, its place and what holds it.
  if (std::string queue = Str(At(run, {"queue"})); !queue.empty()) {
    std::string position = Str(At(run, {"queue_position"}));
    line("Queue:", position.empty() ? queue : fmt::format("{} (position {})", queue, position));
  }
  line("Waiting:", Str(At(run, {"queue_reason"})));
  if (const json::value* c = At(run, {"created_at"})) line("Created:", Age(*c, now) + " ago");
  if (const json::value* oc = At(run, {"outcome"}); oc != nullptr && oc->is_object()) {
    std::string code = Str(At(*oc, {"exit_code"}));
    line("Outcome:",
         fmt::format("{}{}", Str(At(*oc, {"reason"})), code.empty() ? "" : " (exit " + code + ")"));
    line("Message:", Str(At(*oc, {"message"})));
  }
  const json::value* attempts = At(run, {"attempts"});
  // Why the last attempt failed: the diagnosis sentence and its root-cause line.
  if (attempts != nullptr && attempts->is_array() && !attempts->get_array().empty()) {
    const json::value& last = attempts->get_array().back();
    if (const json::value* d = At(last, {"diagnosis"}); d != nullptr && d->is_object()) {
      line("Diagnosis:",
           fmt::format("{} ({})", Str(At(*d, {"class"})),
                       At(*d, {"retryable"}) != nullptr && At(*d, {"retryable"})->is_bool() &&
                               At(*d, {"retryable"})->get_bool()
                           ? "retryable"
                           : "not retryable"));
      line("Why:", Str(At(*d, {"summary"})));
      std::string text = Str(At(*d, {"root_cause", "text"}));
      if (!text.empty()) {
        std::string where = Str(At(*d, {"root_cause", "line"}));
        line("Root cause:",
             where.empty() || where == "0"
                 ? fmt::format("platform: {}", text)
                 : fmt::format("{} line {}: {}", Str(At(*d, {"root_cause", "component"})), where,
                               text));
      }
      line("Fix:", Str(At(*d, {"remediation"})));
    }
  }
  if (const json::value* plan = At(run, {"plan", "sentence"}); plan != nullptr) {
    line("Plan:", Str(plan));
  }
  line("Spark UI:", Str(At(run, {"spark_ui"})));
  if (attempts != nullptr && attempts->is_array() && !attempts->get_array().empty()) {
    const json::value& last = attempts->get_array().back();
    if (Str(At(last, {"status"})) == "QUEUED" && Str(At(run, {"status"})) == "RETRYING") {
      if (const json::value* due = At(last, {"due_at"})) {
        line("Next:",
             fmt::format("attempt {} starts in {}", Str(At(last, {"number"})), Until(*due, now)));
      }
    }
    out += "\nAttempts:\n";
    std::vector<std::vector<std::string>> rows{{"#", "STATUS", "MEMORY", "PEAK", "PLACEMENT", "CPU",
                                                "EXIT", "REASON", "CLASS", "DURATION", "COST"}};
    const json::value* currency = At(run, {"cost", "currency"});
    std::vector<std::string> decisions;
    for (const auto& a : attempts->get_array()) {
      const json::value* started = At(a, {"started_at"});
      const json::value* ended = At(a, {"ended_at"});
      std::string dur;
      if (started != nullptr && ended != nullptr) dur = Duration(*started, *ended);
      const json::value* cpu = At(a, {"cpu_seconds"});
      std::string memory = Memory(At(a, {"resources", "memory"}));
      if (const json::value* sp = At(a, {"resources", "spark"}); sp != nullptr) {
        memory = SparkSizes(*sp);
      }
      std::string placement = Str(At(a, {"placement", "capacity"}));
      if (std::string ex = Str(At(a, {"placement", "executor_capacity"})); !ex.empty()) {
        placement = "driver " + placement + ", executors " + ex;
      }
      rows.push_back(
          {Str(At(a, {"number"})), Str(At(a, {"status"})), memory, Memory(At(a, {"peak_memory"})),
           placement,
           cpu != nullptr && cpu->is_number() ? fmt::format("{:.2f}s", cpu->to_number<double>())
                                              : "",
           Str(At(a, {"outcome", "exit_code"})), Str(At(a, {"outcome", "reason"})),
           Str(At(a, {"diagnosis", "class"})), dur,
           (At(a, {"cost", "estimated"}) != nullptr && At(a, {"cost", "estimated"})->is_bool() &&
                    At(a, {"cost", "estimated"})->get_bool()
                ? "~"
                : "") +
               Money(At(a, {"cost", "usd"}), currency)});
      if (std::string sentence = Str(At(a, {"decision", "sentence"})); !sentence.empty()) {
        decisions.push_back(fmt::format("  after {}: {}", Str(At(a, {"number"})), sentence));
      }
    }
    std::string table = Table(rows);
    size_t pos = 0;
    while (pos < table.size()) {
      size_t nl = table.find('\n', pos);
      out += "  " + table.substr(pos, nl - pos + 1);
      pos = nl + 1;
    }
    if (!decisions.empty()) {
      out += "\nDecisions:\n";
      for (const auto& d : decisions) out += d + "\n";
    }
    // The last attempt's pods (Spark: controller, driver, executors) and how each ended.
    const json::value* comps = At(attempts->get_array().back(), {"components"});
    if (comps != nullptr && comps->is_array() && !comps->get_array().empty()) {
      out += "\nComponents (attempt " + Str(At(attempts->get_array().back(), {"number"})) + "):\n";
      std::vector<std::vector<std::string>> crows{
          {"COMPONENT", "STATE", "NODE", "CAPACITY", "EXIT", "REASON"}};
      for (const auto& c : comps->get_array()) {
        std::string reason = Str(At(c, {"reason"}));
        if (At(c, {"evidence"}) != nullptr) reason += " (evidence)";
        crows.push_back({Str(At(c, {"name"})), Str(At(c, {"state"})), Str(At(c, {"node"})),
                         Str(At(c, {"capacity"})), Str(At(c, {"exit_code"})), reason});
      }
      std::string ctable = Table(crows);
      size_t cpos = 0;
      while (cpos < ctable.size()) {
        size_t nl = ctable.find('\n', cpos);
        out += "  " + ctable.substr(cpos, nl - cpos + 1);
        cpos = nl + 1;
      }
    }
  }
  return out;
}

std::string DefinitionsTable(const json::value& defs) {
  std::vector<std::vector<std::string>> rows{
      {"NAME", "VERSION", "MEMORY", "CPU", "TIMEOUT", "COMMAND"}};
  if (defs.is_array()) {
    for (const auto& d : defs.get_array()) {
      std::string cmd;
      if (const json::value* c = At(d, {"command"}); c != nullptr) {
        if (c->is_string()) {
          cmd = std::string(c->get_string());
        } else if (c->is_array()) {
          for (const auto& x : c->get_array()) cmd += (cmd.empty() ? "" : " ") + Str(&x);
        }
      }
      if (cmd.size() > 50) cmd = cmd.substr(0, 47) + "...";
      rows.push_back({Str(At(d, {"name"})), Str(At(d, {"version"})),
                      Memory(At(d, {"resources", "memory"})), Str(At(d, {"resources", "cpu"})),
                      Str(At(d, {"timeout"})), cmd});
    }
  }
  return Table(rows);
}

}  // namespace tug::cli
