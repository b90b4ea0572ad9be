#pragma once
/// Test-only (tug_auth_testing): keys generated with OpenSSL at test time, their JWKs, and JWTs
/// signed with them, so the verifier is always tested against real signatures. Never linked
/// into `tug`.
#include <memory>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "core/error.h"

struct evp_pkey_st;

namespace tug::auth::testing {

class TestKey {
 public:
  /// kty RSA (2048 bits unless said), EC (crv P-256, P-384 or P-521) or OKP (Ed25519).
  [[nodiscard]] static Result<TestKey> Rsa(std::string kid, int bits = 2048);
  [[nodiscard]] static Result<TestKey> Ec(std::string kid, std::string crv = "P-256");
  [[nodiscard]] static Result<TestKey> Ed25519(std::string kid);

  /// The public JWK: {"kty","kid","use":"sig",...}; `alg` added when not empty.
  boost::json::object Jwk(const std::string& alg = "") const;
  /// header.payload.signature with {"alg": alg, "typ": "JWT", "kid": kid} (kid left out when
  /// `with_kid` is false) and extra header fields merged in. `alg` must fit the key (RS*/PS* for
  /// RSA, ES* for EC, EdDSA); "none" and HS256 make unsigned and HMAC tokens (keyed with the
  /// JWK's text) for the tests that expect refusal.
  std::string Sign(const std::string& alg, const boost::json::object& claims, bool with_kid = true,
                   const boost::json::object& extra_header = {}) const;
  const std::string& kid() const { return kid_; }

 private:
  std::string kid_;
  std::string kty_;
  std::string crv_;
  std::shared_ptr<evp_pkey_st> key_;
};

/// {"keys": [jwk, ...]} as text.
std::string Jwks(const std::vector<boost::json::object>& jwks);

}  // namespace tug::auth::testing
