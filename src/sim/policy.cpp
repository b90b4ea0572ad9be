#include "sim/policy.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "core/model.h"
#include "core/quantity.h"

namespace tug::sim {
namespace {

constexpr Micros kDay = 86400 * kMicrosPerSecond;
constexpr double kMicrosPerHour = 3600.0 * kMicrosPerSecond;

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.push_back(
        s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

Result<double> ToDouble(std::string_view v, std::string_view what) {
  double d = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || !std::isfinite(d)) {
    return InvalidArgument(fmt::format("{} needs a number, not '{}'", what, v));
  }
  return d;
}

Result<bool> OnOff(std::string_view v, std::string_view what) {
  if (v == "on" || v == "true" || v == "yes") return true;
  if (v == "off" || v == "false" || v == "no") return false;
  return InvalidArgument(fmt::format("{} takes on or off, not '{}'", what, v));
}

Status Modify(Policy& p, std::string_view key, std::string_view value, std::string_view spec) {
  std::string what = fmt::format("policy '{}': {}", spec, key);
  if (key == "scoring") {
    ASSIGN_OR_RETURN(p.scoring, ParseScoring(value));
  } else if (key == "unneeded") {
    auto d = ParseDuration(std::string(value));
    if (!d.ok()) return InvalidArgument(what + " takes a duration such as 5m");
    p.unneeded_time = *d * kMicrosPerSecond;
  } else if (key == "adapt") {
    ASSIGN_OR_RETURN(p.adapt, OnOff(value, what));
  } else if (key == "rightsizing") {
    ASSIGN_OR_RETURN(p.rightsizing, OnOff(value, what));
  } else if (key == "autoscale") {
    ASSIGN_OR_RETURN(p.autoscale, OnOff(value, what));
  } else if (key == "capacity") {
    if (value != "auto" && value != "spot" && value != "on-demand") {
      return InvalidArgument(what + " takes auto, spot or on-demand");
    }
    p.capacity = std::string(value);
  } else if (key == "nodes") {
    ASSIGN_OR_RETURN(double n, ToDouble(value, what));
    if (n < 0 || n > 100000 || n != std::floor(n)) return InvalidArgument(what + " must be >= 0");
    p.static_nodes = static_cast<int>(n);
  } else if (key == "type") {
    p.static_type = std::string(value);
  } else if (key == "headroom") {
    ASSIGN_OR_RETURN(p.static_headroom, ToDouble(value, what));
    if (!(p.static_headroom >= 0.1 && p.static_headroom <= 100)) {
      return InvalidArgument(what + " must be in [0.1, 100]");
    }
  } else if (key == "spare" || key == "spare_spot") {
    ASSIGN_OR_RETURN(double n, ToDouble(value, what));
    if (n < 0 || n > 10000 || n != std::floor(n)) return InvalidArgument(what + " must be >= 0");
    (key == "spare" ? p.spare_on_demand : p.spare_spot) = static_cast<int>(n);
  } else if (key == "anticipate") {
    ASSIGN_OR_RETURN(p.anticipate_executors, OnOff(value, what));
  } else if (key == "queues") {
    if (value == "off") {
      p.queues = Policy::Queues::kOff;
    } else if (value == "on" || value == "teams") {
      p.queues = Policy::Queues::kTeams;
    } else if (value == "fifo") {
      p.queues = Policy::Queues::kFifo;
    } else {
      return InvalidArgument(what + " takes on, fifo or off");
    }
  } else if (key == "gpu_nodes") {
    if (value != "tainted" && value != "shared") {
      return InvalidArgument(what + " takes tainted or shared");
    }
    p.gpu_nodes_shared = value == "shared";
  } else if (key == "retries" || key == "max_attempts") {
    ASSIGN_OR_RETURN(double n, ToDouble(value, what));
    if (n < 1 || n > 100 || n != std::floor(n)) return InvalidArgument(what + " must be 1..100");
    p.max_attempts = static_cast<int>(n);
  } else {
    return InvalidArgument(
        fmt::format("policy '{}': unknown setting '{}'; use scoring, unneeded, adapt, rightsizing, "
                    "autoscale, capacity, nodes, type, headroom, retries, spare, spare_spot, "
                    "anticipate, queues or gpu_nodes",
                    spec, key));
  }
  return OkStatus();
}

}  // namespace

Policy StaticPolicy() {
  Policy p;
  p.name = "static";
  p.label = "(a) static";
  p.autoscale = false;
  p.scoring = Scoring::kLeastAllocated;
  return p;
}

Policy AutoscaledPolicy() {
  Policy p;
  p.name = "autoscaled";
  p.label = "(b) autoscaled";
  p.autoscale = true;
  p.scoring = Scoring::kLeastAllocated;
  p.unneeded_time = Micros{10} * 60 * kMicrosPerSecond;  // Cluster Autoscaler's default
  return p;
}

Policy TugboatPolicy() {
  Policy p;
  p.name = "tugboat";
  p.label = "(c) tugboat";
  p.autoscale = true;
  p.scoring = Scoring::kMostAllocated;
  p.unneeded_time = Micros{5} * 60 * kMicrosPerSecond;
  p.adapt = true;
  p.rightsizing = true;
  p.capacity = "auto";
  p.anticipate_executors = true;
  return p;
}

Result<std::vector<Policy>> ParsePolicies(std::string_view spec) {
  std::vector<Policy> out;
  for (std::string_view part : Split(spec, ',')) {
    part = Trim(part);
    if (part.empty()) continue;
    std::vector<std::string_view> bits = Split(part, '+');
    std::string_view base = bits[0];
    Policy p;
    if (base == "a" || base == "static") {
      p = StaticPolicy();
    } else if (base == "b" || base == "autoscaled") {
      p = AutoscaledPolicy();
    } else if (base == "c" || base == "tugboat") {
      p = TugboatPolicy();
    } else {
      return InvalidArgument(fmt::format(
          "policy '{}' is not known; use a|static, b|autoscaled or c|tugboat, optionally with "
          "+key=value changes",
          base));
    }
    for (size_t i = 1; i < bits.size(); ++i) {
      size_t eq = bits[i].find('=');
      if (eq == std::string_view::npos) {
        return InvalidArgument(fmt::format("policy '{}': '{}' must be key=value", part, bits[i]));
      }
      RETURN_IF_ERROR(Modify(p, bits[i].substr(0, eq), bits[i].substr(eq + 1), part));
    }
    if (bits.size() > 1) {
      p.name = std::string(part);
      p.label = std::string(part);
    }
    if (!p.adapt && p.capacity == "auto") {
      return InvalidArgument(fmt::format(
          "policy '{}': capacity auto needs adapt=on (without adapt pods go to spot or on-demand)",
          part));
    }
    out.push_back(std::move(p));
  }
  if (out.empty()) return InvalidArgument("no policy given; use e.g. --policy a,b,c");
  for (size_t i = 0; i < out.size(); ++i) {
    for (size_t j = i + 1; j < out.size(); ++j) {
      if (out[i].name == out[j].name) {
        return InvalidArgument(fmt::format("policy '{}' is listed twice", out[i].name));
      }
    }
  }
  return out;
}

std::string_view ToString(Policy::Queues q) {
  switch (q) {
    case Policy::Queues::kTeams:
      return "on";
    case Policy::Queues::kFifo:
      return "fifo";
    case Policy::Queues::kOff:
      break;
  }
  return "off";
}

// ---------------------------------------------------------------- queues

Result<queue::QueueSpec> ParseQueueSpec(std::string_view spec) {
  queue::QueueSpec q;
  size_t colon = spec.find(':');
  q.name = std::string(Trim(spec.substr(0, colon)));
  if (Status st = ValidateName(q.name); !st.ok()) {
    return InvalidArgument(fmt::format("--queue '{}': {}", spec, st.error().message()));
  }
  std::string_view rest = colon == std::string_view::npos ? "" : spec.substr(colon + 1);
  for (std::string_view part : Split(rest, ',')) {
    part = Trim(part);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument(fmt::format("--queue '{}': '{}' must be key=value", spec, part));
    }
    std::string_view key = part.substr(0, eq);
    std::string value(part.substr(eq + 1));
    std::string what = fmt::format("--queue '{}': {}", q.name, key);
    // The limit a key sets: the queue's, each user's, or what it may borrow.
    auto limit = [&](std::string_view k) -> int64_t* {
      queue::Limits* l = &q.limits;
      queue::Vec* borrow = nullptr;
      if (k.starts_with("user_")) {
        l = &q.user_limits;
        k.remove_prefix(5);
      } else if (k.starts_with("borrow_")) {
        borrow = &q.borrowing_limit;
        k.remove_prefix(7);
      }
      queue::Vec& v = borrow != nullptr ? *borrow : l->quota;
      if (k == "cpu") return &v.cpu_millis;
      if (k == "memory") return &v.memory_bytes;
      if (k == "gpu") return &v.gpu;
      if (k == "running" && borrow == nullptr) return &l->max_running;
      return nullptr;
    };
    if (key == "weight") {
      ASSIGN_OR_RETURN(q.weight, ToDouble(value, what));
    } else if (key == "priority") {
      ASSIGN_OR_RETURN(double n, ToDouble(value, what));
      if (n != std::floor(n) || std::abs(n) > 1e6)
        return InvalidArgument(what + " is a whole number");
      q.priority = static_cast<int>(n);
    } else if (key == "cohort") {
      q.cohort = value;
    } else if (int64_t* field = limit(key); field != nullptr) {
      std::string_view k =
          key.substr(key.find('_') == std::string_view::npos ? 0 : key.find('_') + 1);
      int64_t n = -1;
      if (k == "cpu" || k == "memory") {
        auto parsed = k == "cpu" ? ParseCpu(value) : ParseMemory(value);
        if (parsed.ok()) n = *parsed;
      } else {
        auto d = ToDouble(value, what);
        if (d.ok() && *d >= 0 && *d == std::floor(*d) && *d <= 1e12) n = static_cast<int64_t>(*d);
      }
      if (n < 0) {
        return InvalidArgument(what + (k == "cpu"      ? " takes cores such as 40 or 500m"
                                       : k == "memory" ? " takes a quantity such as 160Gi"
                                                       : " takes a whole number >= 0"));
      }
      *field = n;
    } else {
      return InvalidArgument(
          fmt::format("--queue '{}': unknown key '{}'; use weight, priority, cpu, memory, gpu, "
                      "running, user_cpu, user_memory, user_gpu, user_running, cohort, "
                      "borrow_cpu, borrow_memory or borrow_gpu",
                      q.name, key));
    }
  }
  RETURN_IF_ERROR(queue::ValidateQueues({q}));
  return q;
}

