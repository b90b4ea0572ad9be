#pragma once
/// JSON Web Tokens from an identity provider (OIDC ID tokens or access tokens in JWT form),
/// verified against the provider's JSON Web Key Set.
///
/// Signatures: RS256/384/512 and PS256/384/512 (RSA keys of 2048 bits or more), ES256/384/512
/// (EC P-256/P-384/P-521) and EdDSA (Ed25519), verified with OpenSSL's EVP interface. `alg`
/// none, the HMAC family (HS*: a public key must never serve as a shared secret) and anything
/// else are refused, as is a header with `crit`. A key is used only for the algorithm its type
/// allows, and only for its own `alg` when the JWK names one; keys with a `use` other than
/// "sig" are ignored. With a `kid` in the header only the key of that id is tried (none: an
/// "unknown key id" error the caller may answer by refreshing the key set); without one, every
/// key that fits the algorithm is.
///
/// Claims: `iss` must equal the issuer, `aud` (a string or a list) must hold one of the
/// audiences, `exp` is required, `nbf` and `iat` are checked when present; all with a clock
/// skew.
///
/// Threading: KeySet is immutable once parsed and may be shared between threads.
/// Errors: kUnauthenticated for every token that does not verify (the message says why, and
/// never repeats the token); kInvalidArgument for a malformed key set.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/clock.h"
#include "core/error.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace tug::auth {

/// One usable key of a JWKS.
struct JsonWebKey {
  std::string kid;
  std::string kty;  // RSA | EC | OKP
  std::string crv;  // EC: P-256 | P-384 | P-521; OKP: Ed25519
  std::string alg;  // "" when the JWK does not restrict it
  std::shared_ptr<evp_pkey_st> key;
};

class KeySet {
 public:
  /// Parses {"keys": [...]}: RSA keys from n/e, EC keys from crv/x/y, Ed25519 from x. Keys that
  /// cannot be used (unknown kty or crv, private-only, RSA under 2048 bits, `use` not "sig") are
  /// skipped and named in skipped(). kInvalidArgument when the text is not a JWKS or no key
  /// is usable.
  [[nodiscard]] static Result<KeySet> Parse(std::string_view jwks_json);

  const std::vector<JsonWebKey>& keys() const { return keys_; }
  const std::vector<std::string>& skipped() const { return skipped_; }
  bool HasKid(std::string_view kid) const;

 private:
  std::vector<JsonWebKey> keys_;
  std::vector<std::string> skipped_;
};

struct JwtRules {
  std::string issuer;                  // required: "iss" must equal it
  std::vector<std::string> audiences;  // required: "aud" must hold one of them
  Micros now = 0;
  int64_t clock_skew_seconds = 60;
};

struct VerifiedJwt {
  std::string alg;
  std::string kid;
  boost::json::object claims;
};

/// The detail of the kUnauthenticated error for a `kid` the key set does not have.
inline constexpr std::string_view kUnknownKid = "unknown_kid";

/// Verifies signature and claims; returns the claims.
[[nodiscard]] Result<VerifiedJwt> VerifyJwt(std::string_view token, const KeySet& keys,
                                            const JwtRules& rules);

/// Whether `text` has the shape of a JWS compact serialization (three base64url parts).
bool LooksLikeJwt(std::string_view text);

}  // namespace tug::auth
