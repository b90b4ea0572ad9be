#include "sim/node_index.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <functional>
#include <limits>

#include "sim/cluster.h"

namespace tug::sim {
namespace {

constexpr int64_t kMaxNodeScore = 100;

}  // namespace

int64_t ResourceScore(int64_t requested, int64_t allocatable, Scoring scoring) {
  if (allocatable <= 0 || requested > allocatable) return 0;
  if (scoring == Scoring::kMostAllocated) return requested * kMaxNodeScore / allocatable;
  return (allocatable - requested) * kMaxNodeScore / allocatable;
}

// ---------------------------------------------------------------- bits and axes

int NodeIndex::Bits128::HighestAtMost(int k) const {
  if (k < 0) return -1;
  if (k >= 64) {
    uint64_t hi = w[1];
    if (k < 127) hi &= (uint64_t{2} << (k - 64)) - 1;
    if (hi != 0) return 127 - std::countl_zero(hi);
    k = 63;
  }
  uint64_t lo = w[0];
  if (k < 63) lo &= (uint64_t{2} << k) - 1;
  return lo != 0 ? 63 - std::countl_zero(lo) : -1;
}

int NodeIndex::Bits128::LowestAtLeast(int k) const {
  if (k < 64) {
    uint64_t lo = w[0] & (~uint64_t{0} << std::max(k, 0));
    if (lo != 0) return std::countr_zero(lo);
    k = 64;
  }
  if (k > 127) return -1;
  uint64_t hi = w[1] & (~uint64_t{0} << (k - 64));
  return hi != 0 ? 64 + std::countr_zero(hi) : -1;
}

// Step s holds the used values u with floor(u × 100 / allocatable) = s, that is
// ceil(s × allocatable / 100) <= u <= ceil((s + 1) × allocatable / 100) - 1. Used is never
// negative nor above allocatable (Cluster asserts it), so step 100 is exactly u = allocatable.
int NodeIndex::Axis::Step(int64_t used) const {
  if (allocatable <= 0) return 0;
  return static_cast<int>(std::clamp<int64_t>(used * 100 / allocatable, 0, 100));
}

int64_t NodeIndex::Axis::Low(int step) const {
  if (allocatable <= 0) return 0;
  return (step * allocatable + 99) / 100;
}

int64_t NodeIndex::Axis::High(int step) const {
  if (allocatable <= 0) return 0;
  if (step >= 100) return allocatable;
  return ((step + 1) * allocatable + 99) / 100 - 1;
}

// ---------------------------------------------------------------- the state table

size_t NodeIndex::StateTable::Home(int group, int64_t cpu, int64_t mem) const {
  // splitmix64's finaliser over a mix of the three: memory is in whole MiB, so low bits alone
  // would collide.
  uint64_t x = static_cast<uint64_t>(cpu) * 0x9E3779B97F4A7C15ULL ^
               static_cast<uint64_t>(mem) * 0xC2B2AE3D27D4EB4FULL ^ static_cast<uint64_t>(group);
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return static_cast<size_t>(x) & (slots_.size() - 1);
}

size_t NodeIndex::StateTable::Probe(int group, int64_t cpu, int64_t mem) const {
  size_t mask = slots_.size() - 1;
  for (size_t i = Home(group, cpu, mem);; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.klass < 0 || (s.cpu == cpu && s.mem == mem && s.group == group)) return i;
  }
}

int NodeIndex::StateTable::Find(int group, int64_t cpu, int64_t mem) const {
  return slots_[Probe(group, cpu, mem)].klass;
}

void NodeIndex::StateTable::Insert(int group, int64_t cpu, int64_t mem, int klass) {
  if (2 * (used_ + 1) > slots_.size()) Grow();
  Slot& s = slots_[Probe(group, cpu, mem)];
  assert(s.klass < 0);
  s = Slot{cpu, mem, group, klass};
  ++used_;
}

