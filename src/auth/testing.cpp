#include "auth/testing.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <boost/json.hpp>

#include "auth/token.h"

namespace json = boost::json;

namespace tug::auth::testing {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::string BnParam(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) return {};
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

std::string B64(const std::string& s) { return Base64UrlEncode(s); }

const EVP_MD* DigestOf(const std::string& alg) {
  if (alg.ends_with("256")) return EVP_sha256();
  if (alg.ends_with("384")) return EVP_sha384();
  if (alg.ends_with("512")) return EVP_sha512();
  return nullptr;
}

size_t CoordinateSize(const std::string& crv) {
  return crv == "P-256" ? 32 : crv == "P-384" ? 48 : 66;
}

std::string Pad(const std::string& s, size_t size) {
  return std::string(size > s.size() ? size - s.size() : 0, '\0') + s;
}

}  // namespace

Result<TestKey> TestKey::Rsa(std::string kid, int bits) {
  TestKey k;
  k.kid_ = std::move(kid);
  k.kty_ = "RSA";
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits));
  if (key == nullptr) return Internal("RSA key generation failed");
  k.key_ = std::shared_ptr<evp_pkey_st>(key, PkeyFree());
  return k;
}

Result<TestKey> TestKey::Ec(std::string kid, std::string crv) {
  TestKey k;
  k.kid_ = std::move(kid);
  k.kty_ = "EC";
  k.crv_ = crv;
  const char* name = crv == "P-256" ? "P-256" : crv == "P-384" ? "P-384" : "P-521";
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", name);
  if (key == nullptr) return Internal("EC key generation failed");
  k.key_ = std::shared_ptr<evp_pkey_st>(key, PkeyFree());
  return k;
}

Result<TestKey> TestKey::Ed25519(std::string kid) {
  TestKey k;
  k.kid_ = std::move(kid);
  k.kty_ = "OKP";
  k.crv_ = "Ed25519";
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (key == nullptr) return Internal("Ed25519 key generation failed");
  k.key_ = std::shared_ptr<evp_pkey_st>(key, PkeyFree());
  return k;
}

json::object TestKey::Jwk(const std::string& alg) const {
  json::object o{{"kty", kty_}, {"kid", kid_}, {"use", "sig"}};
  if (!alg.empty()) o["alg"] = alg;
  EVP_PKEY* key = key_.get();
  if (kty_ == "RSA") {
    o["n"] = B64(BnParam(key, OSSL_PKEY_PARAM_RSA_N));
    o["e"] = B64(BnParam(key, OSSL_PKEY_PARAM_RSA_E));
  } else if (kty_ == "EC") {
    o["crv"] = crv_;
    o["x"] = B64(Pad(BnParam(key, OSSL_PKEY_PARAM_EC_PUB_X), CoordinateSize(crv_)));
    o["y"] = B64(Pad(BnParam(key, OSSL_PKEY_PARAM_EC_PUB_Y), CoordinateSize(crv_)));
  } else {
    o["crv"] = crv_;
    std::string raw(32, '\0');
    size_t len = raw.size();
    EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &len);
    raw.resize(len);
    o["x"] = B64(raw);
  }
  return o;
}

std::string TestKey::Sign(const std::string& alg, const json::object& claims, bool with_kid,
                          const json::object& extra_header) const {
  json::object header{{"alg", alg}, {"typ", "JWT"}};
  if (with_kid) header["kid"] = kid_;
  for (const auto& kv : extra_header) header[kv.key()] = kv.value();
  std::string signing_input = B64(json::serialize(header)) + "." + B64(json::serialize(claims));
  if (alg == "none") return signing_input + ".";
  if (alg.rfind("HS", 0) == 0) {
    std::string secret = json::serialize(Jwk());
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(DigestOf(alg), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
         &len);
    return signing_input + "." + B64(std::string(reinterpret_cast<char*>(mac), len));
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* md = alg == "EdDSA" ? nullptr : DigestOf(alg);
  EVP_DigestSignInit(ctx, &pctx, md, nullptr, key_.get());
  if (alg.rfind("PS", 0) == 0) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  size_t len = 0;
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(signing_input.data()),
                 signing_input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(signing_input.data()),
                 signing_input.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  if (alg.rfind("ES", 0) == 0) {
    // DER → JOSE's r || s.
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    const BIGNUM* r = nullptr;
    const BIGNUM* s = nullptr;
    ECDSA_SIG_get0(es, &r, &s);
    const size_t size = CoordinateSize(crv_);
    std::string raw(2 * size, '\0');
    BN_bn2binpad(r, reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(size));
    BN_bn2binpad(s, reinterpret_cast<unsigned char*>(raw.data() + size), static_cast<int>(size));
    ECDSA_SIG_free(es);
    sig = raw;
  }
  return signing_input + "." + B64(sig);
}

std::string Jwks(const std::vector<json::object>& jwks) {
  json::array keys;
  for (const auto& k : jwks) keys.push_back(k);
  return json::serialize(json::object{{"keys", std::move(keys)}});
}

}  // namespace tug::auth::testing