// ---------------------------------------------------------------- climate

double SpotClimate::RateAt(Micros t) const {
  if (steps.empty()) return 0;
  Micros off = ((t % kDay) + kDay) % kDay;
  double r = steps.front().rate_per_hour;
  for (const Step& s : steps) {
    if (s.from <= off) r = s.rate_per_hour;
  }
  return r;
}

Micros SpotClimate::InterruptionTime(Micros from, double e) const {
  bool any =
      std::any_of(steps.begin(), steps.end(), [](const Step& s) { return s.rate_per_hour > 0; });
  if (!any) return -1;
  Micros t = from;
  double left = e;
  // Walk the piecewise-constant rate segment by segment; a day has steps.size() segments.
  for (int guard = 0; guard < 1'000'000; ++guard) {
    Micros day_start = t - (((t % kDay) + kDay) % kDay);
    Micros off = t - day_start;
    size_t k = 0;
    for (size_t i = 0; i < steps.size(); ++i) {
      if (steps[i].from <= off) k = i;
    }
    Micros seg_end = day_start + (k + 1 < steps.size() ? steps[k + 1].from : kDay);
    double per_micro = steps[k].rate_per_hour / kMicrosPerHour;
    if (per_micro > 0) {
      double need = left / per_micro;
      if (static_cast<double>(t) + need < static_cast<double>(seg_end)) {
        return t + static_cast<Micros>(std::ceil(need));
      }
      left -= per_micro * static_cast<double>(seg_end - t);
    }
    t = seg_end;
  }
  return -1;
}

