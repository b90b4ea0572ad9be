#include "metrics/registry.h"

#include <algorithm>

#include <fmt/format.h>

namespace tug::metrics {

void Counter::Inc(double v) {
  double cur = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), counts_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double v) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  double cur = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Take() const {
  Snapshot s;
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    acc += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(acc);
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  s.count = acc;
  return s;
}

template <class T>
T& Family<T>::With(const Labels& labels) {
  std::lock_guard lock(mu_);
  auto it = series_.find(labels);
  if (it == series_.end()) it = series_.emplace(labels, make_()).first;
  return *it->second;
}

template <class T>
void Family<T>::ForEach(const std::function<void(const Labels&, const T&)>& fn) const {
  std::lock_guard lock(mu_);
  for (const auto& [labels, series] : series_) fn(labels, *series);
}

template class Family<Counter>;
template class Family<Histogram>;

namespace {

std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string Number(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v)) && v < 1e15 && v > -1e15) {
    return std::to_string(static_cast<int64_t>(v));
  }
  return fmt::format("{}", v);
}

}  // namespace

std::string FormatLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ",";
    out += labels[i].first + "=\"" + Escape(labels[i].second) + "\"";
  }
  out += "}";
  return out;
}

void AppendSample(std::string& out, const std::string& name, const Labels& labels, double value) {
  out += name;
  out += FormatLabels(labels);
  out += " ";
  out += Number(value);
  out += "\n";
}

Family<Counter>& Registry::AddCounter(const std::string& name, const std::string& help) {
  std::lock_guard lock(mu_);
  counters_.push_back(
      std::make_unique<Family<Counter>>(name, help, [] { return std::make_unique<Counter>(); }));
  return *counters_.back();
}

Family<Histogram>& Registry::AddHistogram(const std::string& name, const std::string& help,
                                          const std::vector<double>& bounds) {
  std::lock_guard lock(mu_);
  histograms_.push_back(std::make_unique<Family<Histogram>>(
      name, help, [bounds] { return std::make_unique<Histogram>(bounds); }));
  return *histograms_.back();
}

void Registry::AddCollector(std::function<void(std::string&)> fn) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(fn));
}

std::string Registry::Render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& f : counters_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", f->name(), f->help(), f->name());
    f->ForEach([&](const Labels& labels, const Counter& c) {
      AppendSample(out, f->name(), labels, c.Value());
    });
  }
  for (const auto& f : histograms_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", f->name(), f->help(), f->name());
    f->ForEach([&](const Labels& labels, const Histogram& h) {
      Histogram::Snapshot s = h.Take();
      for (size_t i = 0; i <= h.bounds().size(); ++i) {
        Labels l = labels;
        l.emplace_back("le", i < h.bounds().size() ? Number(h.bounds()[i]) : "+Inf");
        AppendSample(out, f->name() + "_bucket", l, static_cast<double>(s.cumulative[i]));
      }
      AppendSample(out, f->name() + "_sum", labels, s.sum);
      AppendSample(out, f->name() + "_count", labels, static_cast<double>(s.count));
    });
  }
  for (const auto& c : collectors_) c(out);
  return out;
}

}  // namespace tug::metrics
