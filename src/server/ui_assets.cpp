#include "server/ui_assets.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace tug::server {
namespace {

// The UI talks to its own origin only. Its styles are files, and Preact and uPlot set element
// styles through the CSSOM, which style-src does not restrict, so no inline style is allowed.
constexpr const char* kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

void SecurityHeaders(net::Response& r) {
  r.headers.emplace_back("Content-Security-Policy", kCsp);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "same-origin");
}

}  // namespace

std::string UiAssets::ContentType(std::string_view path) {
  auto ends = [&](std::string_view ext) {
    return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".json") || ends(".map")) return "application/json";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".woff2")) return "font/woff2";
  if (ends(".txt")) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

UiAssets::UiAssets(std::vector<UiFile> files) {
  std::sort(files.begin(), files.end(),
            [](const UiFile& a, const UiFile& b) { return a.path < b.path; });
  for (auto& f : files) {
    Entry e;
    e.content_type = ContentType(f.path);
    e.etag = net::BodyEtag(f.content);
    e.immutable = f.path.rfind("assets/", 0) == 0;
    e.file = std::move(f);
    files_.push_back(std::move(e));
  }
}

Result<UiAssets> UiAssets::FromDirectory(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(dir) / "index.html", ec)) {
    return NotFound(fmt::format(
        "ui directory '{}' has no index.html; build the UI (cd ui && npm run build) or unset "
        "TUG_UI_DIR to serve the copy built into the binary",
        dir));
  }
  std::vector<std::pair<std::string, std::string>> read;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream data;
    data << in.rdbuf();
    if (!in.good() && !in.eof()) {
      return Internal(fmt::format("reading '{}' failed", it->path().string()));
    }
    read.emplace_back(fs::relative(it->path(), dir).generic_string(), data.str());
  }
  if (ec) return Internal(fmt::format("listing ui directory '{}': {}", dir, ec.message()));
  std::vector<std::string> owned;
  owned.reserve(read.size());
  std::vector<UiFile> files;
  for (auto& [path, content] : read) {
    owned.push_back(std::move(content));
    files.push_back(UiFile{path, owned.back()});  // reserve() keeps the strings in place
  }
  UiAssets assets(std::move(files));
  assets.owned_ = std::move(owned);  // moving the vector keeps each string's buffer
  return assets;
}

net::Response UiAssets::Serve(const net::Request& req, size_t index) const {
  const Entry& e = files_.at(index);
  net::Response r;
  r.headers.emplace_back("ETag", e.etag);
  r.headers.emplace_back("Cache-Control",
                         e.immutable ? "public, max-age=31536000, immutable" : "no-cache");
  SecurityHeaders(r);
  if (net::EtagMatches(req.Header("if-none-match"), e.etag)) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  r.content_type = e.content_type;
  r.body.assign(e.file.content.data(), e.file.content.size());
  return r;
}

void UiAssets::Register(net::Router& router) const {
  size_t index_html = files_.size();
  for (size_t i = 0; i < files_.size(); ++i) {
    if (files_[i].file.path == "index.html") index_html = i;
    router.Add("GET", "/" + files_[i].file.path,
               [this, i](net::Request& req) { return Serve(req, i); });
  }
  if (index_html < files_.size()) {
    router.Add("GET", "/",
               [this, index_html](net::Request& req) { return Serve(req, index_html); });
    return;
  }
  router.Add("GET", "/", [](net::Request&) {
    net::Response r;
    r.content_type = "text/html; charset=utf-8";
    r.body =
        "<!doctype html><title>Tugboat</title><p>This tug binary was built without the web UI. "
        "Run <code>scripts/setup.sh</code> (it installs Node packages) and build with "
        "<code>-DTUG_BUILD_UI=ON</code>, or point <code>TUG_UI_DIR</code> at a built "
        "<code>ui/dist</code>. The API is at <code>/api/v1</code>.</p>";
    SecurityHeaders(r);
    return r;
  });
}

}  // namespace tug::server
