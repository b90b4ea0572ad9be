#include "core/model.h"

#include <gtest/gtest.h>

namespace tug {
namespace {

constexpr AttemptStatus kAll[] = {AttemptStatus::kQueued,  AttemptStatus::kLaunching,
                                  AttemptStatus::kRunning, AttemptStatus::kSucceeded,
                                  AttemptStatus::kFailed,  AttemptStatus::kStopped,
                                  AttemptStatus::kLost};

TEST(StateMachineTest, AttemptTransitionsTable) {
  using S = AttemptStatus;
  struct Case {
    S from;
    S to;
    bool ok;
  };
  const Case cases[] = {
      {S::kQueued, S::kLaunching, true},  {S::kQueued, S::kStopped, true},
      {S::kQueued, S::kRunning, false},   {S::kQueued, S::kSucceeded, false},
      {S::kLaunching, S::kRunning, true}, {S::kLaunching, S::kFailed, true},
      {S::kLaunching, S::kLost, true},    {S::kLaunching, S::kQueued, false},
      {S::kRunning, S::kSucceeded, true}, {S::kRunning, S::kStopped, true},
      {S::kRunning, S::kQueued, false},   {S::kRunning, S::kLaunching, false},
      {S::kSucceeded, S::kFailed, false}, {S::kFailed, S::kRunning, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(CanTransition(c.from, c.to), c.ok) << ToString(c.from) << "->" << ToString(c.to);
  }
  for (S s : kAll) {
    EXPECT_FALSE(CanTransition(s, s)) << "self move " << ToString(s);
    if (IsTerminal(s)) {
      for (S t : kAll) EXPECT_FALSE(CanTransition(s, t)) << "terminal " << ToString(s);
    }
  }
}

TEST(StateMachineTest, RunTransitions) {
  using R = RunStatus;
  EXPECT_TRUE(CanTransition(R::kQueued, R::kRunning));
  EXPECT_TRUE(CanTransition(R::kQueued, R::kStopped));
  EXPECT_TRUE(CanTransition(R::kRunning, R::kSucceeded));
  EXPECT_FALSE(CanTransition(R::kSucceeded, R::kRunning));
  EXPECT_FALSE(CanTransition(R::kStopped, R::kQueued));
  EXPECT_EQ(RunStatusForFinalAttempt(AttemptStatus::kSucceeded), R::kSucceeded);
  EXPECT_EQ(RunStatusForFinalAttempt(AttemptStatus::kLost), R::kLost);
  EXPECT_EQ(*ParseRunStatus("running"), R::kRunning);
  EXPECT_FALSE(ParseRunStatus("DONE").ok());
}

TEST(ValidateTest, MessagesSayWhatToFix) {
  Limits limits;
  Definition d;
  d.name = "hello";
  d.command = "echo hi";
  EXPECT_TRUE(Validate(d, limits).ok());
  d.resources.memory_bytes = limits.max_memory_bytes * 2;
  auto st = Validate(d, limits);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), Code::kFailedPrecondition);
  EXPECT_NE(st.error().message().find("lower it"), std::string::npos);
  d.resources.memory_bytes = 0;
  d.name = "Bad Name";
  EXPECT_EQ(Validate(d, limits).error().code(), Code::kInvalidArgument);
  d.name = "ok";
  d.command.clear();
  EXPECT_NE(Validate(d, limits).error().message().find("no command"), std::string::npos);
  d.command = "x";
  d.working_dir = "relative";
  EXPECT_FALSE(Validate(d, limits).ok());
}

TEST(ValidateTest, OverridesApply) {
  Definition d;
  d.env = {{"A", "1"}, {"B", "2"}};
  d.resources = {64 << 20, 500};
  RunOverrides o;
  o.env = {{"B", "3"}};
  o.resources.memory_bytes = 128 << 20;
  Definition out = ApplyOverrides(d, o);
  EXPECT_EQ(out.env.at("A"), "1");
  EXPECT_EQ(out.env.at("B"), "3");
  EXPECT_EQ(out.resources.memory_bytes, 128 << 20);
  EXPECT_EQ(out.resources.cpu_millis, 500);
}

}  // namespace
}  // namespace tug
