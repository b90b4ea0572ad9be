#include "aws/aws_client.h"

#include <boost/json.hpp>

namespace tug::aws {
namespace {

std::string XmlUnescape(std::string s) {
  static const std::pair<const char*, const char*> kEntities[] = {{"&lt;", "<"},    {"&gt;", ">"},
                                                                  {"&quot;", "\""}, {"&apos;", "'"},
                                                                  {"&#34;", "\""},  {"&amp;", "&"}};
  for (const auto& [from, to] : kEntities) {
    std::string f(from);
    for (size_t p = s.find(f); p != std::string::npos; p = s.find(f, p + 1))
      s.replace(p, f.size(), to);
  }
  return s;
}

}  // namespace

std::string XmlText(const std::string& xml, const std::string& tag, size_t* pos) {
  size_t from = pos ? *pos : 0;
  std::string open = "<" + tag + ">";
  size_t b = xml.find(open, from);
  if (b == std::string::npos) {
    if (pos) *pos = std::string::npos;
    return "";
  }
  b += open.size();
  size_t e = xml.find("</" + tag + ">", b);
  if (e == std::string::npos) {
    if (pos) *pos = std::string::npos;
    return "";
  }
  if (pos) *pos = e + tag.size() + 3;
  return XmlUnescape(xml.substr(b, e - b));
}

std::string DefaultEndpoint(const std::string& service, const std::string& region) {
  return "https://" + service + "." + region + ".amazonaws.com";
}

Error AwsError(int status, const std::string& body, const std::string& what,
               std::string_view error_type) {
  std::string code;
  std::string message;
  if (!body.empty() && body.front() == '{') {
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    if (!ec && v.is_object()) {
      const auto& o = v.as_object();
      for (const char* key : {"message", "Message"}) {
        if (auto* m = o.if_contains(key); m && m->is_string())
          message = std::string(m->as_string());
      }
      for (const char* key : {"__type", "code", "Code"}) {
        if (auto* c = o.if_contains(key); c && c->is_string()) code = std::string(c->as_string());
      }
    }
  } else {
    code = XmlText(body, "Code");
    message = XmlText(body, "Message");
  }
  // REST-JSON services name the error in a header and may leave it out of the body:
  // "x-amzn-ErrorType: ResourceNotFoundException:http://internal.amazon.com/coral/...".
  if (code.empty() && !error_type.empty())
    code = std::string(error_type.substr(0, error_type.find(':')));
  // "com.amazonaws.emrcontainers#ResourceNotFoundException" -> the last part
  if (auto hash = code.rfind('#'); hash != std::string::npos) code = code.substr(hash + 1);
  std::string text = what + ": " + (code.empty() ? "HTTP " + std::to_string(status) : code);
  if (!message.empty()) text += ": " + message;
  std::string detail = "HTTP " + std::to_string(status) + (code.empty() ? "" : " " + code);
  Code c = Code::kInternal;
  if (status == 400) c = Code::kInvalidArgument;
  if (status == 401 || status == 403) c = Code::kPermissionDenied;
  if (status == 404) c = Code::kNotFound;
  if (status == 409) c = Code::kAborted;
  if (status == 416) c = Code::kFailedPrecondition;
  if (status == 429 || status >= 500) c = Code::kUnavailable;
  // Some services answer "not found" with 400 (emr-containers' ResourceNotFoundException is
  // 400 in its service model): the error name decides.
  if (code.ends_with("NotFoundException") || code.starts_with("NoSuch")) c = Code::kNotFound;
  if (code == "ThrottlingException" || code == "SlowDown") c = Code::kUnavailable;
  return Error(c, text, detail);
}

AwsClient::AwsClient(AwsClientOptions options, net::HttpClient http, std::string host)
    : options_(std::move(options)), http_(std::move(http)), host_(std::move(host)) {}

Result<std::unique_ptr<AwsClient>> AwsClient::Create(AwsClientOptions options) {
  if (options.service.empty()) return InvalidArgument("an AWS client needs a service name");
  if (options.region.empty()) return InvalidArgument("an AWS client needs a region");
  if (!options.credentials) return InvalidArgument("an AWS client needs a credentials provider");
  if (options.endpoint.empty()) options.endpoint = DefaultEndpoint(options.service, options.region);
  while (!options.endpoint.empty() && options.endpoint.back() == '/') options.endpoint.pop_back();
  net::HttpClientOptions ho;
  ho.timeout = options.timeout;
  ho.tls = options.tls;
  ho.peer = options.service + " (" + options.region + ")";
  ho.user_agent = "tug";
  ASSIGN_OR_RETURN(net::HttpClient http, net::HttpClient::Create(options.endpoint, ho));
  // The Host header net::HttpClient sends is the URL's authority: sign exactly that.
  std::string host = options.endpoint.substr(options.endpoint.find("://") + 3);
  host = host.substr(0, host.find('/'));
  if (auto at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
  return std::unique_ptr<AwsClient>(new AwsClient(std::move(options), std::move(http), host));
}

Result<net::ClientResponse> AwsClient::Send(const AwsRequest& request) {
  ASSIGN_OR_RETURN(Credentials creds, options_.credentials->Get());
  const Clock& clock = options_.clock ? *options_.clock : SystemClock::Instance();
  SignableRequest s;
  s.method = request.method;
  s.path = request.path.empty() ? "/" : request.path;
  s.query = request.query;
  s.headers = request.headers;
  s.headers.emplace_back("host", host_);
  s.payload_sha256 = Sha256Hex(request.body);
  // Signed, so a server (or moto) checks the body hash we computed rather than re-deriving it.
  s.headers.emplace_back("x-amz-content-sha256", s.payload_sha256);
  SigningScope scope{options_.region, options_.service, AmzDate(clock.Now() / kMicrosPerSecond),
                     options_.service != "s3"};
  Sign(s, creds, scope);
  net::HeaderList headers;
  for (auto& [name, value] : s.headers) {
    if (name != "host") headers.emplace_back(name, value);
  }
  std::string target = UriEncode(s.path, true);
  std::string query = CanonicalQuery(s.query);
  if (!query.empty()) target += "?" + query;
  std::lock_guard lock(mu_);
  return http_.Send(request.method, target, request.body, request.content_type, headers);
}

}  // namespace tug::aws
