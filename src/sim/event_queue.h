#pragma once
// Internal to src/sim: the simulation's event queue, a 4-ary min-heap. It pops in exactly the
// order std::priority_queue did (the order is total: no two events share a sequence number),
// with half the levels, and a node's four children share a cache line or two: a day of a large
// trace keeps a million events in flight (progress events outdated by later binds stay until
// their time), and a binary heap's pops missed the cache at every level.
//
// Lifecycle: a value. Threading: not thread-safe. No errors: top/pop on an empty queue are
// programming errors (asserted).
#include <algorithm>
#include <cassert>
#include <cstddef>
#include <utility>
#include <vector>

namespace tug::sim::internal {

/// `Before(a, b)`: a pops first.
template <typename T, typename Before>
class QuaternaryHeap {
 public:
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  const T& top() const {
    assert(!items_.empty());
    return items_.front();
  }

  void push(const T& item) {
    size_t i = items_.size();
    items_.push_back(item);
    while (i > 0) {
      size_t parent = (i - 1) / kArity;
      if (!before_(item, items_[parent])) break;
      items_[i] = std::move(items_[parent]);
      i = parent;
    }
    items_[i] = item;
  }

  void pop() {
    assert(!items_.empty());
    T last = std::move(items_.back());
    items_.pop_back();
    if (items_.empty()) return;
    size_t i = 0;
    const size_t n = items_.size();
    while (true) {
      size_t first = i * kArity + 1;
      if (first >= n) break;
      size_t best = first;
      size_t end = std::min(first + kArity, n);
      for (size_t c = first + 1; c < end; ++c) {
        if (before_(items_[c], items_[best])) best = c;
      }
      if (!before_(items_[best], last)) break;
      items_[i] = std::move(items_[best]);
      i = best;
    }
    items_[i] = std::move(last);
  }

 private:
  static constexpr size_t kArity = 4;
  std::vector<T> items_;
  Before before_;
};

}  // namespace tug::sim::internal
