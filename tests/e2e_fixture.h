#pragma once
// The end-to-end fixture: a real `tug server` (SQLite + local engine with real cgroup limits) on
// a free loopback port with a temporary data dir, driven through the real `tug` CLI.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "test_util.h"

namespace tug::testing {

class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(dir_.path() + "/data");
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
  }
  void TearDown() override {
    if (HasFailure() && server_) std::cerr << "server log:\n" << server_->Log() << "\n";
    server_.reset();
  }

  void Apply(const std::string& yaml) {
    std::string file = dir_.Write("def.yaml", yaml);
    auto r = server_->Tug({"apply", "-f", file});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }

  // `tug get run ID -o json` parsed.
  boost::json::object GetRun(const std::string& id) {
    auto r = server_->Tug({"get", "run", id, "-o", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(r.out, ec);
    if (ec || !v.is_object()) return {};
    return v.as_object();
  }

  std::string Submit(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"run", name};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = server_->Tug(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::string id = r.out;
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    return id;
  }

  bool WaitStatus(const std::string& id, const std::string& status) {
    return WaitFor([&] { return GetRun(id)["status"] == boost::json::value(status); },
                   std::chrono::seconds(60));
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
};

}  // namespace tug::testing
