#include "aws/web_identity.h"

#include <ctime>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "aws/aws_client.h"
#include "net/http_client.h"

namespace tug::aws {

int64_t ParseIso8601(const std::string& text) {
  std::tm tm{};
  std::istringstream in(text);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (in.fail()) return -1;
  return static_cast<int64_t>(timegm(&tm));
}

Result<Credentials> ParseAssumeRoleResponse(const std::string& xml) {
  std::string block = XmlText(xml, "Credentials");
  Credentials c;
  c.access_key_id = XmlText(block, "AccessKeyId");
  c.secret_access_key = XmlText(block, "SecretAccessKey");
  c.session_token = XmlText(block, "SessionToken");
  c.expires_at = ParseIso8601(XmlText(block, "Expiration"));
  if (c.access_key_id.empty() || c.secret_access_key.empty() || c.session_token.empty() ||
      c.expires_at < 0) {
    return Internal("STS AssumeRoleWithWebIdentity answered without usable credentials");
  }
  return c;
}

bool WebIdentityCredentialsProvider::Configured(const Env& env) {
  auto file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
  auto role = env("AWS_ROLE_ARN");
  return file && !file->empty() && role && !role->empty();
}

WebIdentityCredentialsProvider::WebIdentityCredentialsProvider(Env env, const Clock* clock)
    : env_(std::move(env)), clock_(clock != nullptr ? *clock : SystemClock::Instance()) {}

Result<Credentials> WebIdentityCredentialsProvider::Get() {
  std::lock_guard lock(mu_);
  int64_t now = clock_.Now() / kMicrosPerSecond;
  if (cached_ && cached_->expires_at - 300 > now) return *cached_;
  if (!Configured(env_)) {
    return NotFound("AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set");
  }
  std::string path = *env_("AWS_WEB_IDENTITY_TOKEN_FILE");
  std::string role = *env_("AWS_ROLE_ARN");
  std::ifstream f(path);
  if (!f) return Internal("cannot read the web identity token file '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string token = ss.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  std::string session = env_("AWS_ROLE_SESSION_NAME").value_or("");
  if (session.empty()) session = "tugboat";
  std::string endpoint = env_("AWS_ENDPOINT_URL_STS").value_or("");
  if (endpoint.empty()) endpoint = env_("AWS_ENDPOINT_URL").value_or("");
  if (endpoint.empty()) {
    std::string region = env_("AWS_REGION").value_or("");
    endpoint = DefaultEndpoint("sts", region.empty() ? "us-east-1" : region);
  }
  net::HttpClientOptions ho;
  ho.peer = "AWS STS";
  ASSIGN_OR_RETURN(net::HttpClient http, net::HttpClient::Create(endpoint, ho));
  std::string body =
      "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=" + UriEncode(role, false) +
      "&RoleSessionName=" + UriEncode(session, false) +
      "&WebIdentityToken=" + UriEncode(token, false);
  ASSIGN_OR_RETURN(net::ClientResponse response,
                   http.Send("POST", "/", body, "application/x-www-form-urlencoded"));
  if (response.status != 200) {
    return AwsError(response.status, response.body,
                    "assuming role '" + role + "' with web identity");
  }
  ASSIGN_OR_RETURN(Credentials c, ParseAssumeRoleResponse(response.body));
  c.source = "web identity for role '" + role + "'";
  cached_ = c;
  return c;
}

}  // namespace tug::aws
