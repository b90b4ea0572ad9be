// libFuzzer target for what a Kubernetes API server's watch stream hands the engine:
// kube::WatchDecoder splitting the body into lines and decoding {"type":..,"object":..} events,
// and what the engine reads from each object (ReadPod, CapacityOf, LimitsOf, ReadPodMetrics,
// the Status of an ERROR event). Any bytes, cut at fuzzer-chosen chunk sizes, must neither
// crash, hang nor leak, every error must carry a message, and the chunking must not change
// what is decoded (the same events and the same error as from one piece).
//
// Byte 0 picks the chunk size (1..128) and whether the handler asks to stop after the third
// event; the rest is the body. scripts/fuzz.sh watch_decoder, or:
//   cmake --build --preset fuzz --target fuzz_watch_decoder
//   ./build/fuzz/src/engine/kubernetes/fuzz_watch_decoder fuzz/corpus/fuzz_watch_decoder
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "engine/kubernetes/pod.h"
#include "engine/kubernetes/usage.h"
#include "kube/watch_decoder.h"

namespace {

namespace k8s = tug::engine::kubernetes;

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_watch_decoder: %s: %s\n", what, detail.c_str());
  std::abort();
}

struct Decoded {
  std::vector<std::string> events;  // type + the object's serialization
  std::string error;                // code and message of the error that ended it
  bool stopped = false;
};

// What the engine does with an event's object.
void Read(const boost::json::value& object) {
  static const k8s::PodSettings settings;
  k8s::PodState pod = k8s::ReadPod(object);
  if (pod.phase == k8s::PodState::Phase::kEnded && pod.outcome.reason.empty()) {
    Fail("an ended pod without an outcome reason", boost::json::serialize(object));
  }
  (void)k8s::CapacityOf(object, settings);
  (void)k8s::LimitsOf(object);
  auto metrics = k8s::ReadPodMetrics(object);
  if (!metrics.ok() && metrics.error().message().empty()) {
    Fail("a pod metrics error without a message", boost::json::serialize(object));
  }
  (void)k8s::StringAt(object, {"metadata", "resourceVersion"});
}

Decoded Decode(std::string_view body, size_t chunk, bool stop_early) {
  Decoded out;
  tug::kube::WatchDecoder decoder;
  auto on_event = [&](const tug::kube::WatchEvent& e) {
    if (e.type != "ADDED" && e.type != "MODIFIED" && e.type != "DELETED" && e.type != "BOOKMARK") {
      Fail("an event of unknown type", e.type);
    }
    if (!e.object.is_object()) Fail("an event without an object", e.type);
    out.events.push_back(e.type + " " + boost::json::serialize(e.object));
    Read(e.object);
    return !(stop_early && out.events.size() >= 3);
  };
  auto done = [&](const tug::Result<bool>& r) {
    if (r.ok()) {
      out.stopped = !*r;
      return out.stopped;
    }
    if (r.error().message().empty()) Fail("an error without a message", r.error().ToString());
    out.error = r.error().ToString();
    return true;
  };
  while (!body.empty()) {
    size_t n = body.size() < chunk ? body.size() : chunk;
    if (done(decoder.Feed(body.substr(0, n), on_event))) return out;
    body.remove_prefix(n);
  }
  done(decoder.Finish(on_event));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = static_cast<size_t>(data[0] & 0x7f) + 1;
  const bool stop_early = (data[0] & 0x80) != 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  Decoded chunked = Decode(body, chunk, stop_early);
  Decoded whole = Decode(body, body.size() + 1, stop_early);
  if (chunked.events != whole.events || chunked.error != whole.error ||
      chunked.stopped != whole.stopped) {
    Fail("chunk boundaries changed what was decoded",
         "chunked: " + std::to_string(chunked.events.size()) + " events, '" + chunked.error +
             "'; whole: " + std::to_string(whole.events.size()) + " events, '" + whole.error + "'");
  }
  return 0;
}
