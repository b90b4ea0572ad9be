#include "core/error.h"

#include <gtest/gtest.h>

namespace tug {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x));
  return OkStatus();
}

TEST(ErrorTest, MacrosPropagate) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_FALSE(CheckEven(3).ok());
}

TEST(ErrorTest, HttpMapping) {
  EXPECT_EQ(HttpStatus(Code::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatus(Code::kNotFound), 404);
  EXPECT_EQ(HttpStatus(Code::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatus(Code::kFailedPrecondition), 422);
  EXPECT_EQ(HttpStatus(Code::kResourceExhausted), 413);
  EXPECT_EQ(HttpStatus(Code::kInternal), 500);
  EXPECT_EQ(CodeName(Code::kNotFound), "not_found");
}

TEST(ErrorTest, ContextAndToString) {
  Error e = NotFound("run 'x' not found");
  Error e2 = std::move(e).WithContext("stopping");
  EXPECT_EQ(e2.message(), "stopping: run 'x' not found");
  EXPECT_EQ(Internal("boom", "errno 5").ToString(), "internal: boom (errno 5)");
}

}  // namespace
}  // namespace tug
