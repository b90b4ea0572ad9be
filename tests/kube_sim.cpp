#include "kube_sim.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <list>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>

#include "core/log.h"
#include "core/quantity.h"
#include "test_util.h"

#ifndef TUG_DEFAULT_SOURCE_DIR
#define TUG_DEFAULT_SOURCE_DIR ""
#endif

namespace tug::testing {
namespace {

namespace json = boost::json;
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using SysClock = std::chrono::system_clock;
using SysTime = SysClock::time_point;
using Steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr char kApiserverVersion[] = "v1.20.2";
constexpr auto kFirstBackoff = 100ms;
constexpr auto kMaxBackoff = 2000ms;
constexpr auto kEventDeadline = 60s;
constexpr auto kNodeDeadline = 60s;
constexpr int64_t kMaxPodsPerNode = 110;
constexpr char kAffinityMismatch[] = "node(s) didn't match Pod's node affinity/selector";

// ---- JSON access (Boost.JSON's at() throws; these return empty) ----

const json::value* Find(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (auto key : path) {
    const json::object* o = cur->if_object();
    if (o == nullptr) return nullptr;
    cur = o->if_contains(key);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

std::string Str(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* f = Find(v, path);
  return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string();
}

std::optional<int64_t> Int(const json::value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return std::nullopt;
}

bool Terminal(const json::value& pod) {
  std::string phase = Str(pod, {"status", "phase"});
  return phase == "Succeeded" || phase == "Failed";
}

bool Deleting(const json::value& pod) {
  const json::value* d = Find(pod, {"metadata", "deletionTimestamp"});
  return d != nullptr && !d->is_null();
}

// ---- time: RFC 3339 as Kubernetes writes it ----

std::string FormatTime(SysTime t, bool nanos) {
  int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  int64_t secs = ns / 1'000'000'000;
  int64_t frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  auto tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!nanos) return std::string(buf) + "Z";
  return fmt::format("{}.{:09d}Z", buf, frac);
}

std::optional<SysTime> ParseTime(std::string_view s) {
  auto digits = [&](size_t pos, size_t n, int* out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (s.size() < 20 || !digits(0, 4, &year) || s[4] != '-' || !digits(5, 2, &month) ||
      s[7] != '-' || !digits(8, 2, &day) || (s[10] != 'T' && s[10] != 't') ||
      !digits(11, 2, &hour) || s[13] != ':' || !digits(14, 2, &minute) || s[16] != ':' ||
      !digits(17, 2, &second)) {
    return std::nullopt;
  }
  size_t pos = 19;
  int64_t nanos = 0;
  if (s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100'000'000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      nanos += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh = 0, om = 0;
    if (!digits(pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(pos + 4, 2, &om)) {
      return std::nullopt;
    }
    offset = static_cast<int64_t>(oh * 60 + om) * 60 * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  // Clamped to what a nanosecond time_point holds (years 1678..2262).
  int64_t secs = std::clamp<int64_t>(static_cast<int64_t>(timegm(&tm)) - offset, -9'000'000'000,
                                     9'000'000'000);
  return SysTime(std::chrono::duration_cast<SysClock::duration>(std::chrono::seconds(secs) +
                                                                std::chrono::nanoseconds(nanos)));
}

// ---- small parsers ----

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool ParseDouble(std::string_view text, double* out) {
  std::string s(text);
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !(v >= 0) || v > 1e7) return false;
  *out = v;
  return true;
}

bool ParseInt(std::string_view text, int64_t* out) {
  std::string s(text);
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  *out = v;
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]);
      int lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_is_space && s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view item = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string key = PercentDecode(item.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? std::string() : PercentDecode(item.substr(eq + 1), true);
    out[key] = value;
  }
  return out;
}

std::string Tail(const std::string& text, size_t max) {
  return text.size() <= max ? text : "..." + text.substr(text.size() - max);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path != nullptr ? path : "";
  while (!rest.empty()) {
    size_t colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    if (!dir.empty() && access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

// Errors worth retrying: the API server is down, restarting or overloaded.
bool Transient(const Error& e) {
  return e.code() == Code::kUnavailable || e.code() == Code::kDeadlineExceeded ||
         e.code() == Code::kInternal;
}

// What the simulated container is doing, for the pod's status.
struct ContainerState {
  enum class Kind { kWaiting, kRunning, kTerminated };
  Kind kind = Kind::kWaiting;
  std::string reason;
  std::string message;
  int exit_code = 0;
  SysTime started;
  SysTime finished;
};

// The parts of a pod spec the kubelet side needs.
struct PodFacts {
  std::string ns;
  std::string name;
  std::string uid;
  std::string node;
  std::string container;
  std::string image;
  std::string sim;
  bool has_sim = false;
  std::optional<int64_t> memory_limit;
  std::optional<int64_t> active_deadline_seconds;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> env;  // the first container's literal env values
  std::vector<std::string> argv;           // its command, then its args
  std::string conf_map;                    // the ConfigMap of the spark-conf-volume-driver volume
  std::string pod_ip = "127.0.0.1";
};

PodFacts FactsOf(const json::value& pod, const std::string& node) {
  PodFacts f;
  f.ns = Str(pod, {"metadata", "namespace"});
  f.name = Str(pod, {"metadata", "name"});
  f.uid = Str(pod, {"metadata", "uid"});
  f.node = node;
  f.active_deadline_seconds = Int(Find(pod, {"spec", "activeDeadlineSeconds"}));
  const json::value* labels = Find(pod, {"metadata", "labels"});
  if (labels != nullptr && labels->is_object()) {
    for (const auto& [k, v] : labels->get_object()) {
      if (v.is_string()) f.labels[std::string(k)] = std::string(v.get_string());
    }
  }
  const json::value* volumes = Find(pod, {"spec", "volumes"});
  if (volumes != nullptr && volumes->is_array()) {
    for (const json::value& v : volumes->get_array()) {
      if (Str(v, {"name"}) == "spark-conf-volume-driver")
        f.conf_map = Str(v, {"configMap", "name"});
    }
  }
  const json::value* cs = Find(pod, {"spec", "containers"});
  if (cs == nullptr || !cs->is_array() || cs->get_array().empty()) return f;
  const json::value& c = cs->get_array()[0];
  for (const char* key : {"command", "args"}) {
    const json::value* list = Find(c, {key});
    if (list == nullptr || !list->is_array()) continue;
    for (const json::value& a : list->get_array()) {
      f.argv.push_back(a.is_string() ? std::string(a.get_string()) : json::serialize(a));
    }
  }
  f.container = Str(c, {"name"});
  f.image = Str(c, {"image"});
  std::string limit = Str(c, {"resources", "limits", "memory"});
  if (!limit.empty()) {
    auto bytes = ParseMemory(limit);
    if (bytes.ok()) f.memory_limit = *bytes;
  }
  const json::value* env = Find(c, {"env"});
  if (env != nullptr && env->is_array()) {
    for (const json::value& e : env->get_array()) {
      if (Str(e, {"name"}) == "TUG_SIM") {
        f.sim = Str(e, {"value"});
        f.has_sim = true;
      }
      if (Find(e, {"value"}) != nullptr) f.env[Str(e, {"name"})] = Str(e, {"value"});
    }
  }
  return f;
}

struct Requests {
  int64_t cpu = 0;
  int64_t memory = 0;
};

Requests RequestsOf(const json::value& pod) {
  Requests r;
  const json::value* cs = Find(pod, {"spec", "containers"});
  if (cs == nullptr || !cs->is_array()) return r;
  for (const json::value& c : cs->get_array()) {
    std::string cpu = Str(c, {"resources", "requests", "cpu"});
    std::string memory = Str(c, {"resources", "requests", "memory"});
    if (!cpu.empty()) {
      auto v = ParseCpu(cpu);
      if (v.ok()) r.cpu += *v;
    }
    if (!memory.empty()) {
      auto v = ParseMemory(memory);
      if (v.ok()) r.memory += *v;
    }
  }
  return r;
}

std::vector<std::string> Strings(const json::value* v) {
  std::vector<std::string> out;
  if (v == nullptr || !v->is_array()) return out;
  for (const json::value& s : v->get_array()) {
    if (s.is_string()) out.emplace_back(s.get_string());
  }
  return out;
}

// One NodeSelectorRequirement against a label set (or the node's fields for matchFields).
bool RequirementMatches(const json::value& req, const std::map<std::string, std::string>& labels) {
  std::string key = Str(req, {"key"});
  std::string op = Str(req, {"operator"});
  std::vector<std::string> values = Strings(Find(req, {"values"}));
  auto it = labels.find(key);
  bool has = it != labels.end();
  auto in = [&] {
    return has && std::find(values.begin(), values.end(), it->second) != values.end();
  };
  if (op == "In") return in();
  if (op == "NotIn") return !in();
  if (op == "Exists") return has;
  if (op == "DoesNotExist") return !has;
  if (op == "Gt" || op == "Lt") {
    int64_t have = 0;
    int64_t want = 0;
    if (!has || values.size() != 1 || !ParseInt(it->second, &have) || !ParseInt(values[0], &want)) {
      return false;
    }
    return op == "Gt" ? have > want : have < want;
  }
  return false;
}

// spec.nodeSelector and required node affinity, as the scheduler's NodeAffinity filter does.
bool AffinityMatches(const json::value& pod, const std::string& node_name,
                     const std::map<std::string, std::string>& labels) {
  const json::value* selector = Find(pod, {"spec", "nodeSelector"});
  if (selector != nullptr && selector->is_object()) {
    for (const auto& [k, v] : selector->get_object()) {
      auto it = labels.find(std::string(k));
      if (it == labels.end() || !v.is_string() || it->second != v.get_string()) return false;
    }
  }
  const json::value* terms =
      Find(pod, {"spec", "affinity", "nodeAffinity",
                 "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"});
  if (terms == nullptr || !terms->is_array()) return true;
  const std::map<std::string, std::string> fields = {{"metadata.name", node_name}};
  // Terms are ORed; the requirements of one term are ANDed; an empty term matches nothing.
  for (const json::value& term : terms->get_array()) {
    const json::value* exprs = Find(term, {"matchExpressions"});
    const json::value* field_exprs = Find(term, {"matchFields"});
    bool any = false;
    bool all = true;
    if (exprs != nullptr && exprs->is_array()) {
      for (const json::value& e : exprs->get_array()) {
        any = true;
        all = all && RequirementMatches(e, labels);
      }
    }
    if (field_exprs != nullptr && field_exprs->is_array()) {
      for (const json::value& e : field_exprs->get_array()) {
        any = true;
        all = all && RequirementMatches(e, fields);
      }
    }
    if (any && all) return true;
  }
  return false;
}

json::object Condition(std::string_view type, bool status, SysTime changed,
                       std::string_view reason = {}, std::string_view message = {}) {
  json::object c{{"type", type},
                 {"status", status ? "True" : "False"},
                 {"lastProbeTime", nullptr},
                 {"lastTransitionTime", FormatTime(changed, false)}};
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  return c;
}

// A pod status as a kubelet reports it for a pod with one container and restartPolicy Never.
json::object PodStatus(const PodFacts& p, std::string_view phase, const ContainerState& c,
                       SysTime pod_start, std::string_view reason, std::string_view message) {
  using Kind = ContainerState::Kind;
  SysTime changed = c.kind == Kind::kRunning      ? c.started
                    : c.kind == Kind::kTerminated ? c.finished
                                                  : pod_start;
  bool ready = c.kind == Kind::kRunning;
  bool completed = c.kind == Kind::kTerminated;
  std::string unready = "containers with unready status: [" + p.container + "]";
  json::array conditions;
  conditions.push_back(
      Condition("Initialized", true, pod_start, completed ? "PodCompleted" : std::string_view()));
  for (std::string_view type : {"Ready", "ContainersReady"}) {
    if (ready) {
      conditions.push_back(Condition(type, true, changed));
    } else if (completed && phase == "Succeeded") {
      conditions.push_back(Condition(type, false, changed, "PodCompleted"));
    } else {
      conditions.push_back(Condition(type, false, changed, "ContainersNotReady", unready));
    }
  }
  conditions.push_back(Condition("PodScheduled", true, pod_start));

  std::string container_id = "sim://" + p.uid + "/" + p.container;
  json::object state;
  json::object cs{{"name", p.container},
                  {"image", p.image},
                  {"imageID", ""},
                  {"ready", ready},
                  {"restartCount", 0},
                  {"started", ready},
                  {"lastState", json::object()}};
  switch (c.kind) {
    case Kind::kWaiting: {
      json::object w{{"reason", c.reason}};
      if (!c.message.empty()) w["message"] = c.message;
      state["waiting"] = std::move(w);
      break;
    }
    case Kind::kRunning:
      state["running"] = json::object{{"startedAt", FormatTime(c.started, false)}};
      break;
    case Kind::kTerminated:
      state["terminated"] = json::object{{"exitCode", c.exit_code},
                                         {"reason", c.reason},
                                         {"startedAt", FormatTime(c.started, false)},
                                         {"finishedAt", FormatTime(c.finished, false)},
                                         {"containerID", container_id}};
      break;
  }
  if (c.kind != Kind::kWaiting) {
    cs["imageID"] = "sim://image/" + p.image;
    cs["containerID"] = container_id;
  }
  cs["state"] = std::move(state);

  json::object status{{"phase", phase},
                      {"conditions", std::move(conditions)},
                      {"hostIP", "127.0.0.1"},
                      {"podIP", p.pod_ip},
                      {"podIPs", json::array{json::object{{"ip", p.pod_ip}}}},
                      {"startTime", FormatTime(pod_start, false)},
                      {"containerStatuses", json::array{std::move(cs)}}};
  if (!reason.empty()) status["reason"] = reason;
  if (!message.empty()) status["message"] = message;
  return json::object{{"status", std::move(status)}};
}

// A plain-text reply on the kubelet connection; false when the client is gone.
bool ReplyText(ssl::stream<tcp::socket>& stream, const http::request<http::string_body>& req,
               http::status status, std::string body) {
  http::response<http::string_body> res{status, req.version()};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  boost::system::error_code ec;
  http::write(stream, res, ec);
  return !ec;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// KubeTestEnv

bool RequireKube() {
  const char* v = std::getenv("TUG_REQUIRE_KUBE");
  return v != nullptr && std::string_view(v) == "1";
}

std::string KubeTestEnv::ApiserverBinary() {
  if (const char* b = std::getenv("KUBE_APISERVER"); b != nullptr && *b != '\0') return b;
  std::string cache;
  if (const char* c = std::getenv("TUG_CACHE"); c != nullptr && *c != '\0') {
    cache = c;
  } else {
    const char* home = std::getenv("HOME");
    cache = std::string(home != nullptr ? home : "") + "/.cache/tugboat";
  }
  return cache + "/kube-apiserver-" + kApiserverVersion;
}

std::string KubeTestEnv::Script() {
  const char* src = std::getenv("TUG_SOURCE_DIR");
  std::string root = src != nullptr && *src != '\0' ? src : TUG_DEFAULT_SOURCE_DIR;
  return root + "/scripts/kube-testenv";
}

KubeTestEnv::KubeTestEnv() {
  std::string tmpl = std::filesystem::temp_directory_path().string() + "/tug-kube-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  const char* made = mkdtemp(buf.data());
  dir_ = made != nullptr ? made : "";
}

KubeTestEnv::~KubeTestEnv() {
  Stop();
  if (dir_.empty()) return;
  const char* keep = std::getenv("TUG_KEEP_KUBE_DIR");
  if (keep != nullptr && std::string_view(keep) == "1") {
    log::Info("kube test environment kept", {{"dir", dir_}});
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Status KubeTestEnv::Run(const std::vector<std::string>& args, int timeout_seconds) const {
  std::vector<std::string> argv = {"bash", Script()};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = RunCommand(argv, std::chrono::seconds(timeout_seconds));
  if (r.exit_code == 0) return OkStatus();
  std::string apiserver_log = ReadFile(dir_ + "/apiserver.log");
  return Unavailable(fmt::format("kube-testenv {} {} failed (exit {}): {}", args.at(0), dir_,
                                 r.exit_code, Tail(r.err, 2000)),
                     "apiserver.log: " + Tail(apiserver_log, 2000));
}

Status KubeTestEnv::Start() {
  if (started_) return OkStatus();
  if (dir_.empty()) return Internal("could not create a temporary directory for kube-testenv");
  std::string bin = ApiserverBinary();
  if (access(bin.c_str(), X_OK) != 0) {
    return FailedPrecondition(fmt::format(
        "kube-apiserver {} not found at '{}'; build it once with `scripts/kube-testenv build`",
        kApiserverVersion, bin));
  }
  if (!OnPath("etcd")) {
    return FailedPrecondition("etcd not found on PATH; install Debian's etcd-server");
  }
  if (access(Script().c_str(), R_OK) != 0) {
    return FailedPrecondition(
        fmt::format("'{}' not found; set TUG_SOURCE_DIR to the source tree", Script()));
  }
  Status st = Run({"up", dir_}, 180);
  if (!st.ok()) {
    // Whatever did start (etcd) must not outlive the test.
    (void)Run({"down", dir_}, 60);
    return st;
  }
  started_ = true;
  StartWatchdog();
  return OkStatus();
}

void KubeTestEnv::StartWatchdog() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return;
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  const char* keep = std::getenv("TUG_KEEP_KUBE_DIR");
  bool remove_dir = keep == nullptr || std::string_view(keep) != "1";
  // Everything the child needs is built before fork: after it only async-signal-safe calls.
  std::vector<std::string> args = {
      "bash", "-c", std::string(R"(bash "$0" down "$1")") + (remove_dir ? R"(; rm -rf "$1")" : ""),
      Script(), dir_};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  long max_fd = sysconf(_SC_OPEN_MAX);
  if (max_fd < 0 || max_fd > 65536) max_fd = 65536;
  pid_t pid = fork();
  if (pid == 0) {
    setsid();  // survives a kill of the test's process group
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    // Hold no other descriptor: a pipe write end kept open here would hang its reader.
    for (int fd = 3; fd < max_fd; ++fd) {
      if (fd != fds[0]) close(fd);
    }
    char c = 0;
    while (true) {
      ssize_t n = read(fds[0], &c, 1);
      if (n == 0 || (n < 0 && errno != EINTR)) break;
    }
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(fds[0]);
  if (devnull >= 0) close(devnull);
  if (pid < 0) {
    close(fds[1]);
    return;
  }
  watchdog_pid_ = pid;
  watchdog_fd_ = fds[1];
}

void KubeTestEnv::StopWatchdog() {
  if (watchdog_pid_ > 0) {
    kill(watchdog_pid_, SIGKILL);
    int status = 0;
    waitpid(watchdog_pid_, &status, 0);
    watchdog_pid_ = -1;
  }
  if (watchdog_fd_ >= 0) {
    close(watchdog_fd_);
    watchdog_fd_ = -1;
  }
}

void KubeTestEnv::Stop() {
  if (!started_) return;
  started_ = false;
  StopWatchdog();
  Status st = Run({"down", dir_}, 60);
  if (!st.ok()) log::Warn("kube-testenv down failed", {{"error", st.error().ToString()}});
}

Status KubeTestEnv::StopApiserver() {
  if (!started_) return FailedPrecondition("the kube test environment is not started");
  return Run({"stop-apiserver", dir_}, 60);
}

Status KubeTestEnv::StartApiserver() {
  if (!started_) return FailedPrecondition("the kube test environment is not started");
  return Run({"start-apiserver", dir_}, 120);
}

// ---------------------------------------------------------------------------------------------
// TUG_SIM

Result<SimScript> ParseSimScript(std::string_view text) {
  SimScript s;
  bool run_set = false;
  std::string_view rest = text;
  while (true) {
    size_t semi = rest.find(';');
    std::string_view item = Trim(rest.substr(0, semi));
    if (!item.empty()) {
      size_t eq = item.find('=');
      std::string_view key = Trim(item.substr(0, eq));
      std::string_view value =
          eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
      auto bad = [&](std::string_view what) {
        return InvalidArgument(fmt::format("TUG_SIM directive '{}': {}", item, what));
      };
      if (key == "run") {
        if (!ParseDouble(Trim(value), &s.run_seconds)) return bad("want seconds, e.g. run=1.5");
        run_set = true;
      } else if (key == "exit") {
        int64_t code = 0;
        if (!ParseInt(Trim(value), &code) || code < 0 || code > 255) {
          return bad("want an exit code 0..255");
        }
        s.exit_code = static_cast<int>(code);
        s.exit_set = true;
      } else if (key == "log") {
        s.logs.emplace_back(value);
      } else if (key == "log_every") {
        if (!ParseDouble(Trim(value), &s.log_every_seconds) || s.log_every_seconds <= 0) {
          return bad("want seconds > 0");
        }
      } else if (key == "log_count") {
        int64_t n = 0;
        if (!ParseInt(Trim(value), &n) || n < 0 || n > 1'000'000) return bad("want a count");
        s.log_count = static_cast<int>(n);
      } else if (key == "oom_below") {
        auto bytes = ParseMemory(Trim(value));
        if (!bytes.ok()) return bad("want a memory quantity, e.g. 150Mi");
        s.oom_below_bytes = *bytes;
      } else if (key == "hang") {
        if (eq != std::string_view::npos) return bad("takes no value");
        s.hang = true;
      } else if (key == "until") {
        if (Trim(value).empty()) return bad("want a file path, e.g. until=/tmp/done");
        s.until_file = std::string(Trim(value));
      } else if (key == "waiting") {
        size_t colon = value.find(':');
        std::string_view reason = Trim(value.substr(0, colon));
        if (reason.empty()) return bad("want REASON:MESSAGE, e.g. waiting=ErrImagePull:not found");
        std::string_view message =
            colon == std::string_view::npos ? std::string_view() : value.substr(colon + 1);
        s.waiting = std::make_pair(std::string(reason), std::string(message));
      } else {
        return bad(
            "unknown; use run, exit, log, log_every, log_count, oom_below, hang, until or "
            "waiting");
      }
    }
    if (semi == std::string_view::npos) break;
    rest.remove_prefix(semi + 1);
  }
  if (s.log_count > 0 && s.log_every_seconds <= 0) {
    return InvalidArgument("TUG_SIM: log_count needs log_every=SECONDS");
  }
  if (!run_set && s.log_count > 0) {
    s.run_seconds = std::max(s.run_seconds, s.log_every_seconds * s.log_count);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// spark-submit

namespace {

// spark-submit's options that take a value (SparkSubmitOptionParser), with the conf each one
// stands for ("" : none).
const std::map<std::string_view, std::string_view>& ValueOptions() {
  static const std::map<std::string_view, std::string_view> options = {
      {"--master", "spark.master"},
      {"--deploy-mode", "spark.submit.deployMode"},
      {"--class", ""},
      {"--name", "spark.app.name"},
      {"--jars", "spark.jars"},
      {"--packages", "spark.jars.packages"},
      {"--exclude-packages", "spark.jars.excludes"},
      {"--repositories", "spark.jars.repositories"},
      {"--py-files", "spark.submit.pyFiles"},
      {"--files", "spark.files"},
      {"--archives", "spark.archives"},
      {"--conf", ""},
      {"-c", ""},
      {"--properties-file", ""},
      {"--driver-memory", "spark.driver.memory"},
      {"--driver-java-options", "spark.driver.extraJavaOptions"},
      {"--driver-library-path", "spark.driver.extraLibraryPath"},
      {"--driver-class-path", "spark.driver.extraClassPath"},
      {"--executor-memory", "spark.executor.memory"},
      {"--driver-cores", "spark.driver.cores"},
      {"--total-executor-cores", "spark.cores.max"},
      {"--executor-cores", "spark.executor.cores"},
      {"--num-executors", "spark.executor.instances"},
      {"--queue", "spark.yarn.queue"},
      {"--principal", "spark.kerberos.principal"},
      {"--keytab", "spark.kerberos.keytab"},
      {"--proxy-user", ""}};
  return options;
}

bool IsFlagOption(std::string_view opt) {
  return opt == "--verbose" || opt == "-v" || opt == "--supervise";
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<SparkSubmitArgs> ParseSparkSubmit(const std::vector<std::string>& argv) {
  if (argv.empty()) {
    return InvalidArgument(
        "spark-submit: empty command; want [spark-submit, options..., main resource, args...]");
  }
  // The program is argv[0], or (behind a wrapper such as an entrypoint script) the first
  // element that names spark-submit.
  size_t i = 1;
  for (size_t j = 0; j < argv.size() && !argv[j].starts_with("-"); ++j) {
    if (std::string_view(argv[j]).ends_with("spark-submit")) {
      i = j + 1;
      break;
    }
  }
  SparkSubmitArgs a;
  std::map<std::string, std::string> from_options;  // confs the options stand for: they win
  for (; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg.empty() || arg[0] != '-') {
      a.main_resource = arg;
      a.app_args.assign(argv.begin() + static_cast<std::ptrdiff_t>(i) + 1, argv.end());
      break;
    }
    std::string opt = arg;
    std::optional<std::string> value;
    if (size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
      opt = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    if (IsFlagOption(opt)) {
      if (value) return InvalidArgument(fmt::format("spark-submit: '{}' takes no value", opt));
      continue;
    }
    auto it = ValueOptions().find(opt);
    if (it == ValueOptions().end()) {
      return InvalidArgument(fmt::format(
          "spark-submit: unrecognized option '{}'; see spark-submit --help for the options", opt));
    }
    if (!value) {
      if (i + 1 >= argv.size()) {
        return InvalidArgument(fmt::format("spark-submit: option '{}' needs a value", opt));
      }
      value = argv[++i];
    }
    if (opt == "--conf" || opt == "-c") {
      size_t eq = value->find('=');
      if (eq == std::string::npos || eq == 0) {
        return InvalidArgument(fmt::format(
            "spark-submit: --conf '{}' is not KEY=VALUE; write e.g. --conf spark.executor.cores=2",
            *value));
      }
      a.conf[value->substr(0, eq)] = value->substr(eq + 1);
    } else if (opt == "--class") {
      a.main_class = *value;
    } else if (!it->second.empty()) {
      from_options[std::string(it->second)] = *value;
    } else {
      a.options[opt] = *value;
    }
  }
  if (a.main_resource.empty()) {
    return InvalidArgument(
        "spark-submit: no main resource; put the application's jar or .py file after the options");
  }
  for (auto& [k, v] : from_options) a.conf[k] = std::move(v);
  auto conf = [&](const char* key) {
    auto it = a.conf.find(key);
    return it != a.conf.end() ? it->second : std::string();
  };
  a.name = conf("spark.app.name");
  a.master = conf("spark.master");
  a.deploy_mode = conf("spark.submit.deployMode");
  return a;
}

Result<int64_t> ParseSparkMemoryMiB(std::string_view text) {
  std::string t = Lower(Trim(text));
  auto bad = [&] {
    return InvalidArgument(
        fmt::format("spark memory '{}': want a size like 512m, 2g or 1024 (MiB)", text));
  };
  size_t digits = 0;
  while (digits < t.size() && t[digits] >= '0' && t[digits] <= '9') ++digits;
  int64_t n = 0;
  if (digits == 0 || !ParseInt(std::string_view(t).substr(0, digits), &n)) return bad();
  static const std::map<std::string_view, int> shifts = {
      {"", 20},  {"b", 0},   {"k", 10}, {"kb", 10}, {"m", 20}, {"mb", 20},
      {"g", 30}, {"gb", 30}, {"t", 40}, {"tb", 40}, {"p", 50}, {"pb", 50}};
  auto unit = shifts.find(std::string_view(t).substr(digits));
  if (unit == shifts.end()) return bad();
  if (unit->second < 20) return n >> (20 - unit->second);
  int up = unit->second - 20;
  if (n > (std::numeric_limits<int64_t>::max() >> (up + 20))) return bad();  // bytes overflow
  return n << up;
}

namespace {

using Conf = std::map<std::string, std::string>;

constexpr char kSparkVersion[] = "3.5.0";
constexpr char kComponentLabel[] = "tugboat.io/component";
constexpr char kConfVolume[] = "spark-conf-volume-driver";
constexpr char kConfDir[] = "/opt/spark/conf";
constexpr char kPropertiesKey[] = "spark.properties";
constexpr char kDriverContainer[] = "spark-kubernetes-driver";
constexpr char kExecutorContainer[] = "spark-kubernetes-executor";
constexpr int64_t kMinOverheadMiB = 384;
constexpr int kMaxExecutors = 200;
// After a lost executor the job fails once its task has failed 4 times; the retries are quick.
constexpr auto kAbortDelay = 500ms;
// The controller double-checks a driver its informer never showed this often.
constexpr auto kDriverRecheck = 10s;

std::string ConfOr(const Conf& c, const std::string& key, const std::string& fallback) {
  auto it = c.find(key);
  return it != c.end() ? it->second : fallback;
}

// The confs under a prefix, keyed by the rest of their key.
std::map<std::string, std::string> ConfUnder(const Conf& c, const std::string& prefix) {
  std::map<std::string, std::string> out;
  for (auto it = c.lower_bound(prefix); it != c.end() && it->first.starts_with(prefix); ++it) {
    if (it->first.size() > prefix.size()) out[it->first.substr(prefix.size())] = it->second;
  }
  return out;
}

uint64_t Fnv64(std::string_view s, uint64_t basis = 14695981039346656037ULL) {
  uint64_t h = basis;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

// "spark-" + 32 hex digits, like Spark's own ids: the controller's uid without dashes (it is a
// UUID), so a restarted simulator derives the same id for the same controller pod.
std::string AppIdFor(std::string_view controller_uid) {
  std::string hex;
  for (char c : controller_uid) {
    if (c != '-') hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  bool is_hex = hex.size() == 32 &&
                std::all_of(hex.begin(), hex.end(), [](char c) { return HexValue(c) >= 0; });
  if (!is_hex) {
    hex = fmt::format("{:016x}{:016x}", Fnv64(controller_uid), Fnv64(controller_uid, 7));
  }
  return "spark-" + hex;
}

// Spark's KubernetesConf.getAppNameLabel: lower case, [^a-z0-9-] → '-', runs of '-' collapsed,
// cut to 63, one leading and one trailing '-' stripped.
std::string AppNameLabel(std::string_view name) {
  std::string out;
  for (char c : Lower(Trim(name))) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    char d = ok ? c : '-';
    if (d == '-' && !out.empty() && out.back() == '-') continue;
    out.push_back(d);
  }
  if (out.size() > 63) out.resize(63);
  if (!out.empty() && out.front() == '-') out.erase(0, 1);
  if (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

// Spark's getResourceNamePrefix ("<app name>-<16 hex>", DNS-safe), with the hex taken from the
// app id so it is stable.
std::string ResourcePrefix(std::string_view name, std::string_view app_id) {
  std::string base = AppNameLabel(name);
  if (base.size() > 40) base.resize(40);
  while (!base.empty() && base.back() == '-') base.pop_back();
  if (base.empty() || (base[0] >= '0' && base[0] <= '9')) base = "x" + base;
  return fmt::format("{}-{:016x}", base, Fnv64(app_id));
}

// Spark's ExecutorPodsLifecycleManager.describeExitCode.
std::string DescribeExitCode(int code) {
  std::string_view human;
  switch (code) {
    case 0:
      human = "(success)";
      break;
    case 1:
      human = "(generic, look at logs to clarify)";
      break;
    case 42:
      human = "(douglas adams)";
      break;
    case 10:
    case 50:
      human = "(Uncaught exception)";
      break;
    case 52:
      human = "(JVM OOM)";
      break;
    case 53:
      human = "(DiskStore failed to create temp dir)";
      break;
    case 126:
      human = "(not executable - possibly perm or arch)";
      break;
    case 137:
      human = "(SIGKILL, possible container OOM)";
      break;
    case 139:
      human = "(SIGSEGV: that's a seg fault)";
      break;
    case 255:
      human = "(exit-1, your guess is as good as mine)";
      break;
    default:
      human = "(unexplained)";
      break;
  }
  return fmt::format("{}{}", code, human);
}

// A line as Spark's log4j2 layout writes it: "yy/MM/dd HH:mm:ss LEVEL Logger: message" (UTC).
std::string SparkLine(std::string_view level, std::string_view logger, std::string_view message) {
  auto tt = SysClock::to_time_t(SysClock::now());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%y/%m/%d %H:%M:%S", &tm);
  return fmt::format("{} {} {}: {}", stamp, level, logger, message);
}

// A Spark time string in milliseconds ("30s", "500ms", "2min", "1h"; bare numbers are ms).
std::optional<int64_t> ParseSparkTimeMs(std::string_view text) {
  std::string t = Lower(Trim(text));
  size_t digits = 0;
  while (digits < t.size() && t[digits] >= '0' && t[digits] <= '9') ++digits;
  int64_t n = 0;
  if (digits == 0 || !ParseInt(std::string_view(t).substr(0, digits), &n)) return std::nullopt;
  static const std::map<std::string_view, double> ms_per_unit = {
      {"", 1},       {"ms", 1},       {"us", 0.001},    {"s", 1000},
      {"m", 60'000}, {"min", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
  auto unit = ms_per_unit.find(std::string_view(t).substr(digits));
  if (unit == ms_per_unit.end()) return std::nullopt;
  return static_cast<int64_t>(static_cast<double>(n) * unit->second);
}

// java.util.Properties text, escaped enough to read back with ParseProperties.
std::string PropertiesText(const Conf& conf) {
  auto escape = [](std::string_view s, bool key) {
    std::string out;
    for (char c : s) {
      if (c == '\\') {
        out += "\\\\";
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\r') {
        out += "\\r";
      } else if (key && (c == '=' || c == ':' || c == ' ')) {
        out.push_back('\\');
        out.push_back(c);
      } else {
        out.push_back(c);
      }
    }
    return out;
  };
  std::string out = "#Java properties built by the tugboat node simulator\n";
  for (const auto& [k, v] : conf) out += escape(k, true) + "=" + escape(v, false) + "\n";
  return out;
}

Conf ParseProperties(std::string_view text) {
  Conf out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty() || line[0] == '#' || line[0] == '!') continue;
    std::string key;
    std::string value;
    bool in_key = true;
    for (size_t i = 0; i < line.size(); ++i) {
      char c = line[i];
      if (c == '\\' && i + 1 < line.size()) {
        char n = line[++i];
        c = n == 'n' ? '\n' : n == 'r' ? '\r' : n;
      } else if (in_key && c == '=') {
        in_key = false;
        continue;
      }
      (in_key ? key : value).push_back(c);
    }
    if (!key.empty()) out[key] = value;
  }
  return out;
}

// One Spark application as spark-submit resolves it and its driver reads it back.
struct SparkApp {
  std::string name;             // spark.app.name
  std::string id;               // spark-app-selector
  std::string driver_pod;       // spark.kubernetes.driver.pod.name
  std::string executor_prefix;  // spark.kubernetes.executor.podNamePrefix
  std::string main_class;
  std::string main_resource;
  std::vector<std::string> app_args;
  Conf conf;  // what the driver gets in spark.properties
};

// Requests = limits memory of a "driver" or "executor" pod: memory + overhead, in MiB.
Result<int64_t> PodMemoryMiB(const Conf& c, const std::string& role) {
  ASSIGN_OR_RETURN(int64_t memory,
                   ParseSparkMemoryMiB(ConfOr(c, "spark." + role + ".memory", "1g")));
  std::string overhead_key = "spark." + role + ".memoryOverhead";
  if (auto it = c.find(overhead_key); it != c.end()) {
    auto overhead = ParseSparkMemoryMiB(it->second);
    if (!overhead.ok()) return std::move(overhead).take_error().WithContext(overhead_key);
    return memory + *overhead;
  }
  std::string factor_text = ConfOr(c, "spark." + role + ".memoryOverheadFactor",
                                   ConfOr(c, "spark.kubernetes.memoryOverheadFactor", "0.1"));
  double factor = 0;
  if (!ParseDouble(factor_text, &factor)) {
    return InvalidArgument(
        fmt::format("memory overhead factor '{}': want a number like 0.1", factor_text));
  }
  return memory +
         std::max(kMinOverheadMiB, static_cast<int64_t>(factor * static_cast<double>(memory)));
}

struct Cpu {
  std::string request;
  std::string limit;  // "" : none
};

// spark.kubernetes.<role>.request.cores, else spark.<role>.cores (default 1); limit from
// spark.kubernetes.<role>.limit.cores.
Result<Cpu> PodCpu(const Conf& c, const std::string& role) {
  Cpu cpu;
  cpu.request = ConfOr(c, "spark.kubernetes." + role + ".request.cores",
                       ConfOr(c, "spark." + role + ".cores", "1"));
  cpu.limit = ConfOr(c, "spark.kubernetes." + role + ".limit.cores", "");
  for (const std::string* q : {&cpu.request, &cpu.limit}) {
    if (q == &cpu.limit && q->empty()) continue;
    if (!ParseCpu(*q).ok()) {
      return InvalidArgument(
          fmt::format("{} cores '{}': want a cpu quantity like 1 or 500m", role, *q));
    }
  }
  return cpu;
}

Result<int> ExecutorCount(const Conf& c) {
  auto number = [&](const std::string& key) -> Result<std::optional<int64_t>> {
    auto it = c.find(key);
    if (it == c.end()) return std::optional<int64_t>();
    int64_t n = 0;
    if (!ParseInt(Trim(it->second), &n) || n < 0 || n > kMaxExecutors) {
      return InvalidArgument(
          fmt::format("{} '{}': want a count 0..{}", key, it->second, kMaxExecutors));
    }
    return std::optional<int64_t>(n);
  };
  if (Lower(Trim(ConfOr(c, "spark.dynamicAllocation.enabled", "false"))) == "true") {
    for (const char* key : {"spark.dynamicAllocation.initialExecutors",
                            "spark.dynamicAllocation.minExecutors", "spark.executor.instances"}) {
      ASSIGN_OR_RETURN(std::optional<int64_t> n, number(key));
      if (n) return static_cast<int>(std::max<int64_t>(1, *n));
    }
    return 1;
  }
  ASSIGN_OR_RETURN(std::optional<int64_t> n, number("spark.executor.instances"));
  return static_cast<int>(n.value_or(2));
}

std::string ImageOf(const Conf& c, const std::string& role) {
  return ConfOr(c, "spark.kubernetes." + role + ".container.image",
                ConfOr(c, "spark.kubernetes.container.image", ""));
}

// What spark-submit resolves from its command line before creating anything; the errors are
// the ones it would print (kInvalidArgument).
Result<SparkApp> PlanSparkApp(const SparkSubmitArgs& a, std::string_view controller_uid) {
  if (a.deploy_mode == "client") {
    return InvalidArgument(
        "the node simulator plays spark-submit in cluster mode only; pass --deploy-mode cluster");
  }
  SparkApp app;
  app.conf = a.conf;
  app.main_class = a.main_class;
  app.main_resource = a.main_resource;
  app.app_args = a.app_args;
  app.name = a.name;
  if (app.name.empty()) {
    // As spark-submit: the main class, else the main resource's file name.
    app.name = !a.main_class.empty()
                   ? a.main_class
                   : a.main_resource.substr(a.main_resource.find_last_of('/') + 1);
  }
  app.id = ConfOr(a.conf, "spark.app.id", AppIdFor(controller_uid));
  app.driver_pod = ConfOr(a.conf, "spark.kubernetes.driver.pod.name",
                          ResourcePrefix(app.name, app.id) + "-driver");
  std::string prefix = app.driver_pod;
  if (prefix.ends_with("-driver")) prefix.resize(prefix.size() - 7);
  app.executor_prefix = ConfOr(a.conf, "spark.kubernetes.executor.podNamePrefix", prefix);
  for (const char* role : {"driver", "executor"}) {
    if (ImageOf(a.conf, role).empty()) {
      return InvalidArgument(fmt::format(
          "Must specify the {} container image; set spark.kubernetes.container.image", role));
    }
    RETURN_IF_ERROR(PodMemoryMiB(a.conf, role));
    RETURN_IF_ERROR(PodCpu(a.conf, role));
  }
  RETURN_IF_ERROR(ExecutorCount(a.conf));
  app.conf["spark.app.name"] = app.name;
  app.conf["spark.app.id"] = app.id;
  app.conf["spark.submit.deployMode"] = "cluster";
  app.conf["spark.kubernetes.submitInDriver"] = "true";
  app.conf["spark.kubernetes.driver.pod.name"] = app.driver_pod;
  app.conf["spark.kubernetes.executor.podNamePrefix"] = app.executor_prefix;
  return app;
}

// The driver's view: its spark.properties and its own pod.
SparkApp AppFromProperties(Conf conf, const std::string& driver_pod,
                           const std::map<std::string, std::string>& labels) {
  SparkApp app;
  app.name = ConfOr(conf, "spark.app.name", driver_pod);
  auto selector = labels.find("spark-app-selector");
  app.id = ConfOr(conf, "spark.app.id", selector != labels.end() ? selector->second : "");
  app.driver_pod = driver_pod;
  std::string prefix = driver_pod;
  if (prefix.ends_with("-driver")) prefix.resize(prefix.size() - 7);
  app.executor_prefix = ConfOr(conf, "spark.kubernetes.executor.podNamePrefix", prefix);
  app.conf = std::move(conf);
  return app;
}

std::string ConfMapName(const SparkApp& app) {
  return fmt::format("spark-drv-{:016x}-conf-map", Fnv64(app.id));
}

json::object ObjectOf(const std::map<std::string, std::string>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

json::array EnvOf(const std::map<std::string, std::string>& m) {
  json::array a;
  for (const auto& [k, v] : m) a.push_back(json::object{{"name", k}, {"value", v}});
  return a;
}

int PortConf(const Conf& c, const std::string& key, int fallback) {
  int64_t n = 0;
  auto it = c.find(key);
  if (it == c.end() || !ParseInt(Trim(it->second), &n) || n <= 0 || n > 65535) return fallback;
  return static_cast<int>(n);
}

// The parts driver and executor pods share: labels over the user's, annotations, node selector
// (the general one, then the role's), image, resources, service account.
json::object SparkPod(const SparkApp& app, const std::string& ns, const std::string& role,
                      const std::string& name,
                      const std::map<std::string, std::string>& preset_labels,
                      json::object container) {
  const Conf& c = app.conf;
  std::string k8s = "spark.kubernetes." + role + ".";
  std::map<std::string, std::string> labels = ConfUnder(c, k8s + "label.");
  for (const auto& [k, v] : preset_labels) labels[k] = v;  // Spark's own labels win
  std::map<std::string, std::string> selector = ConfUnder(c, "spark.kubernetes.node.selector.");
  for (auto& [k, v] : ConfUnder(c, k8s + "node.selector.")) selector[k] = std::move(v);
  // Both were checked by PlanSparkApp; a driver reading a hand-made spark.properties falls back
  // to Spark's defaults.
  auto memory_mib = PodMemoryMiB(c, role);
  int64_t memory = memory_mib.ok() ? *memory_mib : 1024 + kMinOverheadMiB;
  auto cpu_parsed = PodCpu(c, role);
  Cpu cpu = cpu_parsed.ok() ? *cpu_parsed : Cpu{"1", ""};
  json::object requests{{"cpu", cpu.request}, {"memory", fmt::format("{}Mi", memory)}};
  json::object limits{{"memory", fmt::format("{}Mi", memory)}};
  if (!cpu.limit.empty()) limits["cpu"] = cpu.limit;
  container["image"] = ImageOf(c, role);
  container["imagePullPolicy"] =
      ConfOr(c, "spark.kubernetes.container.image.pullPolicy", "IfNotPresent");
  container["resources"] = json::object{{"requests", requests}, {"limits", limits}};
  json::object metadata{{"name", name}, {"namespace", ns}, {"labels", ObjectOf(labels)}};
  std::map<std::string, std::string> annotations = ConfUnder(c, k8s + "annotation.");
  if (!annotations.empty()) metadata["annotations"] = ObjectOf(annotations);
  json::object spec{{"restartPolicy", "Never"}, {"containers", json::array{std::move(container)}}};
  if (!selector.empty()) spec["nodeSelector"] = ObjectOf(selector);
  std::string driver_sa = ConfOr(c, "spark.kubernetes.authenticate.driver.serviceAccountName", "");
  std::string sa = role == "driver" ? driver_sa
                                    : ConfOr(c,
                                             "spark.kubernetes.authenticate.executor."
                                             "serviceAccountName",
                                             driver_sa);
  if (!sa.empty()) spec["serviceAccountName"] = sa;
  json::array secrets;
  std::string secrets_text = ConfOr(c, "spark.kubernetes.container.image.pullSecrets", "");
  for (std::string_view s = secrets_text; !s.empty();) {
    size_t comma = s.find(',');
    std::string_view item = Trim(s.substr(0, comma));
    if (!item.empty()) secrets.push_back(json::object{{"name", item}});
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
  }
  if (!secrets.empty()) spec["imagePullSecrets"] = std::move(secrets);
  return json::object{{"apiVersion", "v1"},
                      {"kind", "Pod"},
                      {"metadata", std::move(metadata)},
                      {"spec", std::move(spec)}};
}

std::map<std::string, std::string> BaseLabels(const SparkApp& app) {
  return {{"spark-app-selector", app.id},
          {"spark-app-name", AppNameLabel(app.name)},
          {"spark-version", kSparkVersion}};
}

json::object DriverPod(const SparkApp& app, const std::string& ns) {
  const Conf& c = app.conf;
  std::map<std::string, std::string> env = ConfUnder(c, "spark.kubernetes.driverEnv.");
  env["SPARK_APPLICATION_ID"] = app.id;
  env["SPARK_CONF_DIR"] = kConfDir;
  json::array args{"driver", "--properties-file", std::string(kConfDir) + "/" + kPropertiesKey};
  if (!app.main_class.empty()) {
    args.push_back("--class");
    args.push_back(json::value(app.main_class));
  }
  args.push_back(json::value(app.main_resource));
  for (const auto& a : app.app_args) args.push_back(json::value(a));
  json::array ports{
      json::object{{"name", "driver-rpc-port"},
                   {"containerPort", PortConf(c, "spark.driver.port", 7078)},
                   {"protocol", "TCP"}},
      json::object{{"name", "blockmanager"},
                   {"containerPort", PortConf(c, "spark.driver.blockManager.port", 7079)},
                   {"protocol", "TCP"}},
      json::object{{"name", "spark-ui"},
                   {"containerPort", PortConf(c, "spark.ui.port", 4040)},
                   {"protocol", "TCP"}}};
  json::object container{
      {"name", kDriverContainer},
      {"args", std::move(args)},
      {"ports", std::move(ports)},
      {"env", EnvOf(env)},
      {"volumeMounts", json::array{json::object{{"name", kConfVolume}, {"mountPath", kConfDir}}}}};
  std::map<std::string, std::string> labels = BaseLabels(app);
  labels["spark-role"] = "driver";
  json::object pod = SparkPod(app, ns, "driver", app.driver_pod, labels, container);
  pod["spec"].as_object()["volumes"] = json::array{json::object{
      {"name", kConfVolume},
      {"configMap", json::object{{"name", ConfMapName(app)},
                                 {"items", json::array{json::object{{"key", kPropertiesKey},
                                                                    {"path", kPropertiesKey},
                                                                    {"mode", 420}}}}}}}};
  return pod;
}

std::string ExecutorName(const SparkApp& app, int n) {
  return fmt::format("{}-exec-{}", app.executor_prefix, n);
}

json::object ExecutorPod(const SparkApp& app, const std::string& ns, int n) {
  const Conf& c = app.conf;
  std::string name = ExecutorName(app, n);
  std::map<std::string, std::string> env = ConfUnder(c, "spark.executorEnv.");
  auto heap_mib = ParseSparkMemoryMiB(ConfOr(c, "spark.executor.memory", "1g"));
  int64_t heap = heap_mib.ok() ? *heap_mib : 1024;
  env["SPARK_DRIVER_URL"] = fmt::format("spark://CoarseGrainedScheduler@{}-svc.{}.svc:{}",
                                        app.driver_pod, ns, PortConf(c, "spark.driver.port", 7078));
  env["SPARK_EXECUTOR_CORES"] = ConfOr(c, "spark.executor.cores", "1");
  env["SPARK_EXECUTOR_MEMORY"] = fmt::format("{}m", heap);
  env["SPARK_APPLICATION_ID"] = app.id;
  env["SPARK_EXECUTOR_ID"] = std::to_string(n);
  env["SPARK_RESOURCE_PROFILE_ID"] = "0";
  env["SPARK_EXECUTOR_POD_NAME"] = name;
  env.erase("TUG_SIM");
  auto script = c.find(fmt::format("spark.executorEnv.TUG_SIM_EXEC_{}", n));
  if (script == c.end()) script = c.find("spark.executorEnv.TUG_SIM");
  if (script != c.end()) env["TUG_SIM"] = script->second;
  json::object container{
      {"name", kExecutorContainer}, {"args", json::array{"executor"}}, {"env", EnvOf(env)}};
  std::map<std::string, std::string> labels = BaseLabels(app);
  labels["spark-role"] = "executor";
  labels["spark-exec-id"] = std::to_string(n);
  labels["spark-exec-resourceprofile-id"] = "0";
  return SparkPod(app, ns, "executor", name, labels, std::move(container));
}

// The driver's state as spark-submit's LoggingPodStatusWatcherImpl prints it (on one line).
std::string DriverState(const json::value& pod) {
  auto or_na = [](const std::string& s) { return s.empty() ? std::string("N/A") : s; };
  std::string labels;
  const json::value* l = Find(pod, {"metadata", "labels"});
  if (l != nullptr && l->is_object()) {
    for (const auto& [k, v] : l->get_object()) {
      if (!labels.empty()) labels += ", ";
      labels += fmt::format("{} -> {}", std::string_view(k),
                            v.is_string() ? std::string_view(v.get_string()) : "");
    }
  }
  std::string volumes;
  const json::value* vs = Find(pod, {"spec", "volumes"});
  if (vs != nullptr && vs->is_array()) {
    for (const json::value& v : vs->get_array())
      volumes += (volumes.empty() ? "" : ", ") + Str(v, {"name"});
  }
  std::string container = "N/A";
  const json::value* cs = Find(pod, {"status", "containerStatuses"});
  if (cs != nullptr && cs->is_array() && !cs->get_array().empty()) {
    const json::value& c = cs->get_array()[0];
    if (Find(c, {"state", "running"}) != nullptr) {
      container = "running";
    } else if (const json::value* t = Find(c, {"state", "terminated"}); t != nullptr) {
      container = fmt::format("terminated, exit code: {}, reason: {}",
                              Int(Find(*t, {"exitCode"})).value_or(0), Str(*t, {"reason"}));
    } else if (Find(c, {"state", "waiting"}) != nullptr) {
      container = "waiting, reason: " + Str(c, {"state", "waiting", "reason"});
    }
  }
  return fmt::format(
      "pod name: {}, namespace: {}, labels: {}, pod uid: {}, creation time: {}, service account "
      "name: {}, volumes: {}, node name: {}, start time: {}, phase: {}, container status: {}",
      Str(pod, {"metadata", "name"}), Str(pod, {"metadata", "namespace"}), or_na(labels),
      Str(pod, {"metadata", "uid"}), or_na(Str(pod, {"metadata", "creationTimestamp"})),
      or_na(Str(pod, {"spec", "serviceAccountName"})), or_na(volumes),
      or_na(Str(pod, {"spec", "nodeName"})), or_na(Str(pod, {"status", "startTime"})),
      or_na(Str(pod, {"status", "phase"})), container);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// NodeSimulator

class NodeSimulator::Impl {
 public:
  Impl(kube::Client& client, std::string ns, std::string cert_dir, std::string capacity_label)
      : client_(client),
        ns_(std::move(ns)),
        cert_dir_(std::move(cert_dir)),
        capacity_label_(std::move(capacity_label)),
        rng_(std::random_device{}()) {}
  ~Impl() { Stop(); }

  Status Start();
  void Stop();
  Status AddNode(const SimNode& node);
  Status RemoveNode(const std::string& name);

  std::string NodeOf(const std::string& pod) const {
    std::lock_guard lock(mu_);
    auto it = node_of_.find(pod);
    return it != node_of_.end() ? it->second : std::string();
  }
  int Bindings(const std::string& pod) const {
    std::lock_guard lock(mu_);
    auto it = bindings_.find(pod);
    return it != bindings_.end() ? it->second : 0;
  }
  int64_t PodsCreatedSeen() const {
    std::lock_guard lock(mu_);
    return static_cast<int64_t>(seen_uids_.size());
  }
  int port() const { return port_.load(); }
  void SetPodIP(std::string ip) {
    std::lock_guard lock(mu_);
    pod_ip_ = std::move(ip);
  }

 private:
  // One simulated pod (its container) on one of our nodes; RunWorker runs on `thread`.
  struct Worker {
    PodFacts facts;
    bool deletion_requested = false;  // guarded by mu_: the pod got a deletionTimestamp
    bool gone = false;                // guarded by mu_: the pod was deleted, or its node removed
    std::atomic<bool> done{false};
    std::thread thread;  // assigned and joined by the sync thread
  };
  enum class Wake { kTimeout, kDeletion, kGone };
  // How a container's run ended (kGone: nobody reports it: the pod or its node is gone, or the
  // simulator is stopping).
  enum class Outcome { kExited, kDeleted, kDeadline, kGone };
  struct RunEnd {
    Outcome outcome = Outcome::kExited;
    int exit_code = 0;
    bool oom = false;
  };
  enum class SparkRole { kNone, kController, kDriver, kExecutor };
  // One executor as its driver sees it.
  struct ExecutorTrack {
    int id = 0;
    std::string name;
    std::string uid;  // from the POST (or the adopted pod)
    std::string ip = "127.0.0.1";
    bool seen = false;        // the informer showed it
    bool registered = false;  // it was running
    bool lost = false;
    bool finished = false;  // exited 0 on its own
  };
  struct ExecutorLoss {
    int id = 0;
    std::string ip;
    std::string reason;
    bool caused_by_app = true;
  };

  // A pod's container log, kept for the kubelet server. Guarded by logs_mu_.
  struct PodLog {
    std::string uid;
    std::string container;
    std::string waiting_reason;  // non-empty: not started (the kubelet answers 400)
    std::vector<std::pair<SysTime, std::string>> lines;
    bool finished = false;  // the container ended: follow streams end
  };

  struct QueuedEvent {
    json::object body;
    Steady::time_point deadline;
    Steady::time_point next_try;
    std::chrono::milliseconds backoff = kFirstBackoff;
  };

  struct Conn {
    std::thread thread;
    std::atomic<bool> done{false};
    int fd = -1;  // guarded by conns_mu_; -1 once the socket is about to close
  };

  std::string PodPath(const std::string& name) const {
    return "/api/v1/namespaces/" + kube::Escape(ns_) + "/pods/" + kube::Escape(name);
  }
  std::map<std::string, std::string> LabelsOf(const SimNode& n) const {
    std::map<std::string, std::string> labels = {{"kubernetes.io/hostname", n.name},
                                                 {"kubernetes.io/os", "linux"},
                                                 {"kubernetes.io/arch", "amd64"}};
    if (!n.capacity.empty()) labels[capacity_label_] = n.capacity;
    return labels;
  }

  // Informer callbacks (informer thread).
  void OnSync(const std::vector<json::value>& items);
  void OnEvent(const kube::WatchEvent& event);

  // Sync thread: scheduler and the kubelets' pod supervisor.
  void SyncLoop();
  struct Decision {
    std::string node;
    std::string message;  // why nothing fits
  };
  Decision DecideLocked(const json::value& pod) const;
  void Schedule(const json::value& pod);
  void Bind(const json::value& pod, const std::string& node);
  void RetryLaterLocked(const std::string& uid) { bind_retry_at_[uid] = Steady::now() + 1s; }

  // Pod workers.
  static SparkRole RoleOf(const PodFacts& p);
  void RunWorker(Worker& w);
  RunEnd RunScript(Worker& w, PodLog& log, const SimScript& s, bool oom,
                   Steady::time_point run_start, std::optional<Steady::time_point> active_deadline);
  bool Stopping() const {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  // Spark (see the top of kube_sim.h).
  RunEnd Submit(Worker& w, PodLog& log, std::optional<Steady::time_point> active_deadline);
  Status CreateOrReplaceConfMap(Worker& w, const SparkApp& app);
  Result<SparkApp> LoadDriverApp(Worker& w);
  RunEnd RunDriver(Worker& w, PodLog& log, const SimScript& s, const SparkApp& app, bool oom,
                   std::optional<Steady::time_point> active_deadline);
  std::vector<ExecutorTrack> CreateExecutors(Worker& w, PodLog& log, const SparkApp& app);
  std::vector<std::string> PollExecutorsLocked(std::vector<ExecutorTrack>& execs,
                                               std::optional<ExecutorLoss>* last_loss);
  void DeleteExecutors(const SparkApp& app, const std::vector<ExecutorTrack>& execs);
  void RunWaiting(Worker& w, PodLog& log, SysTime pod_start, const std::string& reason,
                  const std::string& message, std::optional<Steady::time_point> active_deadline);
  // With `generation`: also wakes when the pod cache or the nodes changed since *generation
  // (and updates it).
  Wake WaitWorker(const Worker& w, Steady::time_point until, uint64_t* generation = nullptr);
  bool PatchStatus(Worker& w, std::string_view phase, const ContainerState& c, SysTime pod_start,
                   std::string_view reason = {}, std::string_view message = {});
  void ForceDelete(Worker& w);
  void AppendLog(PodLog& log, std::vector<std::string> lines, bool clear_waiting = false);
  void FinishLog(PodLog& log);

  // Retries fn on transient errors with back-off until it succeeds, fails for good, `limit`
  // passes, the simulator stops, or (with a worker) the worker's pod is gone.
  Status Retry(const std::function<Status()>& fn, const Worker* w,
               std::chrono::seconds limit = std::chrono::hours(24));
  bool Sleep(std::chrono::milliseconds d, const Worker* w);

  // Events (their own thread: best effort, never blocks a status update).
  json::object MakeEvent(const PodFacts& p, std::string_view type, std::string_view reason,
                         std::string_view message, std::string_view component,
                         bool container_event);
  void QueueEvent(json::object body);
  void EventLoop();

  // Kubelet HTTPS server.
  Status StartServer();
  void StopServer();
  void AcceptLoop();
  void ServeConnection(tcp::socket socket, Conn* conn);
  bool HandleRequest(ssl::stream<tcp::socket>& stream, const http::request<http::string_body>& req);
  bool ServeLogs(ssl::stream<tcp::socket>& stream, const http::request<http::string_body>& req,
                 const std::string& ns, const std::string& pod, const std::string& container,
                 const std::map<std::string, std::string>& query);

  kube::Client& client_;
  const std::string ns_;
  const std::string cert_dir_;
  const std::string capacity_label_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // any change of the state below, and stopping_
  bool started_ = false;
  bool stopping_ = false;
  bool dirty_ = false;  // something changed: the sync loop runs again
  std::map<std::string, SimNode> nodes_;
  std::map<std::string, json::value> pods_;  // the informer's cache, by name
  uint64_t pods_generation_ = 0;             // bumped on every change of pods_ or nodes_
  std::string pod_ip_ = "127.0.0.1";
  std::set<std::string> seen_uids_;
  std::map<std::string, std::string> node_of_;               // pod name → node
  std::map<std::string, int> bindings_;                      // pod name → bindings made
  std::map<std::string, std::string> bound_;                 // uid → node, bound by us
  std::set<std::string> ambiguous_binds_;                    // uids whose bind had no answer
  std::map<std::string, Steady::time_point> bind_retry_at_;  // uid → next scheduling attempt
  std::set<std::string> unschedulable_reported_;             // uids
  std::set<std::string> handled_;                            // uids a worker was started for
  std::set<std::string> force_deleting_;                     // uids being deleted with grace 0
  std::map<std::string, std::shared_ptr<Worker>> workers_;   // uid → running worker
  std::deque<QueuedEvent> events_;
  std::mt19937_64 rng_;
  std::unique_ptr<kube::Informer> informer_;
  std::thread sync_thread_;
  std::thread event_thread_;

  std::mutex logs_mu_;
  std::condition_variable logs_cv_;
  bool logs_stopping_ = false;
  std::map<std::string, std::shared_ptr<PodLog>> logs_;  // "ns/name" → latest pod's log

  asio::io_context ioc_;  // only owns the sockets: all their I/O is synchronous
  ssl::context tls_{ssl::context::tls_server};
  std::optional<tcp::acceptor> acceptor_;
  std::atomic<int> port_{0};
  std::thread accept_thread_;
  std::mutex conns_mu_;
  bool server_stopping_ = false;  // guarded by conns_mu_
  std::list<std::unique_ptr<Conn>> conns_;
};

Status NodeSimulator::Impl::Start() {
  {
    std::lock_guard lock(mu_);
    if (started_ || stopping_) return FailedPrecondition("the node simulator was already started");
  }
  RETURN_IF_ERROR(StartServer());
  {
    std::lock_guard lock(mu_);
    started_ = true;
  }
  kube::Informer::Handlers handlers;
  handlers.on_sync = [this](const std::vector<json::value>& items) { OnSync(items); };
  handlers.on_event = [this](const kube::WatchEvent& e) { OnEvent(e); };
  handlers.on_error = [](const Error& e) {
    log::Debug("node simulator: pod watch error (retried)", {{"error", e.ToString()}});
  };
  informer_ =
      std::make_unique<kube::Informer>(client_, "/api/v1/namespaces/" + kube::Escape(ns_) + "/pods",
                                       std::map<std::string, std::string>{}, std::move(handlers));
  informer_->Start();
  sync_thread_ = std::thread([this] { SyncLoop(); });
  event_thread_ = std::thread([this] { EventLoop(); });
  return OkStatus();
}

void NodeSimulator::Impl::Stop() {
  {
    std::lock_guard lock(mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  {
    std::lock_guard lock(logs_mu_);
    logs_stopping_ = true;
  }
  logs_cv_.notify_all();
  if (informer_) informer_->Stop();
  if (sync_thread_.joinable()) sync_thread_.join();
  if (event_thread_.joinable()) event_thread_.join();
  // The sync thread no longer touches workers_.
  std::map<std::string, std::shared_ptr<Worker>> workers;
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
  }
  for (auto& [uid, w] : workers) {
    if (w->thread.joinable()) w->thread.join();
  }
  StopServer();
}

void NodeSimulator::Impl::OnSync(const std::vector<json::value>& items) {
  {
    std::lock_guard lock(mu_);
    pods_.clear();
    for (const json::value& pod : items) {
      std::string name = Str(pod, {"metadata", "name"});
      if (name.empty()) continue;
      seen_uids_.insert(Str(pod, {"metadata", "uid"}));
      pods_[name] = pod;
    }
    ++pods_generation_;
    dirty_ = true;
  }
  cv_.notify_all();
}

void NodeSimulator::Impl::OnEvent(const kube::WatchEvent& event) {
  std::string name = Str(event.object, {"metadata", "name"});
  std::string uid = Str(event.object, {"metadata", "uid"});
  if (name.empty()) return;
  {
    std::lock_guard lock(mu_);
    if (event.type == "DELETED") {
      auto it = pods_.find(name);
      if (it != pods_.end() && Str(it->second, {"metadata", "uid"}) == uid) pods_.erase(it);
    } else if (event.type == "ADDED" || event.type == "MODIFIED") {
      seen_uids_.insert(uid);
      pods_[name] = event.object;
    }
    ++pods_generation_;
    dirty_ = true;
  }
  cv_.notify_all();
}

void NodeSimulator::Impl::SyncLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, 500ms, [this] { return stopping_ || dirty_; });
    if (stopping_) break;
    dirty_ = false;

    // Join workers that finished (outside the lock: a finishing worker may still want mu_).
    std::vector<std::shared_ptr<Worker>> finished;
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (it->second->done.load()) {
        finished.push_back(it->second);
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
    if (!finished.empty()) {
      lock.unlock();
      for (auto& w : finished) w->thread.join();
      lock.lock();
      if (stopping_) break;
    }

    std::set<std::string> live_uids;
    std::vector<json::value> to_schedule;
    std::vector<std::pair<std::string, std::string>> to_delete;  // name, uid
    Steady::time_point now = Steady::now();
    bool wake_workers = false;
    for (const auto& [name, pod] : pods_) {
      std::string uid = Str(pod, {"metadata", "uid"});
      live_uids.insert(uid);
      std::string node = Str(pod, {"spec", "nodeName"});
      bool deleting = Deleting(pod);
      if (!node.empty()) {
        node_of_[name] = node;
        auto w = workers_.find(uid);
        if (w != workers_.end()) {
          if (deleting && !w->second->deletion_requested) {
            w->second->deletion_requested = true;
            wake_workers = true;
          }
          continue;
        }
        if (!nodes_.contains(node)) continue;  // not ours, or a dead node: nobody runs it
        if (deleting) {
          // No container running (finished, or never started): the kubelet just confirms.
          if (force_deleting_.insert(uid).second) to_delete.emplace_back(name, uid);
          continue;
        }
        if (handled_.contains(uid) || Terminal(pod)) continue;
        auto worker = std::make_shared<Worker>();
        worker->facts = FactsOf(pod, node);
        worker->facts.ns = ns_;
        worker->facts.pod_ip = pod_ip_;
        handled_.insert(uid);
        workers_[uid] = worker;
        worker->thread = std::thread([this, worker] {
          RunWorker(*worker);
          {
            std::lock_guard worker_lock(mu_);
            dirty_ = true;
          }
          worker->done = true;
          cv_.notify_all();
        });
        continue;
      }
      if (deleting || bound_.contains(uid)) continue;
      std::string scheduler = Str(pod, {"spec", "schedulerName"});
      if (!scheduler.empty() && scheduler != "default-scheduler") continue;
      auto retry = bind_retry_at_.find(uid);
      if (retry != bind_retry_at_.end() && retry->second > now) continue;
      to_schedule.push_back(pod);
    }
    // Pods deleted while nobody watched (relist), or deleted with grace 0: stop simulating.
    for (auto& [uid, w] : workers_) {
      if (!live_uids.contains(uid) && !w->gone) {
        w->gone = true;
        wake_workers = true;
      }
    }
    if (wake_workers) cv_.notify_all();
    if (to_schedule.empty() && to_delete.empty()) continue;

    lock.unlock();
    // Oldest first, as the scheduler's queue does.
    std::stable_sort(to_schedule.begin(), to_schedule.end(), [](const auto& a, const auto& b) {
      return Str(a, {"metadata", "creationTimestamp"}) < Str(b, {"metadata", "creationTimestamp"});
    });
    for (const json::value& pod : to_schedule) Schedule(pod);
    for (const auto& [name, uid] : to_delete) {
      auto r = client_.Delete(PodPath(name), 0);
      if (!r.ok() && r.error().code() != Code::kNotFound) {
        std::lock_guard retry_lock(mu_);
        force_deleting_.erase(uid);  // the next pass tries again
      }
    }
    lock.lock();
  }
}

NodeSimulator::Impl::Decision NodeSimulator::Impl::DecideLocked(const json::value& pod) const {
  if (nodes_.empty()) return {"", "no nodes available to schedule pods"};
  struct Usage {
    int64_t pods = 0;
    int64_t cpu = 0;
    int64_t memory = 0;
  };
  std::map<std::string, Usage> usage;
  for (const auto& [name, p] : pods_) {
    if (Terminal(p)) continue;
    std::string node = Str(p, {"spec", "nodeName"});
    if (node.empty()) {
      auto it = bound_.find(Str(p, {"metadata", "uid"}));
      if (it != bound_.end()) node = it->second;
    }
    if (node.empty() || !nodes_.contains(node)) continue;
    Requests r = RequestsOf(p);
    Usage& u = usage[node];
    ++u.pods;
    u.cpu += r.cpu;
    u.memory += r.memory;
  }
  Requests want = RequestsOf(pod);
  std::map<std::string, int> reasons;
  std::string best;
  int64_t best_pods = -1;
  for (const auto& [name, node] : nodes_) {
    if (!AffinityMatches(pod, name, LabelsOf(node))) {
      ++reasons[kAffinityMismatch];
      continue;
    }
    const Usage& u = usage[name];
    bool fits = true;
    if (u.pods + 1 > kMaxPodsPerNode) {
      ++reasons["Too many pods"];
      fits = false;
    }
    if (want.cpu > 0 && u.cpu + want.cpu > node.cpu_millis) {
      ++reasons["Insufficient cpu"];
      fits = false;
    }
    if (want.memory > 0 && u.memory + want.memory > node.memory_bytes) {
      ++reasons["Insufficient memory"];
      fits = false;
    }
    // Most pods wins (pack nodes, like MostAllocated); ties go to the first name.
    if (fits && u.pods > best_pods) {
      best = name;
      best_pods = u.pods;
    }
  }
  if (!best.empty()) return {best, ""};
  std::vector<std::string> parts;
  for (const auto& [reason, count] : reasons) parts.push_back(fmt::format("{} {}", count, reason));
  std::sort(parts.begin(), parts.end());
  std::string joined;
  for (const auto& p : parts) joined += (joined.empty() ? "" : ", ") + p;
  return {"", fmt::format("0/{} nodes are available: {}.", nodes_.size(), joined)};
}

void NodeSimulator::Impl::Schedule(const json::value& pod) {
  std::string name = Str(pod, {"metadata", "name"});
  std::string uid = Str(pod, {"metadata", "uid"});
  Decision d;
  {
    std::lock_guard lock(mu_);
    d = DecideLocked(pod);
    if (d.node.empty() && unschedulable_reported_.contains(uid)) return;
  }
  if (!d.node.empty()) {
    Bind(pod, d.node);
    return;
  }
  json::object body{
      {"status",
       json::object{{"conditions", json::array{Condition("PodScheduled", false, SysClock::now(),
                                                         "Unschedulable", d.message)}}}}};
  auto r = client_.Patch(PodPath(name) + "/status", body);
  if (!r.ok()) {
    if (r.error().code() == Code::kNotFound) return;
    std::lock_guard lock(mu_);
    RetryLaterLocked(uid);
    return;
  }
  {
    std::lock_guard lock(mu_);
    unschedulable_reported_.insert(uid);
  }
  PodFacts facts = FactsOf(pod, "");
  facts.ns = ns_;
  QueueEvent(
      MakeEvent(facts, "Warning", "FailedScheduling", d.message, "default-scheduler", false));
}

void NodeSimulator::Impl::Bind(const json::value& pod, const std::string& node) {
  std::string name = Str(pod, {"metadata", "name"});
  std::string uid = Str(pod, {"metadata", "uid"});
  // metadata.uid makes the API server refuse to bind a newer pod of the same name.
  json::object body{
      {"apiVersion", "v1"},
      {"kind", "Binding"},
      {"metadata", json::object{{"name", name}, {"uid", uid}}},
      {"target", json::object{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}}};
  auto r = client_.Post(PodPath(name) + "/binding", body);
  std::string bound_to = node;
  if (!r.ok()) {
    Code code = r.error().code();
    if (code == Code::kNotFound) return;  // deleted meanwhile
    if (Transient(r.error())) {
      // The request may have reached the API server before it went away.
      std::lock_guard lock(mu_);
      ambiguous_binds_.insert(uid);
      RetryLaterLocked(uid);
      return;
    }
    // 409 "already assigned": by an earlier attempt of ours whose answer was lost, or by
    // someone else. Either way stop trying; count it only if it was ours.
    auto current = client_.Get(PodPath(name));
    std::lock_guard lock(mu_);
    if (!current.ok() || Str(*current, {"metadata", "uid"}) != uid ||
        Str(*current, {"spec", "nodeName"}).empty()) {
      RetryLaterLocked(uid);
      return;
    }
    bound_to = Str(*current, {"spec", "nodeName"});
    bound_[uid] = bound_to;
    node_of_[name] = bound_to;
    if (!ambiguous_binds_.contains(uid)) return;
  }
  {
    std::lock_guard lock(mu_);
    bound_[uid] = bound_to;
    ++bindings_[name];
    node_of_[name] = bound_to;
    dirty_ = true;
  }
  cv_.notify_all();
  PodFacts facts = FactsOf(pod, bound_to);
  facts.ns = ns_;
  QueueEvent(MakeEvent(facts, "Normal", "Scheduled",
                       fmt::format("Successfully assigned {}/{} to {}", ns_, name, bound_to),
                       "default-scheduler", false));
}

// ---- pod workers ----

NodeSimulator::Impl::SparkRole NodeSimulator::Impl::RoleOf(const PodFacts& p) {
  auto label = [&](const char* key) {
    auto it = p.labels.find(key);
    return it != p.labels.end() ? it->second : std::string();
  };
  if (label(kComponentLabel) == "controller") return SparkRole::kController;
  // Only pods this simulator's spark-submit made: someone else's spark-role pod is a plain pod.
  std::string role = label("spark-role");
  if (role == "driver" && !p.conf_map.empty()) return SparkRole::kDriver;
  if (role == "executor" && p.env.contains("SPARK_EXECUTOR_ID")) return SparkRole::kExecutor;
  return SparkRole::kNone;
}

void NodeSimulator::Impl::RunWorker(Worker& w) {
  const PodFacts& p = w.facts;
  auto log = std::make_shared<PodLog>();
  log->uid = p.uid;
  log->container = p.container;
  log->waiting_reason = "ContainerCreating";
  {
    std::lock_guard lock(logs_mu_);
    logs_[p.ns + "/" + p.name] = log;
  }
  SysTime pod_start = SysClock::now();
  std::optional<Steady::time_point> active_deadline;
  if (p.active_deadline_seconds) {
    active_deadline = Steady::now() + std::chrono::seconds(*p.active_deadline_seconds);
  }

  SparkRole role = RoleOf(p);
  // A real executor runs until its driver deletes it.
  Result<SimScript> parsed =
      ParseSimScript(role == SparkRole::kExecutor && !p.has_sim ? "hang" : p.sim);
  if (!parsed.ok()) {
    RunWaiting(w, *log, pod_start, "CreateContainerConfigError", parsed.error().message(),
               active_deadline);
    return;
  }
  const SimScript& s = *parsed;
  if (s.waiting) {
    RunWaiting(w, *log, pod_start, s.waiting->first, s.waiting->second, active_deadline);
    return;
  }

  ContainerState state;
  state.reason = "ContainerCreating";
  if (!PatchStatus(w, "Pending", state, pod_start)) return FinishLog(*log);
  std::optional<SparkApp> app;
  if (role == SparkRole::kDriver) {
    // The kubelet mounts the driver's spark.properties before the container starts.
    Result<SparkApp> loaded = LoadDriverApp(w);
    if (!loaded.ok()) {
      if (loaded.error().code() == Code::kCancelled) return FinishLog(*log);
      RunWaiting(w, *log, pod_start, "ContainerCreating", loaded.error().message(),
                 active_deadline);
      return;
    }
    app = std::move(*loaded);
  }
  QueueEvent(MakeEvent(p, "Normal", "Pulled",
                       fmt::format("Container image \"{}\" already present on machine", p.image),
                       "kubelet", true));
  QueueEvent(
      MakeEvent(p, "Normal", "Created", "Created container " + p.container, "kubelet", true));

  bool oom = s.oom_below_bytes && p.memory_limit && *p.memory_limit < *s.oom_below_bytes;
  state.kind = ContainerState::Kind::kRunning;
  state.reason.clear();
  state.started = SysClock::now();
  Steady::time_point run_start = Steady::now();
  std::vector<std::string> first_lines;
  if (role == SparkRole::kDriver) {
    int ui_port = PortConf(app->conf, "spark.ui.port", 4040);
    first_lines = {
        SparkLine("INFO", "SparkContext", fmt::format("Running Spark version {}", kSparkVersion)),
        SparkLine("INFO", "SparkContext", "Submitted application: " + app->name),
        SparkLine("INFO", "Utils",
                  fmt::format("Successfully started service 'SparkUI' on port {}.", ui_port)),
        SparkLine("INFO", "SparkUI",
                  fmt::format("Bound SparkUI to 0.0.0.0, and started at http://{}:{}", p.pod_ip,
                              ui_port))};
  } else if (role == SparkRole::kExecutor) {
    first_lines = {SparkLine("INFO", "CoarseGrainedExecutorBackend",
                             "Started daemon with process name: 14@" + p.name),
                   SparkLine("INFO", "Executor",
                             fmt::format("Starting executor ID {} on host {}",
                                         p.env.at("SPARK_EXECUTOR_ID"), p.pod_ip))};
  }
  first_lines.insert(first_lines.end(), s.logs.begin(), s.logs.end());
  if (oom) first_lines.emplace_back("allocating...");
  AppendLog(*log, std::move(first_lines), true);
  QueueEvent(
      MakeEvent(p, "Normal", "Started", "Started container " + p.container, "kubelet", true));
  if (!PatchStatus(w, "Running", state, pod_start)) return FinishLog(*log);

  RunEnd end;
  if (role == SparkRole::kDriver) {
    end = RunDriver(w, *log, s, *app, oom, active_deadline);
  } else {
    end = RunScript(w, *log, s, oom, run_start, active_deadline);
    // spark-submit's own start-up went fine: now it submits and waits for the driver.
    if (role == SparkRole::kController && end.outcome == Outcome::kExited && !end.oom &&
        end.exit_code == 0) {
      end = Submit(w, *log, active_deadline);
    }
  }
  if (end.outcome == Outcome::kGone) return FinishLog(*log);

  state.kind = ContainerState::Kind::kTerminated;
  state.finished = SysClock::now();
  std::string phase;
  std::string pod_reason;
  std::string pod_message;
  if (end.outcome == Outcome::kExited) {
    state.exit_code = end.exit_code;
    state.reason = end.oom ? "OOMKilled" : end.exit_code == 0 ? "Completed" : "Error";
    phase = state.exit_code == 0 ? "Succeeded" : "Failed";
  } else {
    // Killed (SIGTERM): the pod was deleted, or outlived activeDeadlineSeconds.
    QueueEvent(
        MakeEvent(p, "Normal", "Killing", "Stopping container " + p.container, "kubelet", true));
    if (role == SparkRole::kExecutor) {
      AppendLog(*log, {SparkLine("ERROR", "CoarseGrainedExecutorBackend", "RECEIVED SIGNAL TERM")});
    }
    state.exit_code = 143;
    state.reason = "Error";
    phase = "Failed";
    if (end.outcome == Outcome::kDeadline) {
      pod_reason = "DeadlineExceeded";
      pod_message = "Pod was active on the node longer than the specified deadline";
      QueueEvent(MakeEvent(p, "Warning", pod_reason, pod_message, "kubelet", false));
    }
  }
  // A real container's log ends before the kubelet reports the exit.
  FinishLog(*log);
  if (!PatchStatus(w, phase, state, pod_start, pod_reason, pod_message)) return;
  if (end.outcome == Outcome::kDeleted) ForceDelete(w);
}

NodeSimulator::Impl::RunEnd NodeSimulator::Impl::RunScript(
    Worker& w, PodLog& log, const SimScript& s, bool oom, Steady::time_point run_start,
    std::optional<Steady::time_point> active_deadline) {
  auto at = [&](double seconds) {
    return run_start +
           std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(seconds));
  };
  std::optional<Steady::time_point> end;
  if (!s.hang && s.until_file.empty()) end = at(s.run_seconds);
  int ticks = 0;
  while (true) {
    Steady::time_point wake = Steady::now() + 1h;
    if (!s.until_file.empty()) {
      if (::access(s.until_file.c_str(), F_OK) == 0) {
        return {Outcome::kExited, oom ? 137 : s.exit_code, oom};
      }
      wake = Steady::now() + 50ms;
    }
    if (end) wake = std::min(wake, *end);
    if (ticks < s.log_count) wake = std::min(wake, at(s.log_every_seconds * (ticks + 1)));
    if (active_deadline) wake = std::min(wake, *active_deadline);
    Wake r = WaitWorker(w, wake);
    if (r == Wake::kGone) return {Outcome::kGone};
    if (r == Wake::kDeletion) return {Outcome::kDeleted};
    Steady::time_point now = Steady::now();
    std::vector<std::string> due;
    while (ticks < s.log_count) {
      Steady::time_point t = at(s.log_every_seconds * (ticks + 1));
      if (t > now || (end && t > *end)) break;
      due.push_back(fmt::format("tick {}", ticks++));
    }
    if (!due.empty()) AppendLog(log, std::move(due));
    if (end && now >= *end) return {Outcome::kExited, oom ? 137 : s.exit_code, oom};
    if (active_deadline && now >= *active_deadline) return {Outcome::kDeadline};
  }
}

// ---- Spark: spark-submit in the controller pod ----

NodeSimulator::Impl::RunEnd NodeSimulator::Impl::Submit(
    Worker& w, PodLog& log, std::optional<Steady::time_point> active_deadline) {
  const PodFacts& p = w.facts;
  auto fail = [&](std::vector<std::string> lines) {
    AppendLog(log, std::move(lines));
    return RunEnd{Outcome::kExited, 1};
  };
  Result<SparkSubmitArgs> args = ParseSparkSubmit(p.argv);
  if (!args.ok()) {
    return fail({"Error: " + args.error().message(),
                 "Run with --help for usage help or --verbose for debug output"});
  }
  Result<SparkApp> planned = PlanSparkApp(*args, p.uid);
  if (!planned.ok()) return fail({"Error: " + planned.error().message()});
  const SparkApp& app = *planned;
  const std::string submission = ns_ + ":" + app.driver_pod;
  const std::string pods_path = "/api/v1/namespaces/" + kube::Escape(ns_) + "/pods";
  std::vector<std::string> lines = {
      SparkLine("INFO", "SparkKubernetesClientFactory",
                "Auto-configuring K8S client using current context from users K8S config file"),
      SparkLine("INFO", "KubernetesClientApplication",
                fmt::format("Submitting application {} with application ID {} and submission ID "
                            "{} to {}",
                            app.name, app.id, submission,
                            args->master.empty() ? "k8s://https://kubernetes.default.svc:443"
                                                 : args->master))};
  std::string wanted_ns = ConfOr(app.conf, "spark.kubernetes.namespace", ns_);
  if (wanted_ns != ns_) {
    lines.push_back(SparkLine("WARN", "KubernetesClientApplication",
                              fmt::format("spark.kubernetes.namespace is '{}'; the node simulator "
                                          "creates the driver in '{}'",
                                          wanted_ns, ns_)));
  }
  AppendLog(log, std::move(lines));
  auto client_failure = [&](std::string_view what, const Error& e) {
    return fail(
        {fmt::format("Exception in thread \"main\" io.fabric8.kubernetes.client."
                     "KubernetesClientException: Failure executing: POST at: {}. "
                     "Message: {}.",
                     what, e.message())});
  };

  Status cm = CreateOrReplaceConfMap(w, app);
  if (!cm.ok()) {
    if (cm.error().code() == Code::kCancelled) return {Outcome::kGone};
    return client_failure("/api/v1/namespaces/" + ns_ + "/configmaps", cm.error());
  }
  // A retried POST (the API server restarted before answering) or a restarted simulator finds
  // the driver already there: adopt it, if it is this application's.
  json::object driver = DriverPod(app, ns_);
  std::string driver_uid;
  bool adopted = false;
  Status created = Retry(
      [&]() -> Status {
        auto r = client_.Post(pods_path, driver);
        if (r.ok()) {
          driver_uid = Str(*r, {"metadata", "uid"});
          return OkStatus();
        }
        if (r.error().code() != Code::kAlreadyExists) return std::move(r).take_error();
        auto got = client_.Get(PodPath(app.driver_pod));
        if (!got.ok()) {
          if (got.error().code() == Code::kNotFound) {
            return Unavailable("the existing driver pod went away; creating it again");
          }
          return std::move(got).take_error();
        }
        std::string other = Str(*got, {"metadata", "labels", "spark-app-selector"});
        if (other != app.id) {
          return AlreadyExists(
              fmt::format("pods \"{}\" already exists (application '{}')", app.driver_pod, other));
        }
        driver_uid = Str(*got, {"metadata", "uid"});
        adopted = true;
        return OkStatus();
      },
      &w);
  if (!created.ok()) {
    if (created.error().code() == Code::kCancelled) return {Outcome::kGone};
    return client_failure(pods_path, created.error());
  }
  if (adopted) {
    AppendLog(log, {SparkLine("INFO", "KubernetesClientApplication",
                              fmt::format("Driver pod {} of application {} exists already; "
                                          "watching it",
                                          app.driver_pod, app.id))});
  }

  std::string last_state;
  std::string last_phase = "Pending";
  bool seen = false;
  bool waiting_logged = false;
  Steady::time_point recheck = Steady::now() + kDriverRecheck;
  uint64_t generation = 0;
  while (true) {
    std::optional<json::value> pod;
    std::string lost_node;
    {
      std::lock_guard lock(mu_);
      auto it = pods_.find(app.driver_pod);
      if (it != pods_.end() && Str(it->second, {"metadata", "uid"}) == driver_uid) {
        pod = it->second;
        std::string node = Str(*pod, {"spec", "nodeName"});
        if (!node.empty() && !nodes_.contains(node)) lost_node = node;
      }
    }
    bool deleted = false;
    if (!pod && !seen && Steady::now() >= recheck) {
      // The informer never showed it: ask the API server (it may be gone already).
      recheck = Steady::now() + kDriverRecheck;
      auto got = client_.Get(PodPath(app.driver_pod));
      deleted = (!got.ok() && got.error().code() == Code::kNotFound) ||
                (got.ok() && Str(*got, {"metadata", "uid"}) != driver_uid);
    }
    std::vector<std::string> out;
    bool finished = false;
    std::string vanished;  // why a driver that did not end is no more
    if (pod) {
      seen = true;
      std::string state_text = DriverState(*pod);
      if (state_text != last_state) {
        last_state = state_text;
        out.push_back(SparkLine("INFO", "LoggingPodStatusWatcherImpl",
                                "State changed, new state: " + state_text));
      }
      if (!waiting_logged) {
        waiting_logged = true;
        out.push_back(SparkLine("INFO", "LoggingPodStatusWatcherImpl",
                                fmt::format("Waiting for application {} with submission ID {} to "
                                            "finish...",
                                            app.name, submission)));
      }
      std::string phase = Str(*pod, {"status", "phase"});
      if (!phase.empty()) last_phase = phase;
      if (Terminal(*pod)) {
        finished = true;
        const json::value* cs = Find(*pod, {"status", "containerStatuses"});
        if (cs != nullptr && cs->is_array() && !cs->get_array().empty()) {
          const json::value& c = cs->get_array()[0];
          out.push_back(SparkLine(
              "INFO", "LoggingPodStatusWatcherImpl",
              fmt::format("Container final statuses: container name: {}, container image: {}, "
                          "container state: terminated, exit code: {}, termination reason: {}",
                          Str(c, {"name"}), Str(c, {"image"}),
                          Int(Find(c, {"state", "terminated", "exitCode"})).value_or(0),
                          Str(c, {"state", "terminated", "reason"}))));
        }
      } else if (!lost_node.empty()) {
        vanished =
            fmt::format("Node {} of driver pod {} was lost (node lost)", lost_node, app.driver_pod);
      }
    } else if (seen || deleted) {
      vanished = fmt::format("Driver pod {} was deleted", app.driver_pod);
    }
    if (!vanished.empty()) {
      finished = true;
      out.push_back(SparkLine("WARN", "LoggingPodStatusWatcherImpl", vanished));
      out.push_back(
          SparkLine("INFO", "LoggingPodStatusWatcherImpl",
                    fmt::format("Application status for {} (phase: {})", app.id, last_phase)));
    }
    if (!out.empty()) AppendLog(log, std::move(out));
    if (finished) break;
    Steady::time_point now = Steady::now();
    if (active_deadline && now >= *active_deadline) return {Outcome::kDeadline};
    Steady::time_point wake = seen ? now + 1h : recheck;
    if (active_deadline) wake = std::min(wake, *active_deadline);
    Wake r = WaitWorker(w, wake, &generation);
    if (r == Wake::kGone) return {Outcome::kGone};
    // spark-submit killed; the driver is not its child and carries on.
    if (r == Wake::kDeletion) return {Outcome::kDeleted};
  }
  AppendLog(log, {SparkLine("INFO", "LoggingPodStatusWatcherImpl",
                            fmt::format("Application {} with submission ID {} finished", app.name,
                                        submission)),
                  SparkLine("INFO", "ShutdownHookManager", "Shutdown hook called"),
                  SparkLine("INFO", "ShutdownHookManager",
                            fmt::format("Deleting directory /tmp/spark-{:016x}", Fnv64(p.uid)))});
  // With spark.kubernetes.submission.waitAppCompletion=true spark-submit exits 0 whatever the
  // driver's outcome: whoever submitted must read the driver's status.
  return {Outcome::kExited, 0};
}

Status NodeSimulator::Impl::CreateOrReplaceConfMap(Worker& w, const SparkApp& app) {
  std::string base = "/api/v1/namespaces/" + kube::Escape(ns_) + "/configmaps";
  std::string name = ConfMapName(app);
  json::object body{
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata", json::object{{"name", name},
                                {"namespace", ns_},
                                {"labels", json::object{{"spark-app-selector", app.id},
                                                        {"spark-role", "driver"}}}}},
      {"data", json::object{{kPropertiesKey, PropertiesText(app.conf)}}}};
  return Retry(
      [&]() -> Status {
        auto r = client_.Post(base, body);
        if (r.ok()) return OkStatus();
        if (r.error().code() != Code::kAlreadyExists) return std::move(r).take_error();
        // Named after the app id: ours, from a retried POST or an earlier run. ConfigMaps allow
        // an update without a resourceVersion.
        auto u = client_.Put(base + "/" + kube::Escape(name), body);
        if (u.ok()) return OkStatus();
        return std::move(u).take_error();
      },
      &w);
}

// ---- Spark: the driver ----

Result<SparkApp> NodeSimulator::Impl::LoadDriverApp(Worker& w) {
  const PodFacts& p = w.facts;
  std::string path =
      "/api/v1/namespaces/" + kube::Escape(ns_) + "/configmaps/" + kube::Escape(p.conf_map);
  Steady::time_point give_up = Steady::now() + 30s;
  json::value cm;
  while (true) {
    Status st = Retry(
        [&]() -> Status {
          auto r = client_.Get(path);
          if (!r.ok()) return std::move(r).take_error();
          cm = std::move(*r);
          return OkStatus();
        },
        &w);
    if (st.ok()) break;
    if (st.error().code() == Code::kCancelled) return std::move(st).take_error();
    if (st.error().code() != Code::kNotFound || Steady::now() > give_up) {
      return FailedPrecondition(fmt::format(
          R"(MountVolume.SetUp failed for volume "spark-conf-volume-driver" : configmap "{}": {})",
          p.conf_map, st.error().message()));
    }
    if (!Sleep(500ms, &w)) return Error(Code::kCancelled, "node simulator stopping");
  }
  return AppFromProperties(ParseProperties(Str(cm, {"data", kPropertiesKey})), p.name, p.labels);
}

NodeSimulator::Impl::RunEnd NodeSimulator::Impl::RunDriver(
    Worker& w, PodLog& log, const SimScript& s, const SparkApp& app, bool oom,
    std::optional<Steady::time_point> active_deadline) {
  const Conf& c = app.conf;
  std::vector<ExecutorTrack> execs = CreateExecutors(w, log, app);
  double ratio = 0.8;
  if (!ParseDouble(ConfOr(c, "spark.scheduler.minRegisteredResourcesRatio", "0.8"), &ratio)) {
    ratio = 0.8;
  }
  int64_t max_wait_ms =
      ParseSparkTimeMs(ConfOr(c, "spark.scheduler.maxRegisteredResourcesWaitingTime", "30s"))
          .value_or(30'000);
  Steady::time_point register_deadline = Steady::now() + std::chrono::milliseconds(max_wait_ms);
  // The script's clock (run=, ticks) starts when the job does: once enough executors registered.
  std::optional<Steady::time_point> job_start;
  std::optional<Steady::time_point> abort_at;
  std::optional<ExecutorLoss> last_loss;
  auto at = [&](double seconds) {
    return *job_start +
           std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(seconds));
  };
  int ticks = 0;
  uint64_t generation = 0;
  RunEnd end;
  bool aborted = false;
  while (true) {
    std::vector<std::string> lines;
    size_t lost_before = 0;
    size_t lost_after = 0;
    size_t resolved = 0;
    {
      std::lock_guard lock(mu_);
      for (const auto& e : execs) lost_before += e.lost ? 1 : 0;
      lines = PollExecutorsLocked(execs, &last_loss);
    }
    for (const auto& e : execs) {
      lost_after += e.lost ? 1 : 0;
      resolved += e.registered || e.lost ? 1 : 0;
    }
    Steady::time_point now = Steady::now();
    // A lost executor fails its task; after 4 failures the job aborts (a script that sets its
    // exit code explicitly plays an application that survives it).
    if (lost_after > lost_before && !s.exit_set && !abort_at) abort_at = now + kAbortDelay;
    if (!job_start) {
      if (static_cast<double>(resolved) >= ratio * static_cast<double>(execs.size())) {
        job_start = now;
        lines.push_back(SparkLine("INFO", "KubernetesClusterSchedulerBackend",
                                  fmt::format("SchedulerBackend is ready for scheduling beginning "
                                              "after reached minRegisteredResourcesRatio: {}",
                                              ratio)));
      } else if (now >= register_deadline) {
        job_start = now;
        lines.push_back(SparkLine("INFO", "KubernetesClusterSchedulerBackend",
                                  fmt::format("SchedulerBackend is ready for scheduling beginning "
                                              "after waiting maxRegisteredResourcesWaitingTime: "
                                              "{}(ns)",
                                              max_wait_ms * 1'000'000)));
      }
    }
    std::optional<Steady::time_point> scripted_end;
    if (job_start && !s.hang) scripted_end = at(s.run_seconds);
    while (job_start && ticks < s.log_count) {
      Steady::time_point t = at(s.log_every_seconds * (ticks + 1));
      if (t > now || (scripted_end && t > *scripted_end)) break;
      lines.push_back(fmt::format("tick {}", ticks++));
    }
    if (!lines.empty()) AppendLog(log, std::move(lines));
    if (abort_at && now >= *abort_at) {
      aborted = true;
      end = {Outcome::kExited, 1};
      break;
    }
    if (scripted_end && now >= *scripted_end) {
      end = {Outcome::kExited, oom ? 137 : s.exit_code, oom};
      break;
    }
    if (active_deadline && now >= *active_deadline) {
      end = {Outcome::kDeadline};
      break;
    }
    Steady::time_point wake = now + 1h;
    for (const auto& t : {scripted_end, abort_at, active_deadline}) {
      if (t) wake = std::min(wake, *t);
    }
    if (!job_start) wake = std::min(wake, register_deadline);
    if (job_start && ticks < s.log_count)
      wake = std::min(wake, at(s.log_every_seconds * (ticks + 1)));
    Wake r = WaitWorker(w, wake, &generation);
    if (r == Wake::kGone) {
      end = {Outcome::kGone};
      break;
    }
    if (r == Wake::kDeletion) {
      end = {Outcome::kDeleted};
      break;
    }
  }
  if (end.outcome == Outcome::kGone && Stopping()) return end;

  std::vector<std::string> tail;
  if (aborted && last_loss) {
    tail.push_back(SparkLine(
        "ERROR", "SparkContext",
        fmt::format("Job 0 failed: org.apache.spark.SparkException: Job aborted due to stage "
                    "failure: Task 0 in stage 0.0 failed 4 times, most recent failure: Lost task "
                    "0.3 in stage 0.0 (TID 3) ({} executor {}): ExecutorLostFailure (executor {} "
                    "exited {}) Reason: {}",
                    last_loss->ip, last_loss->id, last_loss->id,
                    last_loss->caused_by_app ? "caused by one of the running tasks"
                                             : "unrelated to the running tasks",
                    last_loss->reason)));
  }
  if (end.outcome == Outcome::kDeleted || end.outcome == Outcome::kDeadline) {
    tail.push_back(SparkLine("INFO", "SparkContext", "Invoking stop() from shutdown hook"));
  }
  bool delete_executors =
      Lower(Trim(ConfOr(c, "spark.kubernetes.executor.deleteOnTermination", "true"))) != "false";
  if (end.outcome != Outcome::kGone) {
    tail.push_back(SparkLine("INFO", "SparkUI",
                             fmt::format("Stopped Spark web UI at http://{}:{}", w.facts.pod_ip,
                                         PortConf(c, "spark.ui.port", 4040))));
    tail.push_back(
        SparkLine("INFO", "KubernetesClusterSchedulerBackend", "Shutting down all executors"));
    tail.push_back(SparkLine("INFO", "KubernetesClusterSchedulerBackend$KubernetesDriverEndpoint",
                             "Asking each executor to shut down"));
    tail.push_back(SparkLine("INFO", "SparkContext", "Successfully stopped SparkContext"));
    tail.push_back(SparkLine("INFO", "ShutdownHookManager", "Shutdown hook called"));
    AppendLog(log, std::move(tail));
  }
  // SparkContext.stop() deletes the executors before the driver's JVM exits (for a driver whose
  // pod or node vanished, the owner references' garbage collection would).
  if (delete_executors) DeleteExecutors(app, execs);
  return end;
}

std::vector<NodeSimulator::Impl::ExecutorTrack> NodeSimulator::Impl::CreateExecutors(
    Worker& w, PodLog& log, const SparkApp& app) {
  Result<int> count = ExecutorCount(app.conf);
  int total = count.ok() ? *count : 2;
  AppendLog(log, {SparkLine("INFO", "ExecutorPodsAllocator",
                            fmt::format("Going to request {} executors from Kubernetes for "
                                        "ResourceProfile Id: 0, target: {}, known: 0, "
                                        "sharedSlotFromPendingPods: 2147483647.",
                                        total, total))});
  const std::string pods_path = "/api/v1/namespaces/" + kube::Escape(ns_) + "/pods";
  std::vector<ExecutorTrack> execs;
  for (int n = 1; n <= total; ++n) {
    ExecutorTrack e;
    {
      std::lock_guard lock(mu_);
      if (stopping_ || w.gone || w.deletion_requested) break;
      e.ip = pod_ip_;  // until its status says otherwise
    }
    e.id = n;
    e.name = ExecutorName(app, n);
    json::object body = ExecutorPod(app, ns_, n);
    // Each executor is created once: a 409 is ours (a POST whose answer was lost, or a
    // restarted simulator) when it carries our app id.
    Status st = Retry(
        [&]() -> Status {
          auto r = client_.Post(pods_path, body);
          if (r.ok()) {
            e.uid = Str(*r, {"metadata", "uid"});
            return OkStatus();
          }
          if (r.error().code() != Code::kAlreadyExists) return std::move(r).take_error();
          auto got = client_.Get(PodPath(e.name));
          if (!got.ok()) {
            if (got.error().code() == Code::kNotFound) {
              return Unavailable("the existing executor pod went away; creating it again");
            }
            return std::move(got).take_error();
          }
          if (Str(*got, {"metadata", "labels", "spark-app-selector"}) != app.id) {
            return AlreadyExists(
                fmt::format("pod '{}' exists and belongs to another application", e.name));
          }
          e.uid = Str(*got, {"metadata", "uid"});
          return OkStatus();
        },
        &w);
    if (!st.ok()) {
      if (st.error().code() == Code::kCancelled) break;
      AppendLog(log, {SparkLine("ERROR", "ExecutorPodsAllocator",
                                fmt::format("Failed to create executor pod {}: {}", e.name,
                                            st.error().message()))});
      continue;
    }
    execs.push_back(std::move(e));
  }
  return execs;
}

std::vector<std::string> NodeSimulator::Impl::PollExecutorsLocked(
    std::vector<ExecutorTrack>& execs, std::optional<ExecutorLoss>* last_loss) {
  std::vector<std::string> lines;
  int losses = 0;
  for (const auto& e : execs) losses += e.lost ? 1 : 0;
  for (ExecutorTrack& e : execs) {
    if (e.lost || e.finished) continue;
    auto it = pods_.find(e.name);
    const json::value* pod = nullptr;
    if (it != pods_.end() && (e.uid.empty() || Str(it->second, {"metadata", "uid"}) == e.uid)) {
      pod = &it->second;
    }
    std::string reason;
    bool caused_by_app = false;
    if (pod == nullptr) {
      if (!e.seen) continue;  // not in the informer's cache yet
      reason = fmt::format("The executor with id {} was deleted by a user or the framework.", e.id);
    } else {
      e.seen = true;
      std::string ip = Str(*pod, {"status", "podIP"});
      if (!ip.empty()) e.ip = ip;
      std::string node = Str(*pod, {"spec", "nodeName"});
      std::string phase = Str(*pod, {"status", "phase"});
      if (Deleting(*pod)) {
        reason =
            fmt::format("The executor with id {} was deleted by a user or the framework.", e.id);
      } else if (!node.empty() && !nodes_.contains(node)) {
        // Spark would notice through the missed heartbeats (spark.network.timeout); at once here.
        reason = fmt::format("Executor Pod {} on node {} was deleted: node lost.", e.name, node);
      } else if (phase == "Failed") {
        const json::value* cs = Find(*pod, {"status", "containerStatuses"});
        int code = 1;
        if (cs != nullptr && cs->is_array() && !cs->get_array().empty()) {
          code = static_cast<int>(
              Int(Find(cs->get_array()[0], {"state", "terminated", "exitCode"})).value_or(1));
        }
        reason = fmt::format("The executor with id {} exited with exit code {}.", e.id,
                             DescribeExitCode(code));
        caused_by_app = true;
      } else if (phase == "Succeeded") {
        e.finished = true;
        continue;
      } else {
        if (phase == "Running" && !e.registered) {
          e.registered = true;
          lines.push_back(SparkLine(
              "INFO", "KubernetesClusterSchedulerBackend$KubernetesDriverEndpoint",
              fmt::format("Registered executor NettyRpcEndpointRef(spark-client://Executor) "
                          "({}:{}) with ID {},  ResourceProfileId 0",
                          e.ip, 40000 + e.id, e.id)));
        }
        continue;
      }
    }
    e.lost = true;
    lines.push_back(SparkLine("ERROR", "TaskSchedulerImpl",
                              fmt::format("Lost executor {} on {}: {}", e.id, e.ip, reason)));
    lines.push_back(SparkLine(
        "WARN", "TaskSetManager",
        fmt::format(
            "Lost task 0.{} in stage 0.0 (TID {}) ({} executor {}): ExecutorLostFailure "
            "(executor {} exited {}) Reason: {}",
            losses, losses, e.ip, e.id, e.id,
            caused_by_app ? "caused by one of the running tasks" : "unrelated to the running tasks",
            reason)));
    ++losses;
    *last_loss = ExecutorLoss{e.id, e.ip, reason, caused_by_app};
  }
  return lines;
}

void NodeSimulator::Impl::DeleteExecutors(const SparkApp& app,
                                          const std::vector<ExecutorTrack>& execs) {
  // By name and, as Spark does, by label (an adopted application's executors too).
  std::set<std::string> names;
  for (const auto& e : execs) names.insert(e.name);
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, pod] : pods_) {
      if (Str(pod, {"metadata", "labels", "spark-app-selector"}) == app.id &&
          Str(pod, {"metadata", "labels", "spark-role"}) == "executor") {
        names.insert(name);
      }
    }
  }
  for (const std::string& name : names) {
    // Graceful: the executor's kubelet kills it (143), then the pod goes.
    Status st = Retry(
        [&]() -> Status {
          auto r = client_.Delete(PodPath(name));
          if (r.ok() || r.error().code() == Code::kNotFound) return OkStatus();
          return std::move(r).take_error();
        },
        nullptr, std::chrono::seconds(60));
    if (!st.ok() && st.error().code() != Code::kCancelled) {
      log::Warn("node simulator: deleting a Spark executor failed",
                {{"pod", name}, {"error", st.error().ToString()}});
    }
  }
}

void NodeSimulator::Impl::RunWaiting(Worker& w, PodLog& log, SysTime pod_start,
                                     const std::string& reason, const std::string& message,
                                     std::optional<Steady::time_point> active_deadline) {
  const PodFacts& p = w.facts;
  {
    std::lock_guard lock(logs_mu_);
    log.waiting_reason = reason;
  }
  if (reason == "ErrImagePull" || reason == "ImagePullBackOff") {
    QueueEvent(MakeEvent(p, "Normal", "Pulling", fmt::format("Pulling image \"{}\"", p.image),
                         "kubelet", true));
    QueueEvent(MakeEvent(p, "Warning", "Failed",
                         fmt::format("Failed to pull image \"{}\": {}", p.image, message),
                         "kubelet", true));
    QueueEvent(MakeEvent(p, "Warning", "Failed", "Error: " + reason, "kubelet", true));
  } else {
    QueueEvent(MakeEvent(p, "Warning", "Failed", "Error: " + (message.empty() ? reason : message),
                         "kubelet", true));
  }
  ContainerState state;
  state.reason = reason;
  state.message = message;
  if (!PatchStatus(w, "Pending", state, pod_start)) return;
  while (true) {
    Steady::time_point wake = Steady::now() + 1h;
    if (active_deadline) wake = std::min(wake, *active_deadline);
    Wake r = WaitWorker(w, wake);
    if (r == Wake::kGone) return;
    if (r == Wake::kDeletion) {
      ForceDelete(w);
      return;
    }
    if (active_deadline && Steady::now() >= *active_deadline) {
      std::string why = "Pod was active on the node longer than the specified deadline";
      QueueEvent(MakeEvent(p, "Warning", "DeadlineExceeded", why, "kubelet", false));
      (void)PatchStatus(w, "Failed", state, pod_start, "DeadlineExceeded", why);
      return;
    }
  }
}

NodeSimulator::Impl::Wake NodeSimulator::Impl::WaitWorker(const Worker& w, Steady::time_point until,
                                                          uint64_t* generation) {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, until, [&] {
    return stopping_ || w.gone || w.deletion_requested ||
           (generation != nullptr && *generation != pods_generation_);
  });
  if (generation != nullptr) *generation = pods_generation_;
  if (stopping_ || w.gone) return Wake::kGone;
  if (w.deletion_requested) return Wake::kDeletion;
  return Wake::kTimeout;
}

bool NodeSimulator::Impl::Sleep(std::chrono::milliseconds d, const Worker* w) {
  std::unique_lock lock(mu_);
  auto quit = [&] { return stopping_ || (w != nullptr && w->gone); };
  cv_.wait_for(lock, d, quit);
  return !quit();
}

Status NodeSimulator::Impl::Retry(const std::function<Status()>& fn, const Worker* w,
                                  std::chrono::seconds limit) {
  Steady::time_point deadline = Steady::now() + limit;
  std::chrono::milliseconds backoff = kFirstBackoff;
  while (true) {
    Status st = fn();
    if (st.ok() || !Transient(st.error()) || Steady::now() + backoff > deadline) return st;
    if (!Sleep(backoff, w)) return Error(Code::kCancelled, "node simulator stopping");
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

bool NodeSimulator::Impl::PatchStatus(Worker& w, std::string_view phase, const ContainerState& c,
                                      SysTime pod_start, std::string_view reason,
                                      std::string_view message) {
  json::object body = PodStatus(w.facts, phase, c, pod_start, reason, message);
  Status st = Retry(
      [&]() -> Status {
        auto r = client_.Patch(PodPath(w.facts.name) + "/status", body);
        if (r.ok()) return OkStatus();
        return std::move(r).take_error();
      },
      &w);
  if (st.ok()) return true;
  if (st.error().code() == Code::kCancelled) return false;
  if (st.error().code() == Code::kNotFound) {
    std::lock_guard lock(mu_);
    w.gone = true;
    return false;
  }
  log::Warn("node simulator: pod status update refused",
            {{"pod", w.facts.name}, {"error", st.error().ToString()}});
  return true;
}

void NodeSimulator::Impl::ForceDelete(Worker& w) {
  {
    std::lock_guard lock(mu_);
    force_deleting_.insert(w.facts.uid);
  }
  Status st = Retry(
      [&]() -> Status {
        auto r = client_.Delete(PodPath(w.facts.name), 0);
        if (r.ok() || r.error().code() == Code::kNotFound) return OkStatus();
        return std::move(r).take_error();
      },
      &w);
  if (!st.ok() && st.error().code() != Code::kCancelled) {
    log::Warn("node simulator: deleting a terminated pod failed",
              {{"pod", w.facts.name}, {"error", st.error().ToString()}});
  }
}

void NodeSimulator::Impl::AppendLog(PodLog& log, std::vector<std::string> lines,
                                    bool clear_waiting) {
  {
    std::lock_guard lock(logs_mu_);
    for (auto& line : lines) log.lines.emplace_back(SysClock::now(), std::move(line));
    if (clear_waiting) log.waiting_reason.clear();
  }
  logs_cv_.notify_all();
}

void NodeSimulator::Impl::FinishLog(PodLog& log) {
  {
    std::lock_guard lock(logs_mu_);
    log.finished = true;
  }
  logs_cv_.notify_all();
}

// ---- events ----

json::object NodeSimulator::Impl::MakeEvent(const PodFacts& p, std::string_view type,
                                            std::string_view reason, std::string_view message,
                                            std::string_view component, bool container_event) {
  uint64_t suffix = 0;
  {
    std::lock_guard lock(mu_);
    suffix = rng_();
  }
  std::string now = FormatTime(SysClock::now(), false);
  json::object involved{
      {"apiVersion", "v1"}, {"kind", "Pod"}, {"name", p.name}, {"namespace", ns_}, {"uid", p.uid}};
  if (container_event) involved["fieldPath"] = "spec.containers{" + p.container + "}";
  json::object source{{"component", component}};
  if (!p.node.empty()) source["host"] = p.node;
  return json::object{{"apiVersion", "v1"},
                      {"kind", "Event"},
                      {"metadata", json::object{{"name", fmt::format("{}.{:016x}", p.name, suffix)},
                                                {"namespace", ns_}}},
                      {"involvedObject", std::move(involved)},
                      {"reason", reason},
                      {"message", message},
                      {"type", type},
                      {"firstTimestamp", now},
                      {"lastTimestamp", now},
                      {"count", 1},
                      {"source", std::move(source)},
                      {"reportingComponent", component},
                      {"reportingInstance", p.node.empty() ? std::string(component) : p.node}};
}

void NodeSimulator::Impl::QueueEvent(json::object body) {
  {
    std::lock_guard lock(mu_);
    Steady::time_point now = Steady::now();
    events_.push_back(QueuedEvent{std::move(body), now + kEventDeadline, now, kFirstBackoff});
  }
  cv_.notify_all();
}

void NodeSimulator::Impl::EventLoop() {
  std::string path = "/api/v1/namespaces/" + kube::Escape(ns_) + "/events";
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (events_.empty()) {
      cv_.wait(lock, [this] { return stopping_ || !events_.empty(); });
      continue;
    }
    if (events_.front().next_try > Steady::now()) {
      cv_.wait_until(lock, events_.front().next_try, [this] { return stopping_; });
      continue;
    }
    QueuedEvent ev = std::move(events_.front());
    events_.pop_front();
    lock.unlock();
    auto r = client_.Post(path, ev.body);
    lock.lock();
    if (r.ok() || r.error().code() == Code::kAlreadyExists) continue;
    Steady::time_point now = Steady::now();
    if (Transient(r.error()) && now + ev.backoff < ev.deadline) {
      // Keep the order: the failed event goes first again.
      ev.next_try = now + ev.backoff;
      ev.backoff = std::min(ev.backoff * 2, kMaxBackoff);
      events_.push_front(std::move(ev));
      continue;
    }
    log::Warn("node simulator: event dropped",
              {{"reason", Str(json::value(ev.body), {"reason"})}, {"error", r.error().ToString()}});
  }
}

// ---- nodes ----

Status NodeSimulator::Impl::AddNode(const SimNode& node) {
  {
    std::lock_guard lock(mu_);
    if (!started_ || stopping_)
      return FailedPrecondition("start the node simulator before AddNode");
  }
  if (node.name.empty()) return InvalidArgument("a simulated node needs a name");
  json::object labels;
  for (const auto& [k, v] : LabelsOf(node)) labels[k] = v;
  std::string path = "/api/v1/nodes/" + kube::Escape(node.name);
  json::object body{{"apiVersion", "v1"},
                    {"kind", "Node"},
                    {"metadata", json::object{{"name", node.name}, {"labels", labels}}},
                    {"spec", json::object()}};
  Status created = Retry(
      [&]() -> Status {
        auto r = client_.Post("/api/v1/nodes", body);
        if (r.ok()) return OkStatus();
        if (r.error().code() != Code::kAlreadyExists) return std::move(r).take_error();
        // Left from an earlier run of the test, or our own retried POST: take it over.
        auto p = client_.Patch(path, json::object{{"metadata", json::object{{"labels", labels}}}});
        if (p.ok()) return OkStatus();
        return std::move(p).take_error();
      },
      nullptr, kNodeDeadline);
  if (!created.ok()) {
    return std::move(created).take_error().WithContext("registering node '" + node.name + "'");
  }

  std::string now = FormatTime(SysClock::now(), false);
  json::object resources{{"cpu", FormatCpu(node.cpu_millis)},
                         {"memory", FormatMemory(node.memory_bytes)},
                         {"pods", std::to_string(kMaxPodsPerNode)}};
  json::object ready{{"type", "Ready"},          {"status", "True"},
                     {"lastHeartbeatTime", now}, {"lastTransitionTime", now},
                     {"reason", "KubeletReady"}, {"message", "kubelet is posting ready status"}};
  json::object status{
      {"status",
       json::object{
           {"capacity", resources},
           {"allocatable", resources},
           {"conditions", json::array{ready}},
           {"addresses", json::array{json::object{{"type", "InternalIP"}, {"address", "127.0.0.1"}},
                                     json::object{{"type", "Hostname"}, {"address", node.name}}}},
           {"daemonEndpoints",
            json::object{{"kubeletEndpoint", json::object{{"Port", port_.load()}}}}},
           {"nodeInfo", json::object{{"kubeletVersion", "v1.20.2-sim"},
                                     {"kubeProxyVersion", "v1.20.2-sim"},
                                     {"containerRuntimeVersion", "sim://1.0"},
                                     {"operatingSystem", "linux"},
                                     {"architecture", "amd64"},
                                     {"osImage", "tugboat node simulator"}}}}}};
  Steady::time_point deadline = Steady::now() + kNodeDeadline;
  std::string problem;
  while (true) {
    Status st = Retry(
        [&]() -> Status {
          auto r = client_.Patch(path + "/status", status);
          if (r.ok()) return OkStatus();
          return std::move(r).take_error();
        },
        nullptr, kNodeDeadline);
    if (!st.ok()) {
      return std::move(st).take_error().WithContext("reporting the status of node '" + node.name +
                                                    "'");
    }
    // Read it back: the status subresource is easy to get subtly wrong (a silently dropped field
    // leaves a node nobody can reach).
    auto got = client_.Get(path);
    if (got.ok()) {
      bool is_ready = false;
      const json::value* conditions = Find(*got, {"status", "conditions"});
      if (conditions != nullptr && conditions->is_array()) {
        for (const json::value& c : conditions->get_array()) {
          if (Str(c, {"type"}) == "Ready" && Str(c, {"status"}) == "True") is_ready = true;
        }
      }
      auto got_port = Int(Find(*got, {"status", "daemonEndpoints", "kubeletEndpoint", "Port"}));
      if (is_ready && got_port == port_.load()) break;
      const json::value* got_status = Find(*got, {"status"});
      problem = "status did not stick: " +
                (got_status != nullptr ? json::serialize(*got_status) : std::string("none"));
    } else {
      problem = got.error().ToString();
    }
    if (Steady::now() > deadline) {
      return Unavailable(
          fmt::format("node '{}' was not registered as Ready: {}", node.name, Tail(problem, 1000)));
    }
    if (!Sleep(500ms, nullptr)) return Error(Code::kCancelled, "node simulator stopping");
  }
  {
    std::lock_guard lock(mu_);
    nodes_[node.name] = node;
    // A new node may fit pods nothing fitted before: try them all again now.
    bind_retry_at_.clear();
    dirty_ = true;
  }
  cv_.notify_all();
  return OkStatus();
}

Status NodeSimulator::Impl::RemoveNode(const std::string& name) {
  bool known = false;
  {
    std::lock_guard lock(mu_);
    known = nodes_.erase(name) > 0;
    // A dead node: its pods stop being simulated; no status update says so.
    for (auto& [uid, w] : workers_) {
      if (w->facts.node == name) w->gone = true;
    }
    ++pods_generation_;
    dirty_ = true;
  }
  cv_.notify_all();
  Status st = Retry(
      [&]() -> Status {
        auto r = client_.Delete("/api/v1/nodes/" + kube::Escape(name));
        if (r.ok()) return OkStatus();
        if (r.error().code() == Code::kNotFound && known) return OkStatus();
        return std::move(r).take_error();
      },
      nullptr, kNodeDeadline);
  if (!st.ok()) return std::move(st).take_error().WithContext("removing node '" + name + "'");
  return OkStatus();
}

// ---- kubelet HTTPS server ----

Status NodeSimulator::Impl::StartServer() {
  boost::system::error_code ec;
  // No ALPN callback: the API server then speaks HTTP/1.1, as to a kubelet without h2.
  tls_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  std::string crt = cert_dir_ + "/server.crt";
  std::string key = cert_dir_ + "/server.key";
  tls_.use_certificate_chain_file(crt, ec);
  if (ec) return FailedPrecondition(fmt::format("loading '{}': {}", crt, ec.message()));
  tls_.use_private_key_file(key, ssl::context::pem, ec);
  if (ec) return FailedPrecondition(fmt::format("loading '{}': {}", key, ec.message()));
  acceptor_.emplace(ioc_);
  tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), 0);
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable("kubelet server: listening on 127.0.0.1: " + ec.message());
  tcp::endpoint local = acceptor_->local_endpoint(ec);
  if (ec) return Unavailable("kubelet server: " + ec.message());
  port_ = local.port();
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  return OkStatus();
}

void NodeSimulator::Impl::StopServer() {
  if (!acceptor_) return;
  std::list<std::unique_ptr<Conn>> conns;
  {
    std::lock_guard lock(conns_mu_);
    server_stopping_ = true;
    // shutdown() wakes a thread blocked in accept() or read() on Linux; closing would race
    // with the fd being reused.
    ::shutdown(acceptor_->native_handle(), SHUT_RDWR);
    for (auto& c : conns_) {
      if (c->fd >= 0) ::shutdown(c->fd, SHUT_RDWR);
    }
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  {
    std::lock_guard lock(conns_mu_);
    conns.swap(conns_);
  }
  for (auto& c : conns) {
    if (c->thread.joinable()) c->thread.join();
  }
  boost::system::error_code ec;
  acceptor_->close(ec);
  acceptor_.reset();
}

void NodeSimulator::Impl::AcceptLoop() {
  while (true) {
    tcp::socket socket(ioc_);
    boost::system::error_code ec;
    acceptor_->accept(socket, ec);
    std::list<std::unique_ptr<Conn>> finished;
    {
      std::lock_guard lock(conns_mu_);
      if (server_stopping_) return;
      for (auto it = conns_.begin(); it != conns_.end();) {
        if ((*it)->done.load()) {
          finished.push_back(std::move(*it));
          it = conns_.erase(it);
        } else {
          ++it;
        }
      }
      if (!ec) {
        auto conn = std::make_unique<Conn>();
        Conn* c = conn.get();
        c->fd = socket.native_handle();
        c->thread = std::thread(
            [this, c, s = std::move(socket)]() mutable { ServeConnection(std::move(s), c); });
        conns_.push_back(std::move(conn));
      }
    }
    for (auto& c : finished) c->thread.join();
    if (ec) std::this_thread::sleep_for(10ms);  // e.g. out of file descriptors
  }
}

void NodeSimulator::Impl::ServeConnection(tcp::socket socket, Conn* conn) {
  {
    ssl::stream<tcp::socket> stream(std::move(socket), tls_);
    boost::system::error_code ec;
    stream.handshake(ssl::stream_base::server, ec);
    if (!ec) {
      boost::beast::flat_buffer buffer;
      while (true) {
        http::request<http::string_body> req;
        http::read(stream, buffer, req, ec);
        if (ec) break;
        if (!HandleRequest(stream, req) || !req.keep_alive()) break;
      }
      // No TLS close_notify exchange: it waits for the peer, and the body is complete anyway.
      stream.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    }
    std::lock_guard lock(conns_mu_);
    conn->fd = -1;  // the socket closes right after this block
  }
  conn->done = true;
}

bool NodeSimulator::Impl::HandleRequest(ssl::stream<tcp::socket>& stream,
                                        const http::request<http::string_body>& req) {
  auto reply = [&](http::status status, std::string body) {
    return ReplyText(stream, req, status, std::move(body));
  };
  std::string_view target = req.target();
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  auto query = ParseQuery(q == std::string_view::npos ? std::string_view() : target.substr(q + 1));
  if (req.method() != http::verb::get) return reply(http::status::method_not_allowed, "GET only\n");
  if (path == "/healthz") return reply(http::status::ok, "ok");
  constexpr std::string_view kPrefix = "/containerLogs/";
  if (path.substr(0, kPrefix.size()) == kPrefix) {
    std::vector<std::string> parts;
    std::string_view rest = path.substr(kPrefix.size());
    while (!rest.empty()) {
      size_t slash = rest.find('/');
      parts.push_back(PercentDecode(rest.substr(0, slash), false));
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    }
    if (parts.size() == 3) return ServeLogs(stream, req, parts[0], parts[1], parts[2], query);
  }
  return reply(http::status::not_found, "404 page not found\n");
}

bool NodeSimulator::Impl::ServeLogs(ssl::stream<tcp::socket>& stream,
                                    const http::request<http::string_body>& req,
                                    const std::string& ns, const std::string& pod,
                                    const std::string& container,
                                    const std::map<std::string, std::string>& query) {
  auto reply = [&](http::status status, std::string body) {
    return ReplyText(stream, req, status, std::move(body));
  };
  auto flag = [&](const std::string& name) {
    auto it = query.find(name);
    return it != query.end() && (it->second == "true" || it->second == "1");
  };
  bool follow = flag("follow");
  bool timestamps = flag("timestamps");
  std::optional<SysTime> since;
  if (auto it = query.find("sinceTime"); it != query.end() && !it->second.empty()) {
    since = ParseTime(it->second);
    if (!since) return reply(http::status::bad_request, "sinceTime: want RFC 3339\n");
  }
  if (auto it = query.find("sinceSeconds"); it != query.end()) {
    int64_t secs = 0;
    if (!ParseInt(it->second, &secs) || secs <= 0) {
      return reply(http::status::bad_request, "sinceSeconds: want seconds > 0\n");
    }
    since = SysClock::now() - std::chrono::seconds(secs);
  }
  std::optional<int64_t> tail_lines;
  if (auto it = query.find("tailLines"); it != query.end()) {
    int64_t n = 0;
    if (ParseInt(it->second, &n) && n >= 0) tail_lines = n;
  }
  std::optional<int64_t> limit_bytes;
  if (auto it = query.find("limitBytes"); it != query.end()) {
    int64_t n = 0;
    if (ParseInt(it->second, &n) && n > 0) limit_bytes = n;
  }

  std::shared_ptr<PodLog> log;
  {
    std::lock_guard lock(logs_mu_);
    auto it = logs_.find(ns + "/" + pod);
    if (it != logs_.end()) log = it->second;
  }
  if (!log)
    return reply(http::status::not_found, fmt::format("pod \"{}/{}\" not found\n", ns, pod));
  if (!container.empty() && container != log->container) {
    return reply(http::status::not_found,
                 fmt::format("container \"{}\" not found in pod \"{}\"\n", container, pod));
  }
  if (flag("previous")) {
    return reply(http::status::bad_request,
                 fmt::format("previous terminated container \"{}\" in pod \"{}\" not found\n",
                             log->container, pod));
  }
  auto format = [&](const std::pair<SysTime, std::string>& line) {
    return timestamps ? FormatTime(line.first, true) + " " + line.second + "\n"
                      : line.second + "\n";
  };

  size_t next = 0;
  std::string waiting_reason;
  {
    std::lock_guard lock(logs_mu_);
    waiting_reason = log->waiting_reason;
    if (since) {
      while (next < log->lines.size() && log->lines[next].first < *since) ++next;
    }
    if (tail_lines && log->lines.size() - next > static_cast<size_t>(*tail_lines)) {
      next = log->lines.size() - static_cast<size_t>(*tail_lines);
    }
  }
  if (!waiting_reason.empty()) {
    return reply(http::status::bad_request,
                 fmt::format("container \"{}\" in pod \"{}\" is waiting to start: {}\n",
                             log->container, pod, waiting_reason));
  }

  if (!follow) {
    std::string body;
    {
      std::lock_guard lock(logs_mu_);
      for (size_t i = next; i < log->lines.size(); ++i) body += format(log->lines[i]);
    }
    if (limit_bytes && body.size() > static_cast<size_t>(*limit_bytes)) {
      body.resize(static_cast<size_t>(*limit_bytes));
    }
    return reply(http::status::ok, std::move(body));
  }

  // follow: a chunked body that grows with the log and ends when the container does.
  http::response<http::empty_body> res{http::status::ok, req.version()};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.keep_alive(false);
  res.chunked(true);
  http::response_serializer<http::empty_body> serializer{res};
  boost::system::error_code ec;
  http::write_header(stream, serializer, ec);
  if (ec) return false;
  while (true) {
    std::string out;
    bool done = false;
    {
      std::unique_lock lock(logs_mu_);
      logs_cv_.wait(lock,
                    [&] { return logs_stopping_ || log->finished || log->lines.size() > next; });
      for (; next < log->lines.size(); ++next) out += format(log->lines[next]);
      done = logs_stopping_ || log->finished;
    }
    if (!out.empty()) {
      asio::write(stream, http::make_chunk(asio::buffer(out)), ec);
      if (ec) return false;
    }
    if (done) break;
  }
  asio::write(stream, http::make_chunk_last(), ec);
  return false;  // one follow per connection
}

// ---------------------------------------------------------------------------------------------

NodeSimulator::NodeSimulator(kube::Client& client, std::string namespace_name, std::string cert_dir,
                             std::string capacity_label)
    : impl_(std::make_unique<Impl>(client, std::move(namespace_name), std::move(cert_dir),
                                   std::move(capacity_label))) {}
NodeSimulator::~NodeSimulator() { Stop(); }
Status NodeSimulator::Start() { return impl_->Start(); }
void NodeSimulator::Stop() { impl_->Stop(); }
Status NodeSimulator::AddNode(const SimNode& node) { return impl_->AddNode(node); }
Status NodeSimulator::RemoveNode(const std::string& name) { return impl_->RemoveNode(name); }
std::string NodeSimulator::NodeOf(const std::string& pod) const { return impl_->NodeOf(pod); }
int NodeSimulator::Bindings(const std::string& pod) const { return impl_->Bindings(pod); }
int64_t NodeSimulator::PodsCreatedSeen() const { return impl_->PodsCreatedSeen(); }
int NodeSimulator::kubelet_port() const { return impl_->port(); }
void NodeSimulator::SetPodIP(std::string ip) { impl_->SetPodIP(std::move(ip)); }

}  // namespace tug::testing
