// The literal matchers against a naive search: for random text with planted literals at every
// alignment, the set of lines each one reports must be exactly the lines that hold a literal.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "diagnose/byte_frequency.h"
#include "diagnose/literal_prefilter.h"
#include "diagnose/sampled_grams.h"
#include "diagnose/teddy.h"

namespace tug::diagnose {
namespace {

struct Needle {
  std::string text;
  bool caseless = false;
};

bool EqualAt(const std::string& hay, size_t at, const Needle& n) {
  if (at + n.text.size() > hay.size()) return false;
  for (size_t i = 0; i < n.text.size(); ++i) {
    char a = hay[at + i], b = n.text[i];
    if (n.caseless) {
      a = static_cast<char>(std::tolower(static_cast<unsigned char>(a)));
      b = static_cast<char>(std::tolower(static_cast<unsigned char>(b)));
    }
    if (a != b) return false;
  }
  return true;
}

// Indexes of the lines (split at '\n') that hold a needle.
std::set<size_t> NaiveLines(const std::string& hay, const std::vector<Needle>& needles) {
  std::set<size_t> lines;
  size_t line = 0, start = 0;
  for (size_t i = 0; i <= hay.size(); ++i) {
    if (i < hay.size() && hay[i] != '\n') continue;
    for (size_t p = start; p < i; ++p) {
      if (std::any_of(needles.begin(), needles.end(),
                      [&](const Needle& n) { return EqualAt(hay, p, n); })) {
        lines.insert(line);
        break;
      }
    }
    ++line;
    start = i + 1;
  }
  return lines;
}

std::set<size_t> LinesOf(const std::string& hay, const std::vector<uint32_t>& hits) {
  std::set<size_t> lines;
  for (uint32_t h : hits) {
    EXPECT_LT(h, hay.size());
    lines.insert(static_cast<size_t>(std::count(hay.begin(), hay.begin() + h, '\n')));
  }
  return lines;
}

using Kernel = LiteralPrefilter::Kernel;

// The prefilter kernels this CPU runs (the portable one always; AVX2 and AVX-512 where the
// CPU has them: a machine without AVX-512 VBMI cannot test that kernel).
std::vector<Kernel> SupportedKernels() {
  std::vector<Kernel> out;
  for (Kernel k : {Kernel::kPortable, Kernel::kAvx2, Kernel::kAvx512}) {
    if (LiteralPrefilter::Supported(k)) out.push_back(k);
  }
  return out;
}

// Random text over a small alphabet (so near-misses of the needles are frequent), with
// needles and their prefixes planted at random offsets and short and long lines.
std::string RandomText(std::mt19937_64& rng, const std::vector<Needle>& needles, size_t size) {
  static const std::string kAlphabet = "abcdeEFGxyz :()_-.01239\n\n";
  std::string s;
  while (s.size() < size) {
    uint64_t r = rng() % 100;
    if (r < 8 && !needles.empty()) {
      const Needle& n = needles[rng() % needles.size()];
      std::string t = n.text;
      if (n.caseless) {
        for (char& c : t) {
          if (rng() % 2 == 0) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
      }
      s += r < 6 ? t : t.substr(0, rng() % (t.size() + 1));  // prefixes are near misses
    } else if (r < 9) {
      s += std::string(rng() % 300, 'q');
    } else if (r < 10 && !needles.empty()) {
      // A needle with bytes moved above 0x7f: the AVX-512 kernel's tables see only a byte's
      // low 7 bits, so these pass its fingerprint test and must fail verification.
      std::string t = needles[rng() % needles.size()].text;
      t[rng() % t.size()] |= static_cast<char>(0x80);
      for (char& c : t) {
        if (rng() % 3 == 0) c = static_cast<char>(c | 0x80);
      }
      s += t;
    } else {
      s += kAlphabet[rng() % kAlphabet.size()];
    }
  }
  return s;
}

std::vector<Needle> ShortNeedles() {
  return {{"Error", false},     {"Exception", false},  {"OOMKilled", false},    {"429", false},
          {"\", line ", false}, {"Lost task ", false}, {"exit code 1", false},  {"x", false},
          {"ab", false},        {"Slow Down", false},  {"spark", true},         {"_-.0", false},
          {"NodeLost", false},  {"Pending", false},    {"FetchFailed(", false}, {"Too Many", false},
          {"SIGSEGV", false},   {"Evicted", false},    {"oom-kill", false},     {"Pressure", false},
          {"CORRUPT_", false},  {"Corrupt", false},    {"Killed", false}};
}

std::vector<std::string> LongNeedles() {
  return {"No space left on device", "RECEIVED SIGNAL 15: SIGTERM",
          "Traceback (most recent",  "most recent failure:",
          "abcdeEFGxyz :()_",        "Job aborted due to stage failure",
          "ddddddddddddddddddddd",   "exited with exit code 137",
          "0123456789abcdefgh"};
}

TEST(TeddyTest, FindsExactlyTheLinesHoldingALiteral) {
  std::mt19937_64 rng(7);
  for (size_t count : {1, 3, 8, 9, 23}) {
    std::vector<Needle> needles = ShortNeedles();
    needles.resize(std::min(count, needles.size()));
    std::vector<TeddyMatcher::Literal> lits;
    for (const Needle& n : needles) lits.push_back({n.text, n.caseless, {}});
    TeddyMatcher teddy(lits);
    for (size_t size : {0, 1, 3, 31, 34, 35, 36, 64, 100, 1000, 20000}) {
      std::string text = RandomText(rng, needles, size);
      std::set<size_t> want = NaiveLines(text, needles);
      std::vector<uint32_t> simd, portable;
      teddy.Find(text.data(), text.size(), &simd);
      teddy.FindPortable(text.data(), text.size(), &portable);
      EXPECT_EQ(LinesOf(text, simd), want) << "count " << count << " size " << size;
      EXPECT_EQ(simd, portable) << "count " << count << " size " << size;
      EXPECT_TRUE(std::is_sorted(simd.begin(), simd.end()));
    }
  }
}

TEST(SampledGramTest, FindsExactlyTheLinesHoldingALiteral) {
  std::mt19937_64 rng(11);
  std::vector<Needle> needles;
  for (const std::string& s : LongNeedles()) needles.push_back({s, false});
  SampledGramMatcher grams(LongNeedles());
  ASSERT_EQ(grams.literals().size(), LongNeedles().size());
  for (int round = 0; round < 40; ++round) {
    size_t size = rng() % 5000;
    std::string text = RandomText(rng, needles, size);
    // Every start offset modulo the stride.
    for (size_t shift = 0; shift < SampledGramMatcher::kStride; ++shift) {
      std::string t = text.substr(std::min(shift, text.size()));
      std::vector<uint32_t> hits;
      grams.Find(t.data(), t.size(), &hits);
      EXPECT_EQ(LinesOf(t, hits), NaiveLines(t, needles))
          << "round " << round << " shift " << shift;
    }
  }
}

TEST(SampledGramTest, LiteralsShorterThanTheMinimumAreDropped) {
  SampledGramMatcher grams({"short", "exactly fifteen"});
  ASSERT_EQ(grams.literals().size(), 1u);
  EXPECT_EQ(grams.literals()[0], "exactly fifteen");
}

TEST(LiteralPrefilterTest, FindsExactlyTheLinesHoldingAnAnchor) {
  std::mt19937_64 rng(13);
  std::vector<std::vector<RequiredLiteral>> required(1);
  for (const std::string& l : LongNeedles()) required[0].push_back(RequiredLiteral{l, {}});
  std::set<int> sets_seen;
  // Short literals of common letters: 8 buckets would pass too much ordinary text.
  std::vector<std::string> diverse;
  for (int i = 0; i < 40; ++i) {
    static const std::string kBytes = "etaoinsrlhdcu";
    std::string l;
    for (size_t j = 0, n = 5 + rng() % 4; j < n; ++j) l += kBytes[rng() % kBytes.size()];
    diverse.push_back(l);
  }
  // Few short anchors (one Teddy set) and many (two sets): each kernel has both forms.
  for (size_t shorts : {4, 100}) {
    std::vector<std::string> markers;
    for (const Needle& n : ShortNeedles()) {
      if (!n.caseless && markers.size() < shorts) markers.push_back(n.text);
    }
    if (shorts > 4) markers.insert(markers.end(), diverse.begin(), diverse.end());
    LiteralPrefilter pf(required, markers, {"spark"});
    sets_seen.insert(pf.teddy().sets());
    // The anchors after reduction are what the prefilter promises to find.
    std::vector<Needle> anchors;
    for (const std::string& a : pf.short_anchors()) {
      anchors.push_back(a.starts_with("(?i)") ? Needle{a.substr(4), true} : Needle{a, false});
    }
    for (const std::string& a : pf.long_anchors()) anchors.push_back({a, false});
    std::vector<Needle> planted = anchors;
    for (const std::string& s : LongNeedles()) planted.push_back({s, false});
    for (int round = 0; round < 25; ++round) {
      std::string text = RandomText(rng, planted, rng() % 20000);
      for (size_t shift : {0, 1, 5, 7}) {
        std::string t = text.substr(std::min(shift, text.size()));
        const std::set<size_t> want = NaiveLines(t, anchors);
        for (Kernel kernel : SupportedKernels()) {
          std::vector<uint32_t> hits;
          pf.FindWith(kernel, t.data(), t.size(), &hits);
          EXPECT_TRUE(std::is_sorted(hits.begin(), hits.end()));
          EXPECT_EQ(LinesOf(t, hits), want)
              << LiteralPrefilter::KernelName(kernel) << " round " << round << " shift " << shift
              << " size " << t.size() << " [" << (t.size() < 400 ? t : std::string()) << "]";
        }
      }
    }
  }
  EXPECT_EQ(sets_seen, (std::set<int>{1, 2}));
}

TEST(LiteralPrefilterTest, ConditionalAnchorsCountOnlyWhereTheirCoRequirementsHold) {
  // As from `\b429\b.*(rate|limit|Too Many)|Too Many Requests`, plus a marker.
  std::vector<std::vector<RequiredLiteral>> required = {
      {RequiredLiteral{"429", {{"Too Many", "limit", "rate"}}},
       RequiredLiteral{"Too Many Requests", {}}}};
  LiteralPrefilter pf(required, {"Error"}, {});
  // Line 0 is padding that moves the others across every 32-byte block alignment.
  std::string text =
      "GET /x took 429 ms\n"                // 1: "429" without a co-requirement
      "status 429: rate exceeded\n"         // 2
      "429 then Error\n"                    // 3: the marker counts anyway
      "429 x 429 y limit\n"                 // 4
      "code 429 and Too Many Requests\n"    // 5: a failed 429 must not hide a later anchor
      "broadcast_1429_piece0 in memory\n";  // 6
  for (size_t shift = 0; shift < 40; ++shift) {
    std::string t = std::string(shift, 'z') + "\n" + text;
    for (Kernel kernel : SupportedKernels()) {
      std::vector<uint32_t> hits;
      pf.FindWith(kernel, t.data(), t.size(), &hits);
      EXPECT_EQ(LinesOf(t, hits), (std::set<size_t>{2, 3, 4, 5}))
          << LiteralPrefilter::KernelName(kernel) << " shift " << shift;
    }
  }
}

TEST(LiteralPrefilterTest, ReductionDropsLiteralsHoldingOthersAndMergesShortOnes) {
  EXPECT_EQ(ReduceAnchors({"OutOfMemoryError: Java heap space", "Error", "Exception",
                           "ConnectException", "a\nb"},
                          15, 32),
            (std::vector<std::string>{"Error", "Exception"}));
  // Over the target, short literals sharing a rare substring are merged into it.
  std::vector<std::string> many;
  for (int i = 0; i < 10; ++i) many.push_back("Xyzzy code " + std::to_string(i));
  EXPECT_EQ(ReduceAnchors(many, 15, 4), (std::vector<std::string>{"Xyzzy code "}));
  // A common word is not a merge: " task " would flag most Spark lines.
  EXPECT_EQ(ReduceAnchors({"Lost task ", "Finished task "}, 15, 1),
            (std::vector<std::string>{"Finished task ", "Lost task "}));
}

// Fingerprint choice (teddy.cpp): of a literal's 4-byte windows, one made of word pieces
// ("ded " of "exceeded quota", " Cod" of "Exit Code:", "task" of "Finished task ") passes on
// ordinary lines ("Added broadcast", "CodeGenerator: Code generated", "Starting task") and is
// avoided when the literal has a window of rarer shape.
TEST(TeddyTest, FingerprintsAvoidWordPieces) {
  std::vector<TeddyMatcher::Literal> lits;
  for (const char* t : {"exceeded quota", "Exit Code:", "Finished task ", "was preempted"}) {
    lits.push_back(TeddyMatcher::Literal{t, false, {}});
  }
  TeddyMatcher t(std::move(lits));
  std::set<std::string> windows;
  for (const auto& bucket : t.bucket_windows()) windows.insert(bucket.begin(), bucket.end());
  EXPECT_EQ(windows.size(), 4u);
  for (const char* common : {"ded ", "eded", " Cod", "Code", "task", " tas", "was ", "Fini"}) {
    EXPECT_EQ(windows.count(common), 0u) << common;
  }
  // What the matcher reports is unchanged by the choice.
  std::string text = "Added broadcast\nCode generated\nquota exceeded quota!\nExit Code: 137\n";
  std::vector<uint32_t> hits;
  t.Find(text.data(), text.size(), &hits);
  std::vector<uint32_t> want = {static_cast<uint32_t>(text.find("exceeded quota")),
                                static_cast<uint32_t>(text.find("Exit Code:"))};
  EXPECT_EQ(hits, want);
}

// The class-aware model prices what a fingerprint accepts by runs, not single bytes: a
// bucket taking any 4-digit number passes far more often than the byte product says, and
// the common-word pieces hold the words between spaces.
TEST(ByteModelTest, SequencesOfLikelyRunsCostMoreThanTheirBytes) {
  std::bitset<256> digits, rare;
  for (char c = '0'; c <= '9'; ++c) digits.set(static_cast<unsigned char>(c));
  rare.set(static_cast<unsigned char>('Q'));
  std::bitset<256> four_digits[4] = {digits, digits, digits, digits};
  double byte_product = 1;
  double digit_p = 0;
  for (char c = '0'; c <= '9'; ++c) digit_p += ByteProbability(static_cast<uint8_t>(c));
  for (int k = 0; k < 4; ++k) byte_product *= digit_p;
  EXPECT_GT(SequenceProbability(four_digits, 4), 5 * byte_product);
  std::bitset<256> mixed[4] = {rare, digits, rare, digits};
  EXPECT_LT(SequenceProbability(mixed, 4), SequenceProbability(four_digits, 4) / 1000);
  const auto& pieces = CommonWordPieces();
  EXPECT_TRUE(std::is_sorted(pieces.begin(), pieces.end()));
  EXPECT_TRUE(std::binary_search(pieces.begin(), pieces.end(), std::string(" res")));
  EXPECT_TRUE(std::binary_search(pieces.begin(), pieces.end(), std::string("ask ")));
}

}  // namespace
}  // namespace tug::diagnose
