#include "aws/credentials.h"

#include "aws/web_identity.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace tug::aws {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::optional<std::string> NonEmpty(const Env& env, const std::string& name) {
  auto v = env(name);
  if (v && v->empty()) return std::nullopt;
  return v;
}

}  // namespace

Env ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe): read only
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Result<Credentials> FromEnvironment(const Env& env) {
  auto id = NonEmpty(env, "AWS_ACCESS_KEY_ID");
  auto secret = NonEmpty(env, "AWS_SECRET_ACCESS_KEY");
  if (!id && !secret) return NotFound("AWS_ACCESS_KEY_ID is not set");
  if (!id || !secret) {
    return InvalidArgument(
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together; set the missing one "
        "or unset both");
  }
  Credentials c;
  c.access_key_id = *id;
  c.secret_access_key = *secret;
  c.session_token = NonEmpty(env, "AWS_SESSION_TOKEN").value_or("");
  c.source = "environment";
  return c;
}

Result<Credentials> ParseSharedCredentials(const std::string& text, const std::string& profile,
                                           const std::string& path) {
  std::istringstream in(text);
  std::string line;
  std::string section;
  bool found = false;
  Credentials c;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = Trim(line.substr(1, line.size() - 2));
      // ~/.aws/config spells sections "profile x"; the credentials file does not, but accept both.
      if (section.rfind("profile ", 0) == 0) section = Trim(section.substr(8));
      if (section == profile) found = true;
      continue;
    }
    if (section != profile) continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = Trim(line.substr(0, eq));
    std::string value = Trim(line.substr(eq + 1));
    if (key == "aws_access_key_id") c.access_key_id = value;
    if (key == "aws_secret_access_key") c.secret_access_key = value;
    if (key == "aws_session_token") c.session_token = value;
  }
  if (!found) return NotFound("profile '" + profile + "' is not in '" + path + "'");
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return InvalidArgument("profile '" + profile + "' in '" + path +
                           "' needs aws_access_key_id and aws_secret_access_key");
  }
  c.source = "profile '" + profile + "' in '" + path + "'";
  return c;
}

Result<Credentials> FromSharedFile(const Env& env) {
  std::string path;
  if (auto p = NonEmpty(env, "AWS_SHARED_CREDENTIALS_FILE")) {
    path = *p;
  } else if (auto home = NonEmpty(env, "HOME")) {
    path = *home + "/.aws/credentials";
  } else {
    return NotFound("no shared credentials file (HOME is not set)");
  }
  std::ifstream f(path);
  if (!f) return NotFound("no shared credentials file at '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return Internal("cannot read '" + path + "'");
  return ParseSharedCredentials(ss.str(), NonEmpty(env, "AWS_PROFILE").value_or("default"), path);
}

DefaultCredentialsChain::DefaultCredentialsChain(Env env, const Clock* clock)
    : env_(std::move(env)),
      web_identity_(std::make_unique<WebIdentityCredentialsProvider>(env_, clock)) {}

DefaultCredentialsChain::~DefaultCredentialsChain() = default;

Result<Credentials> DefaultCredentialsChain::Get() {
  auto from_env = FromEnvironment(env_);
  if (from_env.ok() || from_env.error().code() != Code::kNotFound) return from_env;
  if (WebIdentityCredentialsProvider::Configured(env_)) return web_identity_->Get();
  auto from_file = FromSharedFile(env_);
  if (from_file.ok() || from_file.error().code() != Code::kNotFound) return from_file;
  return NotFound("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or " +
                  from_file.error().message() +
                  " (set AWS_PROFILE or AWS_SHARED_CREDENTIALS_FILE)");
}

}  // namespace tug::aws
