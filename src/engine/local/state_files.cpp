#include "engine/local/state_files.h"

#include <charconv>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/json.h"
#include "engine/local/proc.h"

namespace json = boost::json;

namespace tug::engine::local {

namespace {

// Lenient field access for our own files: a missing field keeps the default, a field of the
// wrong type is an error naming the file and field.
class Fields {
 public:
  Fields(const json::value& v, std::string_view what) : what_(what) {
    if (v.is_object()) obj_ = &v.get_object();
  }
  bool ok() const { return obj_ != nullptr; }
  Status NotObject() const {
    return InvalidArgument(fmt::format("{} is not a JSON object", what_));
  }
  Status Str(std::string_view key, std::string& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_string()) return Wrong(key, "a string");
    out = std::string(v->get_string());
    return OkStatus();
  }
  template <class T>
  Status Int(std::string_view key, T& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (v->is_int64()) {
      out = static_cast<T>(v->get_int64());
    } else if (v->is_uint64()) {
      out = static_cast<T>(v->get_uint64());
    } else {
      return Wrong(key, "an integer");
    }
    return OkStatus();
  }
  Status Bool(std::string_view key, bool& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_bool()) return Wrong(key, "true or false");
    out = v->get_bool();
    return OkStatus();
  }
  Status Strings(std::string_view key, std::vector<std::string>& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_array()) return Wrong(key, "a list of strings");
    for (const json::value& x : v->get_array()) {
      if (!x.is_string()) return Wrong(key, "a list of strings");
      out.emplace_back(x.get_string());
    }
    return OkStatus();
  }
  Status Map(std::string_view key, std::map<std::string, std::string>& out) const {
    const json::value* v = Get(key);
    if (v == nullptr) return OkStatus();
    if (!v->is_object()) return Wrong(key, "a map of strings");
    for (const auto& kv : v->get_object()) {
      if (!kv.value().is_string()) return Wrong(key, "a map of strings");
      out[std::string(kv.key())] = std::string(kv.value().get_string());
    }
    return OkStatus();
  }
  const json::value* Get(std::string_view key) const {
    if (obj_ == nullptr) return nullptr;
    const json::value* v = obj_->if_contains(key);
    return v != nullptr && v->is_null() ? nullptr : v;
  }

 private:
  Status Wrong(std::string_view key, std::string_view type) const {
    return InvalidArgument(fmt::format("{}: '{}' must be {}", what_, key, type));
  }
  const json::object* obj_ = nullptr;
  std::string_view what_;
};

json::object CgroupsToJson(const AttemptCgroups& g) {
  json::object o;
  o["version"] = ToString(g.version);
  if (!g.unified.empty()) o["unified"] = g.unified;
  if (!g.memory.empty()) o["memory"] = g.memory;
  if (!g.cpu.empty()) o["cpu"] = g.cpu;
  if (!g.cpuacct.empty()) o["cpuacct"] = g.cpuacct;
  return o;
}

Result<AttemptCgroups> CgroupsFromJson(const json::value* v) {
  AttemptCgroups g;
  if (v == nullptr) return g;
  Fields f(*v, "spec.json cgroups");
  if (!f.ok()) return f.NotObject().take_error();
  std::string version;
  RETURN_IF_ERROR(f.Str("version", version));
  if (version == "v1") {
    g.version = CgroupVersion::kV1;
  } else if (version == "v2") {
    g.version = CgroupVersion::kV2;
  } else if (version.empty() || version == "none") {
    g.version = CgroupVersion::kNone;
  } else {
    return InvalidArgument(fmt::format("spec.json: cgroup version '{}' is not known", version));
  }
  RETURN_IF_ERROR(f.Str("unified", g.unified));
  RETURN_IF_ERROR(f.Str("memory", g.memory));
  RETURN_IF_ERROR(f.Str("cpu", g.cpu));
  RETURN_IF_ERROR(f.Str("cpuacct", g.cpuacct));
  return g;
}

