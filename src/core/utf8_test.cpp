#include "core/utf8.h"

#include <gtest/gtest.h>

namespace tug {
namespace {

TEST(Utf8Test, WellFormedTextPasses) {
  for (std::string_view ok : {"", "hello", "größe", "日本語", "\xF0\x9F\x9A\xA2 tugboat",
                              "\xEF\xBF\xBD", "\xF4\x8F\xBF\xBF"}) {
    EXPECT_EQ(InvalidUtf8At(ok), std::string_view::npos) << ok;
    EXPECT_EQ(ToValidUtf8(ok), ok);
  }
}

TEST(Utf8Test, IllFormedSequencesAreFoundAndReplaced) {
  struct Case {
    std::string_view text;
    size_t at;
    std::string_view fixed;
  };
  for (const Case& c :
       {Case{"zzz\xff", 3, "zzz\xEF\xBF\xBD"},
        Case{"a\xC0\xAF", 1, "a\xEF\xBF\xBD\xEF\xBF\xBD"},                // overlong '/'
        Case{"\xED\xA0\x80", 0, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},  // surrogate
        Case{"\xF4\x90\x80\x80", 0,
             "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},  // > U+10FFFF
        Case{"ok\xE6\x97", 2, "ok\xEF\xBF\xBD\xEF\xBF\xBD"}}) {    // truncated
    EXPECT_EQ(InvalidUtf8At(c.text), c.at);
    EXPECT_EQ(ToValidUtf8(c.text), c.fixed);
    EXPECT_EQ(InvalidUtf8At(ToValidUtf8(c.text)), std::string_view::npos);
  }
}

}  // namespace
}  // namespace tug