void NodeIndex::StateTable::Erase(int group, int64_t cpu, int64_t mem) {
  size_t mask = slots_.size() - 1;
  size_t hole = Probe(group, cpu, mem);
  assert(slots_[hole].klass >= 0);
  // Backward shift: a later slot of the run moves into the hole unless its home lies
  // cyclically in (hole, slot], where a lookup would no longer pass the hole to reach it.
  for (size_t i = (hole + 1) & mask; slots_[i].klass >= 0; i = (i + 1) & mask) {
    size_t home = Home(slots_[i].group, slots_[i].cpu, slots_[i].mem);
    if (((i - home) & mask) >= ((i - hole) & mask)) {
      slots_[hole] = slots_[i];
      hole = i;
    }
  }
  slots_[hole] = Slot{};
  --used_;
}

void NodeIndex::StateTable::Grow() {
  std::vector<Slot> old(slots_.size() * 2);
  old.swap(slots_);
  for (const Slot& s : old) {
    if (s.klass >= 0) slots_[Probe(s.group, s.cpu, s.mem)] = s;
  }
}

// ---------------------------------------------------------------- membership

NodeIndex::NodeIndex(const std::vector<NodeType>& types) {
  groups_.resize(types.size() * capacities_);
  for (size_t t = 0; t < types.size(); ++t) {
    for (int c = 0; c < capacities_; ++c) {
      Group& g = groups_[t * capacities_ + c];
      g.cpu.allocatable = types[t].cpu_millis;
      g.mem.allocatable = types[t].memory_bytes;
      g.exact_maths = g.cpu.allocatable > 0 && g.mem.allocatable > 0;
      g.gpu = types[t].gpus > 0;
      g.cells.resize(static_cast<size_t>(kSteps) * kSteps);
    }
  }
}

void NodeIndex::Add(int id, int type, Capacity capacity, int64_t used_cpu, int64_t used_mem) {
  if (where_.size() <= static_cast<size_t>(id)) where_.resize(id + 1);
  assert(where_[id].group < 0);
  Insert(id, type * capacities_ + static_cast<int>(capacity), used_cpu, used_mem);
}

void NodeIndex::Remove(int id) {
  assert(Contains(id));
  Erase(id);
  where_[id] = Where{};
}

void NodeIndex::Update(int id, int64_t used_cpu, int64_t used_mem) {
  assert(Contains(id));
  Where w = where_[id];
  const Class& k = class_pool_[w.klass];
  const Entry& e = groups_[w.group].cells[k.cell].entries[k.slot];
  if (e.cpu == used_cpu && e.mem == used_mem) return;
  Erase(id);
  Insert(id, w.group, used_cpu, used_mem);
}

void NodeIndex::Insert(int id, int group, int64_t used_cpu, int64_t used_mem) {
  Group& g = groups_[group];
  assert(used_cpu >= 0 && used_mem >= 0);
  assert(g.cpu.allocatable <= 0 || used_cpu <= g.cpu.allocatable);
  assert(g.mem.allocatable <= 0 || used_mem <= g.mem.allocatable);
  int row = g.cpu.Step(used_cpu);
  int col = g.mem.Step(used_mem);
  int cell_index = row * kSteps + col;
  Cell& cell = g.cells[cell_index];
  int k = states_.Find(group, used_cpu, used_mem);
  if (k < 0) {
    if (free_classes_.empty()) {
      k = static_cast<int>(class_pool_.size());
      class_pool_.emplace_back();
    } else {
      k = free_classes_.back();
      free_classes_.pop_back();
    }
    Class& c = class_pool_[k];
    c.cell = cell_index;
    c.slot = static_cast<int>(cell.entries.size());
    Entry e;
    e.cpu = used_cpu;
    e.mem = used_mem;
    if (g.exact_maths) {
      e.cpu_rem = used_cpu * 100 % g.cpu.allocatable;
      e.mem_rem = used_mem * 100 % g.mem.allocatable;
    }
    e.min_id = id;
    e.klass = k;
    cell.entries.push_back(e);
    states_.Insert(group, used_cpu, used_mem, k);
    g.rows[row].Set(col);
    g.any_row.Set(row);
  }
  Class& c = class_pool_[k];
  c.ids.insert(std::lower_bound(c.ids.begin(), c.ids.end(), id, std::greater<>()), id);
  Entry& e = cell.entries[c.slot];
  e.min_id = std::min(e.min_id, id);
  cell.min_id = std::min(cell.min_id, id);
  where_[id] = Where{group, k};
}

