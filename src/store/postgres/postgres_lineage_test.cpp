// The issue 26 conformance part (store_conformance_lineage.h) on PostgreSQL: two PostgresStore
// handles (two connection pools) on one database stand for two replicas.
#include <memory>
#include <mutex>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/clock.h"
#include "store/postgres/pg_test_server.h"
#include "store/postgres/postgres_store.h"
#include "store/store_conformance_lineage.h"

// Only the lineage part runs here; the main suite (whose helpers it uses) runs in the backend's
// own store test.
namespace tug::store::conformance {
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(StoreConformanceTest);
}  // namespace tug::store::conformance

namespace tug::store {
namespace {

using conformance::kT0;
using conformance::ReplicasFactory;
using conformance::StoreLineageConformanceTest;
using pgtest::PgServer;

// One throwaway server for the binary, started on first use; each test gets a fresh database.
// If it cannot start, every test fails (none is skipped).
class PgServerEnv : public ::testing::Environment {
 public:
  static std::string NewDatabase() {
    static int counter = 0;
    std::lock_guard lock(mutex);
    if (server == nullptr) {
      auto started = PgServer::Start({.bin_dir = "", .fsync = false});
      if (!started.ok()) {
        ADD_FAILURE() << "PostgreSQL test server: " << started.error().ToString();
        return "";
      }
      server = std::move(*started);
    }
    auto url = server->CreateDatabase(fmt::format("l_{}", ++counter));
    if (!url.ok()) {
      ADD_FAILURE() << url.error().ToString();
      return "";
    }
    return *url;
  }
  void TearDown() override {
    std::lock_guard lock(mutex);
    server.reset();
  }

 private:
  static inline std::mutex mutex;
  static inline std::unique_ptr<PgServer> server;
};

[[maybe_unused]] const ::testing::Environment* const pg_env =
    ::testing::AddGlobalTestEnvironment(new PgServerEnv);

std::unique_ptr<Store> Open(const std::string& url) {
  static ManualClock clock(kT0);
  if (url.empty()) return nullptr;
  auto store = PostgresStore::Open({.url = url}, clock);
  if (!store.ok()) {
    ADD_FAILURE() << "opening '" << url << "': " << store.error().ToString();
    return nullptr;
  }
  return std::move(*store);
}

StorePair TwoHandles() {
  const std::string url = PgServerEnv::NewDatabase();
  auto first = Open(url);  // migrates the database
  return {std::move(first), Open(url)};
}

INSTANTIATE_TEST_SUITE_P(Postgres, StoreLineageConformanceTest,
                         ::testing::Values(ReplicasFactory([] { return TwoHandles(); })));

}  // namespace
}  // namespace tug::store
