#include "server/ui_assets.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace tug::server {
namespace {

std::string HeaderOf(const net::Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

net::Response Get(const net::Router& router, const std::string& path,
                  const std::string& if_none_match = "") {
  net::Request req;
  req.method = "GET";
  req.path = path;
  req.target = path;
  if (!if_none_match.empty()) req.headers["if-none-match"] = if_none_match;
  auto match = router.Find(req);
  if (match.handler == nullptr) return net::Response{404, "", "", {}, nullptr, nullptr};
  return (*match.handler)(req);
}

TEST(UiAssetsTest, ServesIndexAtRootAndAssetsImmutable) {
  UiAssets assets({{"index.html", "<html>hi</html>"},
                   {"assets/index-abc123.js", "console.log(1)"},
                   {"favicon.svg", "<svg/>"}});
  net::Router router;
  assets.Register(router);
  auto root = Get(router, "/");
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.body, "<html>hi</html>");
  EXPECT_EQ(root.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(HeaderOf(root, "Cache-Control"), "no-cache");
  EXPECT_NE(HeaderOf(root, "Content-Security-Policy").find("default-src 'self'"),
            std::string::npos);
  EXPECT_EQ(HeaderOf(root, "X-Content-Type-Options"), "nosniff");

  auto js = Get(router, "/assets/index-abc123.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(HeaderOf(js, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(Get(router, "/favicon.svg").content_type, "image/svg+xml");
  EXPECT_EQ(Get(router, "/assets/other.js").status, 404);
}

TEST(UiAssetsTest, EtagRevalidationGives304) {
  UiAssets assets(std::vector<UiFile>{{"index.html", "<html>v1</html>"}});
  net::Router router;
  assets.Register(router);
  auto first = Get(router, "/");
  std::string etag = HeaderOf(first, "ETag");
  ASSERT_FALSE(etag.empty());
  auto again = Get(router, "/", etag);
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(Get(router, "/", "W/" + etag).status, 304);
  EXPECT_EQ(Get(router, "/", "\"other\", " + etag).status, 304);
  EXPECT_EQ(Get(router, "/", "\"other\"").status, 200);

  // Another content has another tag.
  UiAssets changed(std::vector<UiFile>{{"index.html", "<html>v2</html>"}});
  net::Router router2;
  changed.Register(router2);
  EXPECT_NE(HeaderOf(Get(router2, "/"), "ETag"), etag);
  EXPECT_EQ(Get(router2, "/", etag).status, 200);
}

TEST(UiAssetsTest, WithoutFilesRootExplainsHowToBuild) {
  UiAssets none(std::vector<UiFile>{});
  net::Router router;
  none.Register(router);
  auto root = Get(router, "/");
  EXPECT_EQ(root.status, 200);
  EXPECT_NE(root.body.find("TUG_BUILD_UI"), std::string::npos);
}

TEST(UiAssetsTest, FromDirectoryReadsEveryFile) {
  auto dir =
      std::filesystem::temp_directory_path() / ("ui-assets-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "assets");
  std::ofstream(dir / "index.html") << "<html>dir</html>";
  std::ofstream(dir / "assets" / "app-1.css") << "body{}";
  auto assets = UiAssets::FromDirectory(dir.string());
  ASSERT_TRUE(assets.ok()) << assets.error().message();
  EXPECT_EQ(assets->size(), 2u);
  net::Router router;
  assets->Register(router);
  EXPECT_EQ(Get(router, "/").body, "<html>dir</html>");
  auto css = Get(router, "/assets/app-1.css");
  EXPECT_EQ(css.body, "body{}");
  EXPECT_EQ(css.content_type, "text/css; charset=utf-8");

  auto missing = UiAssets::FromDirectory((dir / "nope").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("index.html"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tug::server
