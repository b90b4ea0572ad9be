// Runs the labelled development corpus through the scanner (7-byte chunks, to exercise line
// joins across chunk boundaries) and the diagnoser, and gates on accuracy.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "diagnose/diagnoser.h"

namespace tug::diagnose {
namespace {

std::string CorpusPath() {
  const char* src = std::getenv("TUG_SOURCE_DIR");
  if (src != nullptr && *src != '\0') {
    std::string p = std::string(src) + "/../shared/corpus/failures-dev.jsonl";
    if (std::ifstream(p).good()) return p;
  }
  return "/work/shared/corpus/failures-dev.jsonl";
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

TEST(CorpusTest, ClassAndRootCauseAccuracy) {
  std::ifstream in(CorpusPath());
  ASSERT_TRUE(in.good()) << "corpus not found at " << CorpusPath();
  auto diagnoser = Diagnoser::CreateBuiltin();
  ASSERT_TRUE(diagnoser.ok()) << diagnoser.error().ToString();

  struct Tally {
    int total = 0;
    int correct = 0;
  };
  std::map<std::string, Tally> per_class;
  int total = 0, class_ok = 0, rc_ok = 0, retry_ok = 0;
  std::vector<std::string> violations;
  std::string line;
  while (std::getline(in, line)) {
    if (Trim(line).empty()) continue;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << "bad corpus line: " << ec.message();
    const auto& o = v.as_object();
    std::string id(o.at("id").as_string());
    std::string component(o.at("component").as_string());
    std::string label(o.at("label").as_string());
    std::string log(o.at("log").as_string());
    std::string expected_rc(o.at("root_cause_line").as_string());
    bool red_herring = o.at("red_herring").as_bool();
    bool retryable = o.at("retryable").as_bool();

    auto scan = diagnoser->Start(component);
    for (size_t i = 0; i < log.size(); i += 7) scan->Feed(std::string_view(log).substr(i, 7));
    scan->Finish();
    Facts facts;
    facts.component = component;
    Diagnosis d = diagnoser->Decide({scan.get()}, facts);

    ++total;
    auto& t = per_class[label];
    ++t.total;
    bool cls_match = d.cls == label;
    bool rc_match = Trim(d.root_cause.text) == Trim(expected_rc);
    if (cls_match) {
      ++class_ok;
      ++t.correct;
    }
    if (rc_match) ++rc_ok;
    if (d.retryable == retryable) {
      ++retry_ok;
    } else {
      std::cout << "RETRY-MISS " << id << " label=" << label << " got=" << d.retryable << "\n";
    }
    if (d.retryable && (d.cls == "user_code_error" || d.cls == "data_error" ||
                        d.cls == "config_error")) {
      violations.push_back(id + ": " + d.cls + " predicted retryable");
    }
    if (red_herring && !rc_match) {
      // The chosen line must never be a known-noise line (the excerpt's alarming herring).
      for (const Hit& h : scan->hits()) {
        if (h.line == d.root_cause.line && h.noise && label != "benign_noise") {
          violations.push_back(id + ": red-herring line chosen: " + d.root_cause.text);
        }
      }
    }
    if (!cls_match || !rc_match) {
      std::cout << "MISS " << id << " label=" << label << " got=" << d.cls
                << (rc_match ? "" : " rc-mismatch") << "\n    got rc: "
                << Trim(d.root_cause.text).substr(0, 200)
                << "\n    want rc: " << Trim(expected_rc).substr(0, 200) << "\n";
    }
  }
  ASSERT_GT(total, 0);
  std::cout << "per-class accuracy:\n";
  for (const auto& [cls, t] : per_class) {
    std::cout << "  " << cls << ": " << t.correct << "/" << t.total << "\n";
  }
  double class_acc = 100.0 * class_ok / total;
  double rc_acc = 100.0 * rc_ok / total;
  std::cout << "class accuracy " << class_acc << "% (" << class_ok << "/" << total << ")\n"
            << "root-cause exact match " << rc_acc << "% (" << rc_ok << "/" << total << ")\n"
            << "retryable agreement " << 100.0 * retry_ok / total << "%\n";
  for (const auto& v : violations) ADD_FAILURE() << v;
  EXPECT_GE(class_acc, 85.0);
  EXPECT_GE(rc_acc, 75.0);
}

}  // namespace
}  // namespace tug::diagnose
