// libFuzzer target for the scanner, block extraction and the decision: any bytes, cut into
// chunks at fuzzer-chosen sizes, must neither crash nor stall, and the fast path (literal
// prefilter) must find exactly what the per-line reference path finds (differential: a
// mismatch aborts). Build with the `fuzz` preset:
//   cmake --preset fuzz && cmake --build --preset fuzz --target fuzz_scanner
//   ./build/fuzz/src/diagnose/fuzz_scanner -max_len=1048576 -max_total_time=60
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "diagnose/diagnoser.h"
#include "diagnose/scan_testing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto diagnoser = tug::diagnose::Diagnoser::CreateBuiltin();
  if (!diagnoser.ok() || size == 0) return 0;
  // The first byte picks the chunk size (1..256) and the component, so chunk boundaries land
  // everywhere, including inside multi-byte sequences and CRLF pairs.
  const size_t chunk = static_cast<size_t>(data[0]) + 1;
  static constexpr const char* kComponents[] = {"driver", "executor", "controller",
                                                "batch-container", "k8s-events"};
  auto scan = diagnoser->Start(kComponents[data[0] % 5]);
  auto reference = diagnoser->Start(kComponents[data[0] % 5]);
  reference->SetMode(tug::diagnose::ScanMode::kReference);
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  while (!rest.empty()) {
    size_t n = rest.size() < chunk ? rest.size() : chunk;
    scan->Feed(rest.substr(0, n));
    reference->Feed(rest.substr(0, n));
    rest.remove_prefix(n);
  }
  scan->Finish();
  reference->Finish();
  const std::string fast = tug::diagnose::testing::Describe(*scan);
  const std::string slow = tug::diagnose::testing::Describe(*reference);
  if (fast != slow) {
    std::fprintf(stderr, "fast path and reference differ\n--- fast path:\n%s\n--- reference:\n%s\n",
                 fast.c_str(), slow.c_str());
    std::abort();
  }
  tug::diagnose::Facts facts;
  if (data[0] & 1) facts.exit_code = data[0] & 2 ? 137 : 1;
  const tug::diagnose::LogScan* scans[] = {scan.get()};
  auto d = diagnoser->Decide({scans[0]}, facts);
  (void)tug::diagnose::ToJson(d);
  return 0;
}