template <class T>
bool ParseNum(const std::string& s, T& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::string SerializeSpec(const ShimSpec& spec) {
  json::object o;
  o["attempt_id"] = spec.attempt_id;
  o["run_id"] = spec.run_id;
  json::array argv;
  for (const auto& a : spec.argv) argv.emplace_back(a);
  o["argv"] = std::move(argv);
  json::object env;
  for (const auto& [k, v] : spec.env) env[k] = v;
  o["env"] = std::move(env);
  o["working_dir"] = spec.working_dir;
  o["log_path"] = spec.log_path;
  o["memory_bytes"] = spec.memory_bytes;
  o["cpu_millis"] = spec.cpu_millis;
  o["timeout_seconds"] = spec.timeout_seconds;
  o["stop_grace_ms"] = spec.stop_grace_ms;
  o["watchdog"] = spec.watchdog;
  o["sync"] = spec.sync;
  o["cgroups"] = CgroupsToJson(spec.cgroups);
  return Serialize(o) + "\n";
}

Result<ShimSpec> ParseSpec(std::string_view text) {
  ASSIGN_OR_RETURN(json::value v, ParseJson(text));
  Fields f(v, "spec.json");
  if (!f.ok()) return f.NotObject().take_error();
  ShimSpec s;
  RETURN_IF_ERROR(f.Str("attempt_id", s.attempt_id));
  RETURN_IF_ERROR(f.Str("run_id", s.run_id));
  RETURN_IF_ERROR(f.Strings("argv", s.argv));
  RETURN_IF_ERROR(f.Map("env", s.env));
  RETURN_IF_ERROR(f.Str("working_dir", s.working_dir));
  RETURN_IF_ERROR(f.Str("log_path", s.log_path));
  RETURN_IF_ERROR(f.Int("memory_bytes", s.memory_bytes));
  RETURN_IF_ERROR(f.Int("cpu_millis", s.cpu_millis));
  RETURN_IF_ERROR(f.Int("timeout_seconds", s.timeout_seconds));
  RETURN_IF_ERROR(f.Int("stop_grace_ms", s.stop_grace_ms));
  RETURN_IF_ERROR(f.Bool("watchdog", s.watchdog));
  RETURN_IF_ERROR(f.Bool("sync", s.sync));
  ASSIGN_OR_RETURN(s.cgroups, CgroupsFromJson(f.Get("cgroups")));
  if (s.argv.empty()) return InvalidArgument("spec.json: 'argv' is empty");
  if (s.log_path.empty()) return InvalidArgument("spec.json: 'log_path' is empty");
  return s;
}

std::string SerializeStatus(const ShimStatus& st) {
  json::object o;
  if (st.exit_code) {
    o["exit_code"] = *st.exit_code;
  } else {
    o["exit_code"] = nullptr;
  }
  o["reason"] = st.reason;
  o["message"] = st.message;
  o["peak_memory_bytes"] = st.peak_memory_bytes;
  o["cpu_micros"] = st.cpu_micros;
  o["started_at"] = st.started_at;
  o["ended_at"] = st.ended_at;
  return Serialize(o) + "\n";
}

Result<ShimStatus> ParseStatus(std::string_view text) {
  ASSIGN_OR_RETURN(json::value v, ParseJson(text));
  Fields f(v, "status.json");
  if (!f.ok()) return f.NotObject().take_error();
  ShimStatus st;
  if (f.Get("exit_code") != nullptr) {
    int code = 0;
    RETURN_IF_ERROR(f.Int("exit_code", code));
    st.exit_code = code;
  }
  RETURN_IF_ERROR(f.Str("reason", st.reason));
  RETURN_IF_ERROR(f.Str("message", st.message));
  RETURN_IF_ERROR(f.Int("peak_memory_bytes", st.peak_memory_bytes));
  RETURN_IF_ERROR(f.Int("cpu_micros", st.cpu_micros));
  RETURN_IF_ERROR(f.Int("started_at", st.started_at));
  RETURN_IF_ERROR(f.Int("ended_at", st.ended_at));
  if (st.reason.empty()) return InvalidArgument("status.json: 'reason' is empty");
  return st;
}

std::string SerializeShimPidJob(const ShimPid& p) {
  return fmt::format("{} {}\n", p.job_pid, p.started_at);
}

std::string SerializeShimPid(const ShimPid& p) {
  std::string first = fmt::format("{} {}\n", p.pid, p.start_ticks);
  return p.job_pid == 0 ? first : first + SerializeShimPidJob(p);
}

Result<ShimPid> ParseShimPid(std::string_view text) {
  // The job's line counts only once whole: it is appended while readers may look.
  size_t first_nl = text.find('\n');
  std::string_view complete = text;
  if (first_nl != std::string_view::npos) {
    size_t last_nl = text.rfind('\n');
    complete = text.substr(0, last_nl + 1);
  }
  std::vector<std::string> w = SplitWords(complete);
  ShimPid p;
  bool ok =
      (w.size() == 2 || w.size() == 4) && ParseNum(w[0], p.pid) && ParseNum(w[1], p.start_ticks);
  if (ok && w.size() == 4) ok = ParseNum(w[2], p.job_pid) && ParseNum(w[3], p.started_at);
  if (!ok || p.pid <= 0) {
    return InvalidArgument(fmt::format("shim.pid '{}' is malformed", text));
  }
  return p;
}

std::string SerializeRef(const EngineRef& ref) {
  json::object o;
  o["shim_pid"] = ref.shim_pid;
  o["shim_start"] = ref.shim_start_ticks;
  o["job_pid"] = ref.job_pid;
  o["dir"] = ref.dir;
  return Serialize(o);
}

Result<EngineRef> ParseRef(std::string_view text) {
  ASSIGN_OR_RETURN(json::value v, ParseJson(text));
  Fields f(v, "engine ref");
  if (!f.ok()) return f.NotObject().take_error();
  EngineRef ref;
  RETURN_IF_ERROR(f.Int("shim_pid", ref.shim_pid));
  RETURN_IF_ERROR(f.Int("shim_start", ref.shim_start_ticks));
  RETURN_IF_ERROR(f.Int("job_pid", ref.job_pid));
  RETURN_IF_ERROR(f.Str("dir", ref.dir));
  return ref;
}

AttemptStatus StatusForReason(std::string_view reason) {
  if (reason == tug::reason::kCompleted) return AttemptStatus::kSucceeded;
  if (reason == tug::reason::kStopped) return AttemptStatus::kStopped;
  if (reason == tug::reason::kLost) return AttemptStatus::kLost;
  return AttemptStatus::kFailed;
}

}  // namespace tug::engine::local
