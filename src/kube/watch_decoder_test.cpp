#include "kube/watch_decoder.h"

#include <gtest/gtest.h>

namespace tug::kube {
namespace {

const std::string kBody =
    R"({"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"11"}}})"
    "\n"
    R"({"type":"BOOKMARK","object":{"kind":"ConfigMap","metadata":{"resourceVersion":"12"}}})"
    "\n"
    R"({"type":"DELETED","object":{"kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"13"}}})"
    "\n";

std::string Summary(const WatchEvent& e) {
  return e.type + ":" +
         std::string(e.object.at("metadata").at("resourceVersion").as_string().c_str());
}

TEST(WatchDecoderTest, SplitsLinesAtEveryChunkBoundary) {
  for (size_t a = 0; a <= kBody.size(); ++a) {
    for (size_t b = a; b <= kBody.size(); b += 7) {
      WatchDecoder d;
      std::vector<std::string> seen;
      auto on = [&](const WatchEvent& e) {
        seen.push_back(Summary(e));
        return true;
      };
      for (auto piece : {kBody.substr(0, a), kBody.substr(a, b - a), kBody.substr(b)}) {
        auto r = d.Feed(piece, on);
        ASSERT_TRUE(r.ok()) << r.error().ToString();
        ASSERT_TRUE(*r);
      }
      auto f = d.Finish(on);
      ASSERT_TRUE(f.ok());
      ASSERT_EQ(seen, (std::vector<std::string>{"ADDED:11", "BOOKMARK:12", "DELETED:13"}))
          << a << " " << b;
    }
  }
}

TEST(WatchDecoderTest, ALastLineWithoutNewlineIsDecodedAtTheEnd) {
  WatchDecoder d;
  int n = 0;
  auto on = [&](const WatchEvent&) { return ++n > 0; };
  std::string body = kBody.substr(0, kBody.size() - 1);
  ASSERT_TRUE(d.Feed(body, on).ok());
  EXPECT_EQ(n, 2);
  ASSERT_TRUE(d.Finish(on).ok());
  EXPECT_EQ(n, 3);
}

TEST(WatchDecoderTest, StopsWhenTheHandlerSaysSo) {
  WatchDecoder d;
  int n = 0;
  auto r = d.Feed(kBody, [&](const WatchEvent&) { return ++n < 2; });
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  EXPECT_EQ(n, 2);
}

TEST(WatchDecoderTest, ErrorEventsAreErrorsAnd410IsGone) {
  WatchDecoder d;
  auto r =
      d.Feed(R"({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure",)"
             R"j("message":"too old resource version: 1 (42)","reason":"Expired","code":410}})j"
             "\n",
             [](const WatchEvent&) { return true; });
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(IsGone(r.error()));
  EXPECT_EQ(r.error().message(), "too old resource version: 1 (42)");
  EXPECT_EQ(r.error().detail(), "HTTP 410 Expired");

  WatchDecoder d2;
  auto r2 = d2.Feed(R"({"type":"ERROR","object":{"kind":"Status","code":500,"message":"boom"}})"
                    "\n",
                    [](const WatchEvent&) { return true; });
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().code(), Code::kUnavailable);
}

TEST(WatchDecoderTest, MalformedLinesAreUnavailable) {
  WatchDecoder d;
  auto r = d.Feed("<html>oops</html>\n", [](const WatchEvent&) { return true; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
  EXPECT_NE(r.error().message().find("malformed watch event"), std::string::npos);
}

// Found by fuzz_watch_decoder: {"type":"","object":{...}} was handed on as an event (the
// informer took its resourceVersion, the engine dropped it). client-go refuses such lines.
TEST(WatchDecoderTest, UnknownTypesAndMissingObjectsAreUnavailable) {
  for (const char* line :
       {R"({"type":"","object":{"kindtus":"Feqrror","code":400}})",
        R"({"type":"ADDDED","object":{"kind":"Pod"}})", R"({"type":"MODIFIED"})",
        R"({"type":"DELETED","object":[1]})", R"({"type":"ADDED","object":null})"}) {
    WatchDecoder d;
    int n = 0;
    auto r = d.Feed(std::string(line) + "\n", [&](const WatchEvent&) { return ++n > 0; });
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_EQ(r.error().code(), Code::kUnavailable) << line;
    EXPECT_NE(r.error().message().find("watch event"), std::string::npos) << line;
    EXPECT_EQ(n, 0) << line;
  }
}

TEST(WatchDecoderTest, ALineThatNeverEndsIsUnavailable) {
  WatchDecoder d(1000);
  auto on = [](const WatchEvent&) { return true; };
  std::string piece(300, 'x');
  Result<bool> r = true;
  for (int i = 0; i < 4 && r.ok(); ++i) r = d.Feed(piece, on);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kUnavailable);
  EXPECT_NE(r.error().message().find("longer than 1000 bytes"), std::string::npos)
      << r.error().message();
}

}  // namespace
}  // namespace tug::kube