void NodeIndex::Erase(int id) {
  Where w = where_[id];
  Group& g = groups_[w.group];
  Class& c = class_pool_[w.klass];
  Cell& cell = g.cells[c.cell];
  auto it = std::lower_bound(c.ids.begin(), c.ids.end(), id, std::greater<>());
  assert(it != c.ids.end() && *it == id);
  c.ids.erase(it);
  if (!c.ids.empty()) {
    cell.entries[c.slot].min_id = c.ids.back();
  } else {
    states_.Erase(w.group, cell.entries[c.slot].cpu, cell.entries[c.slot].mem);
    cell.entries[c.slot] = cell.entries.back();
    class_pool_[cell.entries[c.slot].klass].slot = c.slot;
    cell.entries.pop_back();
    free_classes_.push_back(w.klass);
    if (cell.entries.empty()) {
      int row = c.cell / kSteps;
      g.rows[row].Clear(c.cell % kSteps);
      if (g.rows[row].HighestAtMost(kSteps - 1) < 0) g.any_row.Clear(row);
    }
  }
  if (cell.min_id == id) {
    cell.min_id = std::numeric_limits<int>::max();
    for (const Entry& e : cell.entries) cell.min_id = std::min(cell.min_id, e.min_id);
  }
}

// ---------------------------------------------------------------- picking

