#pragma once
/// Authentication: from a request's `Authorization: Bearer ...` to an Identity.
///
/// Two kinds of credential, told apart by shape:
///   - tug tokens ("tug_..."; `tug token create`): hashed (SHA-256) and looked up in the store;
///     the stored hash is compared in constant time; revoked and expired tokens are refused.
///     Lookups are cached for `token_cache` (so a revocation on another replica takes effect
///     within it; on this one at once through Forget), and a token's last use is written at
///     most every `touch_every`.
///   - JWTs from an OIDC identity provider (auth.oidc): verified against its JWKS (jwt.h), then
///     mapped to user, groups and role (claims.h). The JWKS comes from a file (read at Create)
///     or a URL (fetched with net::HttpClient at Create, again when older than `jwks_max_age`,
///     and on a `kid` it does not know, at most once per `jwks_refresh_min`).
///
/// Lifecycle: Create, then Authenticate from any thread; destroy after the HTTP server stopped.
/// Threading: thread-safe. A JWKS fetch happens on the calling thread (an HTTP io thread) with
/// its own short timeout, serialised: other callers keep using the key set they have.
/// Errors (Authenticate): kUnauthenticated (no, malformed, unknown, revoked, expired or
/// unverifiable credentials; the message says what to do), kPermissionDenied (a valid identity
/// no role applies to), kUnavailable (the store or the JWKS URL cannot be reached).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/claims.h"
#include "auth/identity.h"
#include "auth/jwt.h"
#include "core/clock.h"
#include "core/error.h"
#include "store/store.h"

namespace tug::auth {

struct OidcOptions {
  std::string issuer;
  /// The token's `aud` must name one of these (the UI's client id is added by the server).
  std::vector<std::string> audiences;
  /// Exactly one of the two: an https URL serving the JWKS, or a file holding it.
  std::string jwks_url;
  std::string jwks_file;
  ClaimMapping claims;
  int64_t clock_skew_seconds = 60;
  std::chrono::milliseconds fetch_timeout{5000};
  int64_t jwks_refresh_min_seconds = 60;
  int64_t jwks_max_age_seconds = 3600;
};

struct AuthenticatorOptions {
  std::optional<OidcOptions> oidc;
  int64_t token_cache_seconds = 10;
  int64_t touch_every_seconds = 60;
  /// Fetches the JWKS text; unset: GET oidc->jwks_url with net::HttpClient. For tests.
  std::function<Result<std::string>()> fetch_jwks;
};

class Authenticator {
 public:
  /// kInvalidArgument for an unreadable or unusable JWKS file. A JWKS URL that cannot be
  /// fetched yet is not an error: it is logged and fetched again on first use.
  [[nodiscard]] static Result<std::unique_ptr<Authenticator>> Create(AuthenticatorOptions options,
                                                                     store::Store& store,
                                                                     const Clock& clock);

  /// `authorization` is the Authorization header's value ("" when absent).
  [[nodiscard]] Result<Identity> Authenticate(std::string_view authorization);
  /// Drops a token from the cache (after it was revoked here).
  void Forget(const std::string& token_id);

  /// How many times the JWKS was fetched (for tests and logs).
  int64_t jwks_fetches() const;

 private:
  Authenticator(AuthenticatorOptions options, store::Store& store, const Clock& clock);
  Result<Identity> FromToken(std::string_view token);
  Result<Identity> FromJwt(std::string_view token);
  /// The current key set, fetched first when there is none or it is stale.
  Result<std::shared_ptr<const KeySet>> Keys(bool unknown_kid);
  Status Fetch();

  AuthenticatorOptions options_;
  store::Store& store_;
  const Clock& clock_;

  struct Cached {
    store::ApiToken token;
    Micros fetched_at = 0;
  };
  std::mutex cache_mu_;
  std::unordered_map<std::string, Cached> cache_;  // by hash; guarded by cache_mu_

  std::mutex fetch_mu_;  // one JWKS fetch at a time
  mutable std::mutex keys_mu_;
  std::shared_ptr<const KeySet> keys_;  // guarded by keys_mu_
  Micros keys_fetched_at_ = 0;          // guarded by keys_mu_
  Micros last_fetch_attempt_ = 0;       // guarded by keys_mu_
  int64_t fetches_ = 0;                 // guarded by keys_mu_
};

/// `Authorization` values: "Bearer <token>" (scheme case-insensitive) → the token; nullopt
/// otherwise.
std::optional<std::string_view> BearerToken(std::string_view authorization);

}  // namespace tug::auth
