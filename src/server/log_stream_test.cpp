#include "server/log_stream.h"

#include <gtest/gtest.h>

namespace tug::server {
namespace {

TEST(LogStreamTest, StripsTimeAndStream) {
  EXPECT_EQ(LogStream::StripPrefixes("2026-11-24T08:00:00.000001Z stdout hello world\n"
                                     "2026-11-24T08:00:00.000002Z stderr oops\n"
                                     "2026-11-24T08:00:00.000003Z stdout \n"
                                     "2026-11-24T08:00:00.000004Z tugboat exited with code 0\n"),
            "hello world\noops\n\n[tugboat] exited with code 0\n");
  EXPECT_EQ(LogStream::StripPrefixes("garbage\n"), "garbage\n");
}

}  // namespace
}  // namespace tug::server
