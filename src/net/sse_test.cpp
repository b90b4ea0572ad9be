#include "net/sse.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tug::net {
namespace {

std::vector<SseMessage> ParseAll(std::string_view text, size_t piece = 0,
                                 SseParser* keep = nullptr) {
  SseParser local;
  SseParser& parser = keep != nullptr ? *keep : local;
  std::vector<SseMessage> out;
  auto on = [&](const SseMessage& m) { out.push_back(m); };
  if (piece == 0) {
    parser.Feed(text, on);
  } else {
    for (size_t i = 0; i < text.size(); i += piece) parser.Feed(text.substr(i, piece), on);
  }
  return out;
}

TEST(SseFormat, FramesIdEventAndEachDataLine) {
  EXPECT_EQ(FormatSse("12", "ended", R"({"a":1})"), "id: 12\nevent: ended\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(FormatSse("", "", "one\ntwo\r\nthree\rfour"),
            "data: one\ndata: two\ndata: three\ndata: four\n\n");
  EXPECT_EQ(FormatSse("1\n2", "a\rb", ""), "id: 12\nevent: ab\ndata: \n\n");
  EXPECT_EQ(FormatSseComment("heart\nbeat"), ": heartbeat\n\n");
  EXPECT_EQ(FormatSseRetry(3000), "retry: 3000\n\n");
  EXPECT_EQ(FormatSseId("40"), "id: 40\n\n");
}

TEST(SseParse, RoundTripsWhateverThePieces) {
  std::string stream = FormatSseRetry(2500) + FormatSseComment("hi") +
                       FormatSse("7", "submitted", "{\"x\":\"a b\"}") +
                       FormatSse("8", "", "line one\nline two\n") + FormatSseId("9") +
                       FormatSse("", "end", "");
  for (size_t piece : {0, 1, 2, 3, 7}) {
    SseParser parser;
    auto got = ParseAll(stream, piece, &parser);
    ASSERT_EQ(got.size(), 3u) << "piece " << piece;
    EXPECT_EQ(got[0], (SseMessage{"7", "submitted", "{\"x\":\"a b\"}"}));
    EXPECT_EQ(got[1], (SseMessage{"8", "message", "line one\nline two\n"}));
    // The bare id moved the last event ID; the next message keeps it.
    EXPECT_EQ(got[2], (SseMessage{"9", "end", ""}));
    EXPECT_EQ(parser.last_event_id(), "9");
    EXPECT_EQ(parser.retry(), 2500);
  }
}

TEST(SseParse, FollowsTheWhatwgRules) {
  // CR, LF and CRLF line ends, a CRLF cut between pieces, no space after the colon, a field
  // without colon, unknown fields, a BOM, an id with NUL ignored.
  std::string text =
      "\xEF\xBB\xBF"
      "data:a\r\rdata\r\nfoo: bar\ndata:  two spaces\r\n\r\nid: xQy\ndata: z\n\n";
  text[text.find('Q')] = '\0';
  for (size_t piece : {0, 1}) {
    auto got = ParseAll(text, piece);
    ASSERT_EQ(got.size(), 3u) << "piece " << piece;
    EXPECT_EQ(got[0].data, "a");
    EXPECT_EQ(got[1].data, "\n two spaces");  // "data" alone is an empty data line
    EXPECT_EQ(got[2].id, "");
    EXPECT_EQ(got[2].data, "z");
  }
  // An unterminated message is not dispatched; an empty event name means "message".
  EXPECT_TRUE(ParseAll("data: half").empty());
  auto named = ParseAll("event:\ndata: d\n\n");
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(named[0].event, "message");
  // A message without data is dropped, its event name with it.
  EXPECT_TRUE(ParseAll("event: ping\n\n").empty());
  // retry must be digits only.
  SseParser p;
  ParseAll("retry: 12a\n\n", 0, &p);
  EXPECT_FALSE(p.retry().has_value());
}

}  // namespace
}  // namespace tug::net