Result<SpotClimate> ParseClimate(std::string_view spec) {
  SpotClimate c;
  for (std::string_view part : Split(spec, ',')) {
    part = Trim(part);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    size_t colon = part.find(':');
    if (eq == std::string_view::npos || colon == std::string_view::npos || colon > eq) {
      return InvalidArgument(
          fmt::format("climate step '{}' must be HH:MM=rate (interruptions per node-hour)", part));
    }
    ASSIGN_OR_RETURN(double hh, ToDouble(part.substr(0, colon), "climate hour"));
    ASSIGN_OR_RETURN(double mm, ToDouble(part.substr(colon + 1, eq - colon - 1), "climate minute"));
    ASSIGN_OR_RETURN(double rate, ToDouble(part.substr(eq + 1), "climate rate"));
    if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || hh != std::floor(hh) || mm != std::floor(mm)) {
      return InvalidArgument(fmt::format("climate step '{}': time must be 00:00..23:59", part));
    }
    if (rate < 0 || rate > 1e6) {
      return InvalidArgument(
          fmt::format("climate step '{}': rate must be >= 0 per node-hour", part));
    }
    Micros from = static_cast<Micros>(hh * 3600 + mm * 60) * kMicrosPerSecond;
    c.steps.push_back({from, rate});
  }
  std::stable_sort(
      c.steps.begin(), c.steps.end(),
      [](const SpotClimate::Step& a, const SpotClimate::Step& b) { return a.from < b.from; });
  for (size_t i = 1; i < c.steps.size(); ++i) {
    if (c.steps[i].from == c.steps[i - 1].from) {
      return InvalidArgument("climate: two steps start at the same time");
    }
  }
  // Before the first step the day wraps around: the last step's rate applies.
  if (!c.steps.empty() && c.steps.front().from != 0) {
    c.steps.insert(c.steps.begin(), {0, c.steps.back().rate_per_hour});
  }
  return c;
}

std::string ToString(const SpotClimate& c) {
  std::string out;
  for (const SpotClimate::Step& s : c.steps) {
    int64_t secs = s.from / kMicrosPerSecond;
    out += fmt::format("{}{:02d}:{:02d}={:g}", out.empty() ? "" : ",", secs / 3600,
                       (secs % 3600) / 60, s.rate_per_hour);
  }
  return out;
}

SimConfig DefaultSimConfig() {
  SimConfig c;
  auto climate = ParseClimate(kDefaultClimate);
  if (climate.ok()) c.climate = *climate;
  return c;
}

}  // namespace tug::sim
