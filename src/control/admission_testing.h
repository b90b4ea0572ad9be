#pragma once
/// Test helper (admission_test, tests/queues_replicas_test): the scheduler an Admission keeps
/// between rounds must equal one rebuilt from the store at the same time.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "control/admission.h"

namespace tug::control::testing {

/// Compares `a.Snapshot()` (taken right after a round at `now`) with a scheduler built from the
/// store's entries due at `now`: usage, running and queued counts, shares and blocked reasons of
/// every queue. `where` names the step in failures.
inline void ExpectKeptEqualsRebuilt(Admission& a, store::Store& store,
                                    const std::vector<queue::QueueSpec>& queues, Micros now,
                                    const std::string& where) {
  auto entries = store.ListQueueEntries(now);
  ASSERT_TRUE(entries.ok()) << entries.error().ToString();
  auto rebuilt = BuildScheduler(queues, {}, *entries);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().ToString();
  const std::vector<queue::QueueStatus> want = rebuilt->Snapshot();
  const std::vector<queue::QueueStatus> got = a.Snapshot();
  ASSERT_EQ(got.size(), want.size()) << where;
  for (size_t i = 0; i < want.size(); ++i) {
    const std::string q = want[i].spec.name;
    EXPECT_EQ(got[i].spec.name, q) << where;
    EXPECT_EQ(got[i].usage, want[i].usage) << where << ": usage of " << q;
    EXPECT_EQ(got[i].running, want[i].running) << where << ": running in " << q;
    EXPECT_EQ(got[i].queued, want[i].queued) << where << ": queued in " << q;
    EXPECT_DOUBLE_EQ(got[i].share, want[i].share) << where << ": share of " << q;
    EXPECT_EQ(got[i].blocked, want[i].blocked) << where << ": blocked in " << q;
  }
}

}  // namespace tug::control::testing
