// The issue 26 conformance part (store_conformance_lineage.h) on SQLite: two SqliteStore handles
// on one database file stand for two replicas.
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <gtest/gtest.h>

#include "core/clock.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store_conformance_lineage.h"

// Only the lineage part runs here; the main suite (whose helpers it uses) runs in the backend's
// own store test.
namespace tug::store::conformance {
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(StoreConformanceTest);
}  // namespace tug::store::conformance

namespace tug::store {
namespace {

namespace fs = std::filesystem;
using conformance::kT0;
using conformance::ReplicasFactory;
using conformance::StoreLineageConformanceTest;

// Database files live in one temporary directory, removed when the tests end.
class TempDir : public ::testing::Environment {
 public:
  static const fs::path& Path() {
    static const fs::path path = [] {
      std::string tmpl = (fs::temp_directory_path() / "tug-sqlite-lineage-XXXXXX").string();
      if (mkdtemp(tmpl.data()) == nullptr) {
        std::perror("mkdtemp");
        std::abort();
      }
      return fs::path(tmpl);
    }();
    return path;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(Path(), ec);
  }
};

[[maybe_unused]] const ::testing::Environment* const temp_dir_env =
    ::testing::AddGlobalTestEnvironment(new TempDir);

std::unique_ptr<Store> Open(const std::string& path) {
  static ManualClock clock(kT0);
  SqliteOptions opts;
  opts.path = path;
  auto store = SqliteStore::Open(opts, clock);
  if (!store.ok()) {
    ADD_FAILURE() << "opening '" << path << "': " << store.error().ToString();
    return nullptr;
  }
  return std::move(*store);
}

StorePair TwoHandles() {
  static int counter = 0;
  const std::string path = (TempDir::Path() / ("db" + std::to_string(++counter))).string();
  auto first = Open(path);  // creates and migrates the file
  return {std::move(first), Open(path)};
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreLineageConformanceTest,
                         ::testing::Values(ReplicasFactory([] { return TwoHandles(); })));

}  // namespace
}  // namespace tug::store
