#pragma once
/// How often each byte occurs in log text, per 10,000 bytes: the background model the literal
/// matchers use to pick rare fingerprints (as ripgrep ranks bytes to pick its memchr byte).
/// Counted over the 57 excerpts of the dev corpus (/work/shared/corpus/failures-dev.jsonl,
/// 48 KB of real Spark, Kubernetes, YARN and Python logs); every byte counts at least 1 so no
/// fingerprint looks free. Not the benchmark's log.
#include <array>
#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tug::diagnose {

inline constexpr std::array<uint16_t, 128> kAsciiFrequency = {
    1,   1,   1,   1,   1,   1,   1,  1,   1,   24,  105, 1,   1,   1,   1,   1,    //
    1,   1,   1,   1,   1,   1,   1,  1,   1,   1,   1,   1,   1,   1,   1,   1,    //
    950, 1,   25,  5,   47,  1,   1,  5,   66,  65,  2,   2,   43,  89,  412, 80,   //
    154, 148, 97,  75,  85,  70,  49, 55,  43,  47,  163, 4,   5,   7,   6,   1,    //
    1,   38,  27,  47,  30,  63,  40, 13,  10,  58,  11,  6,   19,  33,  29,  39,   //
    31,  1,   62,  84,  62,  17,  3,  11,  1,   1,   5,   18,  1,   18,  1,   22,   //
    1,   689, 61,  291, 171, 735, 94, 121, 141, 313, 46,  135, 281, 111, 366, 444,  //
    262, 16,  537, 366, 523, 218, 78, 35,  76,  90,  21,  3,   1,   3,   1,   1};

/// Probability of byte `b` at a position of ordinary log text.
inline double ByteProbability(uint8_t b) { return (b < 128 ? kAsciiFrequency[b] : 1) / 10000.0; }

/// Probability of the byte string `s` at a position of log text, under a first-order model
/// over byte classes (lower-case letter, upper-case letter, digit, space, other) with the byte
/// frequencies inside each class. Unlike a product of byte frequencies it knows that text is
/// made of words: a stretch of lower-case letters ("resource", " memory ") is likely, one that
/// crosses words or mixes cases ("OOMKille", "t be ins") is not.
double TextProbability(std::string_view s);

/// Probability that the bytes at consecutive positions of log text fall in `sets[0]`,
/// `sets[1]`, ... (a fingerprint test), under the same first-order class model as
/// TextProbability: runs of digits or of lower-case letters pass sets that accept them far
/// more often than a product of single-byte frequencies says.
double SequenceProbability(const std::bitset<256>* sets, size_t n);

/// True if `s` shares 6 or more consecutive bytes with a word that ordinary lines of Spark,
/// Kubernetes and YARN logs use all the time (`memory`, `Executor`, `broadcast`, `resource`,
/// ...). The byte model above cannot know vocabulary; this list is what it misses.
bool SharesCommonWord(std::string_view s);

/// Every 4-byte piece of those common words written between spaces (" memory ", " Executor "),
/// sorted: what a fingerprint must not accept.
const std::vector<std::string>& CommonWordPieces();

/// True if `s` occurs inside one of those common words (for short fingerprints: "Code" in
/// "CodeGenerator: Code generated", "ting" in "starting").
bool InCommonWord(std::string_view s);

}  // namespace tug::diagnose
