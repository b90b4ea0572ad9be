#include "auth/authenticator.h"

#include <cctype>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "auth/token.h"
#include "core/log.h"
#include "net/http_client.h"

namespace tug::auth {
namespace {

constexpr size_t kMaxCachedTokens = 10'000;

Error Unauthenticated(std::string message) { return {Code::kUnauthenticated, std::move(message)}; }

// "https://idp.example/.well-known/jwks.json?x=1" → ("https://idp.example", "/.well-known/...").
std::pair<std::string, std::string> SplitUrl(const std::string& url) {
  size_t scheme = url.find("://");
  size_t path = scheme == std::string::npos ? std::string::npos : url.find('/', scheme + 3);
  if (path == std::string::npos) return {url, "/"};
  return {url.substr(0, path), url.substr(path)};
}

Result<std::string> FetchUrl(const std::string& url, std::chrono::milliseconds timeout) {
  auto [base, target] = SplitUrl(url);
  net::HttpClientOptions o;
  o.timeout = timeout;
  o.peer = "the identity provider's JWKS";
  o.max_response_bytes = 1 << 20;
  ASSIGN_OR_RETURN(net::HttpClient client, net::HttpClient::Create(base, o));
  ASSIGN_OR_RETURN(net::ClientResponse resp, client.Send("GET", target, "", ""));
  if (resp.status != 200) {
    return Unavailable(
        fmt::format("the identity provider's JWKS at {} answered {}; check "
                    "auth.oidc.jwks_url",
                    url, resp.status));
  }
  return std::move(resp.body);
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return InvalidArgument(
        fmt::format("cannot read the JWKS file '{}'; check auth.oidc.jwks_file", path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::optional<std::string_view> BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() + 1) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) {
      return std::nullopt;
    }
  }
  if (authorization[kScheme.size()] != ' ') return std::nullopt;
  std::string_view token = authorization.substr(kScheme.size() + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  return token;
}

Authenticator::Authenticator(AuthenticatorOptions options, store::Store& store, const Clock& clock)
    : options_(std::move(options)), store_(store), clock_(clock) {}

Result<std::unique_ptr<Authenticator>> Authenticator::Create(AuthenticatorOptions options,
                                                             store::Store& store,
                                                             const Clock& clock) {
  if (options.oidc && !options.fetch_jwks) {
    const OidcOptions& o = *options.oidc;
    if (!o.jwks_file.empty()) {
      ASSIGN_OR_RETURN(std::string text, ReadFile(o.jwks_file));
      auto keys = KeySet::Parse(text);
      if (!keys.ok()) {
        return InvalidArgument(
            fmt::format("auth.oidc.jwks_file '{}': {}", o.jwks_file, keys.error().message()));
      }
      // A file is read once: the fetch hands back what was read at start.
      options.fetch_jwks = [text]() -> Result<std::string> { return text; };
    } else {
      options.fetch_jwks = [url = o.jwks_url, timeout = o.fetch_timeout] {
        return FetchUrl(url, timeout);
      };
    }
  }
  std::unique_ptr<Authenticator> a(new Authenticator(std::move(options), store, clock));
  if (a->options_.oidc) {
    if (auto st = a->Fetch(); !st.ok()) {
      log::Warn(
          "the identity provider's keys could not be fetched; JWTs are refused until they "
          "can be",
          {{"error", st.error().message()}});
    }
  }
  return a;
}

int64_t Authenticator::jwks_fetches() const {
  std::lock_guard lock(keys_mu_);
  return fetches_;
}

void Authenticator::Forget(const std::string& token_id) {
  std::lock_guard lock(cache_mu_);
  for (auto it = cache_.begin(); it != cache_.end(); ++it) {
    if (it->second.token.id == token_id) {
      cache_.erase(it);
      return;
    }
  }
}

Result<Identity> Authenticator::Authenticate(std::string_view authorization) {
  if (authorization.empty()) {
    return Unauthenticated(
        "this server needs credentials; send Authorization: Bearer TOKEN (with the CLI: `tug "
        "login --token-file FILE`, a token from `tug token create`)");
  }
  auto token = BearerToken(authorization);
  if (!token) {
    return Unauthenticated(
        "the Authorization header must be 'Bearer TOKEN'; run `tug login` to store a token");
  }
  if (LooksLikeToken(*token)) return FromToken(*token);
  if (options_.oidc && LooksLikeJwt(*token)) return FromJwt(*token);
  return Unauthenticated(options_.oidc
                             ? "the bearer token is neither a tug token nor a JWT; run `tug login`"
                             : "the bearer token is not a tug token (tug_...); create one with "
                               "`tug token create` and run `tug login`");
}

Result<Identity> Authenticator::FromToken(std::string_view token) {
  const std::string hash = HashToken(token);
  const Micros now = clock_.Now();
  store::ApiToken record;
  bool cached = false;
  {
    std::lock_guard lock(cache_mu_);
    auto it = cache_.find(hash);
    if (it != cache_.end() &&
        now - it->second.fetched_at < options_.token_cache_seconds * kMicrosPerSecond) {
      record = it->second.token;
      cached = true;
    }
  }
  if (!cached) {
    auto found = store_.GetTokenByHash(hash);
    if (!found.ok()) {
      if (found.error().code() == Code::kNotFound) {
        return Unauthenticated(
            "the token is not known to this server (mistyped, or from another server); run `tug "
            "login` with a token from `tug token create`");
      }
      return Unavailable("cannot check the token now: " + found.error().message());
    }
    record = std::move(*found);
    std::lock_guard lock(cache_mu_);
    if (cache_.size() >= kMaxCachedTokens) cache_.clear();
    cache_[hash] = Cached{record, now};
  }
  if (!ConstantTimeEquals(record.hash, hash)) {
    return Unauthenticated("the token is not known to this server; run `tug login`");
  }
  if (record.revoked_at > 0) {
    return Unauthenticated(fmt::format(
        "the token '{}' was revoked; create a new one with `tug token create` and run `tug login`",
        record.name));
  }
  if (record.expires_at > 0 && now >= record.expires_at) {
    return Unauthenticated(fmt::format(
        "the token '{}' expired at {}; create a new one with `tug token create` and run `tug "
        "login`",
        record.name, FormatTimestamp(record.expires_at)));
  }
  auto role = ParseRole(record.role);
  if (!role.ok()) return Internal(fmt::format("token '{}' has an unknown role", record.id));
  if (now - record.last_used_at >= options_.touch_every_seconds * kMicrosPerSecond) {
    // Best effort: a failed write does not refuse the request.
    if (store_.TouchToken(record.id, now).ok()) {
      std::lock_guard lock(cache_mu_);
      if (auto it = cache_.find(hash); it != cache_.end()) it->second.token.last_used_at = now;
    }
  }
  Identity id;
  id.user = record.user;
  id.groups = record.groups;
  id.role = *role;
  id.via = "token:" + record.id;
  return id;
}

Status Authenticator::Fetch() {
  {
    std::lock_guard lock(keys_mu_);
    last_fetch_attempt_ = clock_.Now();
    ++fetches_;
  }
  ASSIGN_OR_RETURN(std::string text, options_.fetch_jwks());
  auto keys = KeySet::Parse(text);
  if (!keys.ok()) {
    return Unavailable("the identity provider's JWKS is unusable: " + keys.error().message());
  }
  for (const auto& skipped : keys->skipped()) {
    log::Debug("a key of the identity provider's JWKS is not used", {{"why", skipped}});
  }
  std::lock_guard lock(keys_mu_);
  keys_ = std::make_shared<const KeySet>(std::move(*keys));
  keys_fetched_at_ = clock_.Now();
  return OkStatus();
}

Result<std::shared_ptr<const KeySet>> Authenticator::Keys(bool unknown_kid) {
  const OidcOptions& o = *options_.oidc;
  const Micros now = clock_.Now();
  auto due = [&] {
    std::lock_guard lock(keys_mu_);
    const bool may_retry =
        now - last_fetch_attempt_ >= o.jwks_refresh_min_seconds * kMicrosPerSecond;
    if (!keys_) return may_retry;
    if (unknown_kid) return may_retry;
    return now - keys_fetched_at_ >= o.jwks_max_age_seconds * kMicrosPerSecond && may_retry;
  };
  if (due()) {
    std::lock_guard fetch(fetch_mu_);
    if (due()) {  // nobody fetched while this thread waited
      if (auto st = Fetch(); !st.ok()) {
        log::Warn("fetching the identity provider's keys failed",
                  {{"error", st.error().message()}});
      }
    }
  }
  std::lock_guard lock(keys_mu_);
  if (!keys_) {
    return Unavailable(
        "this server cannot read its identity provider's keys yet (auth.oidc.jwks_url); try again "
        "in a minute or use a tug token");
  }
  return keys_;
}

Result<Identity> Authenticator::FromJwt(std::string_view token) {
  const OidcOptions& o = *options_.oidc;
  JwtRules rules;
  rules.issuer = o.issuer;
  rules.audiences = o.audiences;
  rules.clock_skew_seconds = o.clock_skew_seconds;
  rules.now = clock_.Now();
  ASSIGN_OR_RETURN(std::shared_ptr<const KeySet> keys, Keys(false));
  auto verified = VerifyJwt(token, *keys, rules);
  if (!verified.ok() && verified.error().detail() == kUnknownKid) {
    // The provider may have rotated its keys since the last fetch.
    ASSIGN_OR_RETURN(keys, Keys(true));
    verified = VerifyJwt(token, *keys, rules);
  }
  if (!verified.ok()) return verified.error();
  return MapClaims(verified->claims, o.claims);
}

}  // namespace tug::auth
