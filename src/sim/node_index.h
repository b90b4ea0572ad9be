#pragma once
/// The scheduler's index of ready nodes by what they have allocated, so that a placement costs
/// about the same on 100,000 nodes as on 1,000 while picking exactly the node a scan of every
/// node would (kube-scheduler's NodeResourcesFit: filter on free cpu and memory, score
/// MostAllocated or LeastAllocated 0-100 in integer maths, highest score, ties to the lowest
/// node id).
///
/// Layout, per (node type, capacity type) group, where allocatable is the same for every node:
///  - a class per distinct (used cpu, used memory), found by a hash of the state, holding its
///    node ids in order: nodes in a
///    class score the same for any request and pass the filter together, so the class's best
///    node is its lowest id (an empty cluster of 100,000 nodes is one class);
///  - a 101 × 101 grid of cells by used cpu % × used memory % (floor(used × 100 / allocatable)),
///    each holding the classes that fall in it, with a bit per non-empty cell.
/// A pick walks the cells from the best corner of the region that can hold the request (most
/// allocated first for MostAllocated, least for LeastAllocated). The score is monotone in used
/// cpu and memory, so a cell's best possible score comes from its extreme corner, and the walk
/// stops where that bound falls below the best exact score found. Cells with a bound equal to
/// the best are still opened: one of them may hold a lower node id with the same score. Its cost
/// depends on the classes in the few cells near the best score, not on the number of nodes.
/// (kube-scheduler itself scans nodes, or a sample of them with percentageOfNodesToScore; the
/// simulator needs the exact full-scan answer and 100k-node clusters.)
///
/// Lifecycle: owned by a Cluster, which adds a node when it becomes ready, moves it on every
/// bind and release, and removes it with the node. Threading: not thread-safe. No errors:
/// misuse (moving a node that is not in the index) is asserted.
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace tug::sim {

enum class Capacity : uint8_t;
enum class Affinity : uint8_t;
enum class Scoring : uint8_t;
struct NodeType;

/// NodeResourcesFit's score of one resource, 0-100, for `requested` (used + the pod's request)
/// of `allocatable` (kube's integer maths; 0 when it does not fit).
int64_t ResourceScore(int64_t requested, int64_t allocatable, Scoring scoring);

class NodeIndex {
 public:
  explicit NodeIndex(const std::vector<NodeType>& types);

  /// A node that became ready, with what it has allocated.
  void Add(int id, int type, Capacity capacity, int64_t used_cpu, int64_t used_mem);
  void Remove(int id);
  /// The node's allocation changed (a bind or a release).
  void Update(int id, int64_t used_cpu, int64_t used_mem);
  bool Contains(int id) const {
    return static_cast<size_t>(id) < where_.size() && where_[id].group >= 0;
  }
  /// The node the scheduler picks for the request, or -1 when no indexed node holds it. Nodes of
  /// types with GPUs are candidates only with `gpu_nodes` (they are tainted for pods that ask
  /// for no GPU; Cluster::Pick places GPU pods itself).
  int Pick(int64_t cpu, int64_t mem, Affinity affinity, Scoring scoring,
           bool gpu_nodes = false) const;

 private:
  static constexpr int kSteps = 101;  // 0..100 %

  struct Bits128 {
    std::array<uint64_t, 2> w{};
    void Set(int i) { w[i >> 6] |= uint64_t{1} << (i & 63); }
    void Clear(int i) { w[i >> 6] &= ~(uint64_t{1} << (i & 63)); }
    /// The highest set bit <= k, or -1.
    int HighestAtMost(int k) const;
    /// The lowest set bit >= k, or -1.
    int LowestAtLeast(int k) const;
  };
  /// A class as a pick reads it, stored in its cell's list: the state, the remainders of
  /// used × 100 / allocatable (the score of any request follows from them without a division)
  /// and the lowest node id.
  struct Entry {
    int64_t cpu = 0;
    int64_t mem = 0;
    int64_t cpu_rem = 0;
    int64_t mem_rem = 0;
    int min_id = 0;
    int klass = 0;  // index in class_pool_
  };
  struct Class {
    /// Its node ids, highest first: the pick takes the lowest, which leaves from the back.
    /// Classes are reused, so in a steady state their vectors no longer allocate.
    std::vector<int> ids;
    int cell = -1;
    int slot = -1;  // position in its cell's entries
  };
  /// One resource's axis of a group: allocatable and the range of used values in a step.
  struct Axis {
    int64_t allocatable = 0;
    int Step(int64_t used) const;
    int64_t Low(int step) const;   // the least used value in the step
    int64_t High(int step) const;  // the greatest
  };
  struct Cell {
    std::vector<Entry> entries;
    int min_id = std::numeric_limits<int>::max();  // of its nodes
  };
  struct Group {
    Axis cpu;
    Axis mem;
    bool exact_maths = true;           // both allocatables > 0
    bool gpu = false;                  // its type has GPUs
    std::vector<Cell> cells;           // kSteps × kSteps, cpu step major
    std::array<Bits128, kSteps> rows;  // non-empty memory steps per cpu step
    Bits128 any_row;                   // cpu steps with a non-empty cell
  };
  /// (group, used cpu, used memory) → class: open addressing with linear probing, deletion by
  /// backward shift (no tombstones), at most half full.
  class StateTable {
   public:
    int Find(int group, int64_t cpu, int64_t mem) const;
    void Insert(int group, int64_t cpu, int64_t mem, int klass);
    void Erase(int group, int64_t cpu, int64_t mem);

   private:
    struct Slot {
      int64_t cpu = 0;
      int64_t mem = 0;
      int group = 0;
      int klass = -1;  // -1: empty
    };
    size_t Home(int group, int64_t cpu, int64_t mem) const;
    size_t Probe(int group, int64_t cpu, int64_t mem) const;  // its slot, or the empty one
    void Grow();
    std::vector<Slot> slots_ = std::vector<Slot>(64);
    size_t used_ = 0;
  };
  struct Where {
    int group = -1;
    int klass = -1;
  };
  struct Best {
    int64_t score = -1;
    int id = -1;
  };

  void Insert(int id, int group, int64_t used_cpu, int64_t used_mem);
  void Erase(int id);
  template <Scoring kScoring>
  void PickIn(const Group& g, int64_t cpu, int64_t mem, Best& best) const;

  int capacities_ = 2;
  std::vector<Group> groups_;  // type × capacity
  StateTable states_;
  std::vector<Class> class_pool_;
  std::vector<int> free_classes_;
  std::vector<Where> where_;  // by node id
};

}  // namespace tug::sim
