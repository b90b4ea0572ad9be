#pragma once
/// Prometheus exposition of the service: counters and histograms with labels, plus collectors
/// that compute gauges at scrape time (e.g. runs by status from the store).
///
/// Threading: everything is thread-safe. A family hands out stable references to its series, so
/// hot paths can keep the reference and skip the label lookup.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tug::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Inc(double v = 1);
  double Value() const { return value_.load(); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  void Observe(double v);
  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Take() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  // Lock-free: a scrape may see a sample counted in one field before another, which Prometheus
  // tolerates; the hot path takes no lock.
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket (not cumulative), last is +Inf
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

template <class T>
class Family {
 public:
  Family(std::string name, std::string help, std::function<std::unique_ptr<T>()> make)
      : name_(std::move(name)), help_(std::move(help)), make_(std::move(make)) {}
  /// The series for these labels (created on first use); the reference stays valid.
  T& With(const Labels& labels);
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  /// Calls fn(labels, series) for each series in label order.
  void ForEach(const std::function<void(const Labels&, const T&)>& fn) const;

 private:
  std::string name_;
  std::string help_;
  std::function<std::unique_ptr<T>()> make_;
  mutable std::mutex mu_;
  std::map<Labels, std::unique_ptr<T>> series_;
};

class Registry {
 public:
  Family<Counter>& AddCounter(const std::string& name, const std::string& help);
  Family<Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                  const std::vector<double>& bounds);
  /// fn appends complete exposition text (HELP, TYPE and samples) at scrape time.
  void AddCollector(std::function<void(std::string&)> fn);
  /// The Prometheus text format (version 0.0.4).
  std::string Render() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family<Counter>>> counters_;
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
  std::vector<std::function<void(std::string&)>> collectors_;
};

/// {a="b",c="d"} with Prometheus escaping; "" for no labels.
std::string FormatLabels(const Labels& labels);
/// A gauge sample line: name{labels} value\n
void AppendSample(std::string& out, const std::string& name, const Labels& labels, double value);

}  // namespace tug::metrics