// The walk starts at the best corner: the most allocated cells that can still hold the request
// for MostAllocated (the score grows with used cpu and memory), the least allocated for
// LeastAllocated (it falls). A cell's bound is the score at its extreme used values, so the
// bounds fall along the walk, in each row and from row to row.
//
// Exact scores without a division: with used × 100 = q × allocatable + r (q is the cell's step)
// and request × 100 = k × allocatable + rq,
//   MostAllocated:  floor((used + request) × 100 / allocatable) = q + k + [r + rq >= allocatable]
//   LeastAllocated: floor((allocatable - used - request) × 100 / allocatable)
//                   = 100 - q - k - ceil((r + rq) / allocatable), which is 0, 1 or 2.
template <Scoring kScoring>
void NodeIndex::PickIn(const Group& g, int64_t cpu, int64_t mem, Best& best) const {
  constexpr bool kMost = kScoring == Scoring::kMostAllocated;
  const int64_t cpu_alloc = g.cpu.allocatable;
  const int64_t mem_alloc = g.mem.allocatable;
  const int64_t max_cpu = cpu_alloc - cpu;  // the most a node may have used and still fit
  const int64_t max_mem = mem_alloc - mem;
  if (max_cpu < 0 || max_mem < 0) return;
  const int top_row = g.cpu.Step(max_cpu);
  const int top_col = g.mem.Step(max_mem);
  // One resource's score from the step and remainder of used × 100 (see above).
  auto axis_score = [](int step, int64_t rem, int64_t k, int64_t rq,
                       int64_t allocatable) -> int64_t {
    int64_t r = rem + rq;
    if (kMost) return step + k + (r >= allocatable ? 1 : 0);
    return 100 - step - k - (r == 0 ? 0 : (r <= allocatable ? 1 : 2));
  };
  int64_t kc = 0, rc = 0, km = 0, rm = 0;
  if (g.exact_maths) {
    kc = cpu * 100 / cpu_alloc;
    rc = cpu * 100 % cpu_alloc;
    km = mem * 100 / mem_alloc;
    rm = mem * 100 % mem_alloc;
  }
  // A step's bound: the score at its most allocated value that still fits (MostAllocated) or
  // its least allocated one (LeastAllocated).
  auto bound = [&](const Axis& axis, int step, int64_t max_used, int64_t k, int64_t rq,
                   int64_t request) {
    int64_t used = kMost ? std::min(axis.High(step), max_used) : axis.Low(step);
    if (!g.exact_maths) return ResourceScore(used + request, axis.allocatable, kScoring);
    return axis_score(step, used * 100 - step * axis.allocatable, k, rq, axis.allocatable);
  };
  auto cpu_bound = [&](int row) { return bound(g.cpu, row, max_cpu, kc, rc, cpu); };
  auto mem_bound = [&](int col) { return bound(g.mem, col, max_mem, km, rm, mem); };
  const int64_t mem_ceiling = mem_bound(kMost ? top_col : 0);
  for (int row = kMost ? g.any_row.HighestAtMost(top_row) : g.any_row.LowestAtLeast(0);
       row >= 0 && row <= top_row;
       row = kMost ? g.any_row.HighestAtMost(row - 1) : g.any_row.LowestAtLeast(row + 1)) {
    const int64_t row_score = cpu_bound(row);
    // Every row further along scores at most this, whatever its memory.
    if ((row_score + mem_ceiling) / 2 < best.score) break;
    const Bits128& cols = g.rows[row];
    for (int col = kMost ? cols.HighestAtMost(top_col) : cols.LowestAtLeast(0);
         col >= 0 && col <= top_col;
         col = kMost ? cols.HighestAtMost(col - 1) : cols.LowestAtLeast(col + 1)) {
      const int64_t cell_bound = (row_score + mem_bound(col)) / 2;
      if (cell_bound < best.score) break;
      // A cell that can at best tie matters only for a lower id. Spreading (LeastAllocated)
      // makes many nodes score the same, so this skips most of the cells it opens.
      const Cell& cell = g.cells[row * kSteps + col];
      const bool tie_only = cell_bound == best.score;
      if (tie_only && cell.min_id > best.id) continue;
      for (const Entry& e : cell.entries) {
        if ((tie_only && e.min_id > best.id) || e.cpu > max_cpu || e.mem > max_mem) continue;
        int64_t score = 0;
        if (g.exact_maths) {
          score = (axis_score(row, e.cpu_rem, kc, rc, cpu_alloc) +
                   axis_score(col, e.mem_rem, km, rm, mem_alloc)) /
                  2;
        } else {
          score = (ResourceScore(e.cpu + cpu, cpu_alloc, kScoring) +
                   ResourceScore(e.mem + mem, mem_alloc, kScoring)) /
                  2;
        }
        if (score > best.score || (score == best.score && e.min_id < best.id)) {
          best = Best{score, e.min_id};
        }
      }
    }
  }
}

int NodeIndex::Pick(int64_t cpu, int64_t mem, Affinity affinity, Scoring scoring,
                    bool gpu_nodes) const {
  // Requests are never negative (pods ask for something); the bounds rely on it.
  assert(cpu >= 0 && mem >= 0);
  Best best;
  for (size_t i = 0; i < groups_.size(); ++i) {
    if (!Accepts(affinity, static_cast<Capacity>(i % capacities_))) continue;
    const Group& g = groups_[i];
    if (g.gpu && !gpu_nodes) continue;
    if (!g.any_row.w[0] && !g.any_row.w[1]) continue;
    if (scoring == Scoring::kMostAllocated) {
      PickIn<Scoring::kMostAllocated>(g, cpu, mem, best);
    } else {
      PickIn<Scoring::kLeastAllocated>(g, cpu, mem, best);
    }
  }
  return best.id;
}

}  // namespace tug::sim
