// Informer against an in-test API server: list, watch, resume from the last resourceVersion,
// relist on 410, back off on errors, Stop.
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "kube/client.h"
#include "kube/client_testing.h"

namespace tug::kube {
namespace {

using namespace std::chrono_literals;
using testing::Event;
using testing::FakeApi;
using testing::NewClient;
using testing::StatusBody;
using testing::Stream;

/// The informer's view, filled from its handlers (its own thread).
struct Observed {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<size_t> syncs;
  std::vector<std::string> events;
  std::vector<std::string> errors;
  std::vector<std::string> watch_rvs;  // resourceVersion of each watch request, server side
  int lists = 0;

  template <class F>
  bool WaitUntil(F pred) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 30s, pred);
  }
};

TEST(InformerTest, ListsWatchesResumesAndRelistsOnGone) {
  Observed seen;
  net::Router router;
  router.Add("GET", "/api/v1/configmaps", [&](net::Request& r) {
    std::lock_guard lock(seen.mu);
    seen.cv.notify_all();
    if (r.Query("watch") != "1") {
      int n = seen.lists++;
      boost::json::array items{{{"metadata", {{"name", "a"}}}}};
      if (n > 0) items.push_back(boost::json::object{{"metadata", {{"name", "b"}}}});
      boost::json::object list{{"kind", "ConfigMapList"},
                               {"metadata", {{"resourceVersion", n == 0 ? "10" : "20"}}},
                               {"items", items}};
      return net::JsonResponse(200, boost::json::serialize(list));
    }
    size_t n = seen.watch_rvs.size();
    seen.watch_rvs.push_back(r.Query("resourceVersion"));
    switch (n) {
      case 0:  // an event and a bookmark, then the server ends the watch
        return Stream({Event("ADDED", "b", "11"), Event("BOOKMARK", "", "12")});
      case 1:  // resumed from the bookmark, but that is too old now
        return Stream({R"({"type":"ERROR","object":{"kind":"Status","code":410,)"
                       R"j("reason":"Expired","message":"too old resource version: 12 (15)"}})j"
                       "\n"});
      case 2:  // after the relist: the server hiccups
        return net::JsonResponse(500, StatusBody(500, "InternalError", "etcd timeout"));
      default:  // then a watch that stays open
        return Stream({Event("MODIFIED", "b", "21")}, /*hold=*/true);
    }
  });
  FakeApi api(std::move(router));
  auto client = NewClient(api.Config());
  ASSERT_NE(client, nullptr);
  Informer::Handlers h;
  h.on_sync = [&](const std::vector<boost::json::value>& items) {
    std::lock_guard lock(seen.mu);
    seen.syncs.push_back(items.size());
    seen.cv.notify_all();
  };
  h.on_event = [&](const WatchEvent& e) {
    std::lock_guard lock(seen.mu);
    seen.events.push_back(e.type + ":" +
                          std::string(e.object.at("metadata").at("resourceVersion").as_string()));
    seen.cv.notify_all();
  };
  h.on_error = [&](const Error& e) {
    std::lock_guard lock(seen.mu);
    seen.errors.push_back(std::string(CodeName(e.code())) + (IsGone(e) ? " gone" : ""));
    seen.cv.notify_all();
  };
  Informer informer(*client, "/api/v1/configmaps", {}, h);
  informer.Start();
  ASSERT_TRUE(seen.WaitUntil([&] { return seen.events.size() >= 2; }));
  informer.Stop();  // the last watch is blocked: Stop cancels it
  informer.Stop();  // idempotent
  std::lock_guard lock(seen.mu);
  EXPECT_EQ(seen.syncs, (std::vector<size_t>{1, 2}));
  EXPECT_EQ(seen.events, (std::vector<std::string>{"ADDED:11", "MODIFIED:21"}));
  EXPECT_EQ(seen.errors, (std::vector<std::string>{"failed_precondition gone", "unavailable"}));
  EXPECT_EQ(seen.watch_rvs, (std::vector<std::string>{"10", "12", "20", "20"}));
  EXPECT_EQ(informer.lists(), 2);
  EXPECT_EQ(informer.watches(), 4);
}

TEST(InformerTest, StopBeforeStartAndWithoutStartIsFine) {
  net::Router router;
  FakeApi api(std::move(router));
  auto client = NewClient(api.Config());
  ASSERT_NE(client, nullptr);
  Informer never(*client, "/x", {}, {});
  never.Stop();
  Informer destroyed(*client, "/x", {}, {});
}

}  // namespace
}  // namespace tug::kube
