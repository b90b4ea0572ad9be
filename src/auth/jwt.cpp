#include "auth/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <cctype>
#include <cmath>
#include <optional>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "auth/token.h"
#include "core/json.h"

namespace json = boost::json;

namespace tug::auth {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct BldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct SigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

// What an `alg` needs: the key type, the curve for EC and OKP keys, the digest (nullptr for
// EdDSA, which hashes itself), the padding for RSA, and the size of one ECDSA coordinate.
struct Algorithm {
  std::string_view name;
  std::string_view kty;
  std::string_view crv;
  const EVP_MD* (*md)();
  int rsa_padding;  // 0: not RSA
  size_t ec_size;   // 0: not ECDSA
};

const EVP_MD* NoDigest() { return nullptr; }

constexpr Algorithm kAlgorithms[] = {
    {"RS256", "RSA", "", &EVP_sha256, RSA_PKCS1_PADDING, 0},
    {"RS384", "RSA", "", &EVP_sha384, RSA_PKCS1_PADDING, 0},
    {"RS512", "RSA", "", &EVP_sha512, RSA_PKCS1_PADDING, 0},
    {"PS256", "RSA", "", &EVP_sha256, RSA_PKCS1_PSS_PADDING, 0},
    {"PS384", "RSA", "", &EVP_sha384, RSA_PKCS1_PSS_PADDING, 0},
    {"PS512", "RSA", "", &EVP_sha512, RSA_PKCS1_PSS_PADDING, 0},
    {"ES256", "EC", "P-256", &EVP_sha256, 0, 32},
    {"ES384", "EC", "P-384", &EVP_sha384, 0, 48},
    {"ES512", "EC", "P-521", &EVP_sha512, 0, 66},
    {"EdDSA", "OKP", "Ed25519", &NoDigest, 0, 0},
};

const Algorithm* FindAlgorithm(std::string_view name) {
  for (const Algorithm& a : kAlgorithms) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

Error Unauthenticated(std::string message, std::string detail = {}) {
  return {Code::kUnauthenticated, std::move(message), std::move(detail)};
}

std::string StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::unique_ptr<BIGNUM, BnFree> Bignum(std::string_view bytes) {
  return std::unique_ptr<BIGNUM, BnFree>(
      BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                static_cast<int>(bytes.size()), nullptr));
}

// The curve names OpenSSL knows the JOSE curves by.
std::string_view OpenSslCurve(std::string_view crv) {
  if (crv == "P-256") return "prime256v1";
  if (crv == "P-384") return "secp384r1";
  if (crv == "P-521") return "secp521r1";
  return "";
}

size_t CoordinateSize(std::string_view crv) {
  if (crv == "P-256") return 32;
  if (crv == "P-384") return 48;
  if (crv == "P-521") return 66;
  return 0;
}

Result<std::string> DecodeMember(const json::object& jwk, std::string_view key) {
  std::string text = StringField(jwk, key);
  if (text.empty()) return InvalidArgument(fmt::format("it has no '{}'", key));
  auto bytes = Base64UrlDecode(text);
  if (!bytes.ok()) return InvalidArgument(fmt::format("its '{}' is not base64url", key));
  return std::move(*bytes);
}

Result<EVP_PKEY*> FromParams(std::string_view type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, std::string(type).c_str(), nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0 ||
      key == nullptr) {
    return InvalidArgument("OpenSSL does not accept it as a public key");
  }
  return key;
}

Result<EVP_PKEY*> RsaKey(const json::object& jwk) {
  ASSIGN_OR_RETURN(std::string n, DecodeMember(jwk, "n"));
  ASSIGN_OR_RETURN(std::string e, DecodeMember(jwk, "e"));
  auto bn_n = Bignum(n);
  auto bn_e = Bignum(e);
  if (!bn_n || !bn_e) return InvalidArgument("its modulus or exponent cannot be read");
  if (BN_num_bits(bn_n.get()) < 2048) {
    return InvalidArgument(fmt::format(
        "its RSA modulus has {} bits; keys under 2048 bits are refused", BN_num_bits(bn_n.get())));
  }
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return Internal("building an RSA key failed");
  }
  return FromParams("RSA", bld.get());
}

Result<EVP_PKEY*> EcKey(const json::object& jwk, std::string_view crv) {
  std::string_view curve = OpenSslCurve(crv);
  if (curve.empty()) return InvalidArgument(fmt::format("its curve '{}' is not supported", crv));
  ASSIGN_OR_RETURN(std::string x, DecodeMember(jwk, "x"));
  ASSIGN_OR_RETURN(std::string y, DecodeMember(jwk, "y"));
  const size_t size = CoordinateSize(crv);
  if (x.size() > size || y.size() > size) {
    return InvalidArgument("its coordinates are longer than its curve allows");
  }
  // The uncompressed point: 0x04, x, y, each coordinate left-padded to the curve's size.
  std::string point(1, '\x04');
  point += std::string(size - x.size(), '\0') + x;
  point += std::string(size - y.size(), '\0') + y;
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  std::string group(curve);
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group.c_str(), 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return Internal("building an EC key failed");
  }
  return FromParams("EC", bld.get());
}

Result<EVP_PKEY*> OkpKey(const json::object& jwk, std::string_view crv) {
  if (crv != "Ed25519") return InvalidArgument(fmt::format("its curve '{}' is not supported", crv));
  ASSIGN_OR_RETURN(std::string x, DecodeMember(jwk, "x"));
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x.data()), x.size());
  if (key == nullptr) return InvalidArgument("OpenSSL does not accept it as an Ed25519 key");
  return key;
}

// JOSE's ECDSA signature is r || s, each of the curve's size; OpenSSL verifies DER.
Result<std::string> EcdsaToDer(std::string_view raw, size_t size) {
  if (raw.size() != 2 * size) {
    return Unauthenticated("the token's ECDSA signature has the wrong length");
  }
  std::unique_ptr<ECDSA_SIG, SigFree> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(size),
                        nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data() + size),
                        static_cast<int>(size), nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return Internal("reading an ECDSA signature failed");
  }
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return Internal("encoding an ECDSA signature failed");
  std::string der(static_cast<size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_ECDSA_SIG(sig.get(), &out);
  return der;
}

bool VerifyWith(const Algorithm& alg, EVP_PKEY* key, std::string_view signed_part,
                std::string_view signature) {
  std::string der;
  if (alg.ec_size > 0) {
    auto converted = EcdsaToDer(signature, alg.ec_size);
    if (!converted.ok()) return false;
    der = std::move(*converted);
    signature = der;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, alg.md(), nullptr, key) != 1) return false;
  if (alg.rsa_padding != 0) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, alg.rsa_padding) != 1) return false;
    if (alg.rsa_padding == RSA_PKCS1_PSS_PADDING &&
        (EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, alg.md()) != 1)) {
      return false;
    }
  }
  return EVP_DigestVerify(
             ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
             reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
}

bool Fits(const JsonWebKey& k, const Algorithm& alg) {
  if (k.kty != alg.kty) return false;
  if (!alg.crv.empty() && k.crv != alg.crv) return false;
  return k.alg.empty() || k.alg == alg.name;
}

// A NumericDate claim (seconds since the epoch, possibly fractional); nullopt when absent.
Result<std::optional<double>> NumericDate(const json::object& claims, std::string_view name) {
  const json::value* v = claims.if_contains(name);
  if (v == nullptr) return std::optional<double>();
  double out = 0;
  if (v->is_int64()) {
    out = static_cast<double>(v->as_int64());
  } else if (v->is_uint64()) {
    out = static_cast<double>(v->as_uint64());
  } else if (v->is_double() && std::isfinite(v->as_double())) {
    out = v->as_double();
  } else {
    return Unauthenticated(fmt::format("the token's '{}' claim is not a time in seconds", name));
  }
  return std::optional<double>(out);
}

Status CheckClaims(const json::object& claims, const JwtRules& rules) {
  const double now = static_cast<double>(rules.now) / kMicrosPerSecond;
  const auto skew = static_cast<double>(rules.clock_skew_seconds);
  ASSIGN_OR_RETURN(std::optional<double> exp, NumericDate(claims, "exp"));
  if (!exp) return Unauthenticated("the token has no expiry ('exp'); ask for a token that expires");
  if (now >= *exp + skew) {
    return Unauthenticated("the token has expired; sign in again for a new one");
  }
  ASSIGN_OR_RETURN(std::optional<double> nbf, NumericDate(claims, "nbf"));
  if (nbf && now + skew < *nbf) {
    return Unauthenticated("the token is not valid yet ('nbf' is in the future); check the clocks");
  }
  ASSIGN_OR_RETURN(std::optional<double> iat, NumericDate(claims, "iat"));
  if (iat && now + skew < *iat) {
    return Unauthenticated("the token was issued in the future ('iat'); check the clocks");
  }
  std::string iss = StringField(claims, "iss");
  if (iss != rules.issuer) {
    return Unauthenticated(fmt::format(
        "the token's issuer '{}' is not the one this server trusts ('{}'); sign in with it",
        iss.size() > 200 ? iss.substr(0, 200) + "..." : iss, rules.issuer));
  }
  const json::value* aud = claims.if_contains("aud");
  bool audience_ok = false;
  auto matches = [&rules](const json::value& v) {
    if (!v.is_string()) return false;
    for (const auto& a : rules.audiences) {
      if (v.as_string() == a) return true;
    }
    return false;
  };
  if (aud != nullptr && aud->is_string()) {
    audience_ok = matches(*aud);
  } else if (aud != nullptr && aud->is_array()) {
    for (const auto& a : aud->as_array()) audience_ok = audience_ok || matches(a);
  }
  if (!audience_ok) {
    return Unauthenticated(
        "the token is not meant for this server (its 'aud' names none of the configured "
        "audiences); ask the identity provider for a token for this server's client id");
  }
  return OkStatus();
}

Result<json::object> DecodeJsonPart(std::string_view part, std::string_view what) {
  auto bytes = Base64UrlDecode(part);
  if (!bytes.ok()) return Unauthenticated(fmt::format("the token's {} is not base64url", what));
  boost::system::error_code ec;
  json::value v = json::parse(*bytes, ec);
  if (ec || !v.is_object()) {
    return Unauthenticated(fmt::format("the token's {} is not a JSON object", what));
  }
  return std::move(v.as_object());
}

}  // namespace

bool LooksLikeJwt(std::string_view text) {
  size_t dots = 0;
  for (char c : text) {
    if (c == '.') {
      ++dots;
    } else if (!(std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_')) {
      return false;
    }
  }
  return dots == 2;
}

bool KeySet::HasKid(std::string_view kid) const {
  for (const auto& k : keys_) {
    if (k.kid == kid) return true;
  }
  return false;
}

Result<KeySet> KeySet::Parse(std::string_view jwks_json) {
  auto parsed = ParseJson(jwks_json);
  if (!parsed.ok()) return InvalidArgument("the JWKS is not JSON: " + parsed.error().message());
  const json::value* keys = parsed->is_object() ? parsed->as_object().if_contains("keys") : nullptr;
  if (keys == nullptr || !keys->is_array()) {
    return InvalidArgument(R"(the JWKS is not a key set; expected {"keys": [...]})");
  }
  KeySet out;
  size_t index = 0;
  for (const json::value& item : keys->as_array()) {
    const size_t i = index++;
    if (!item.is_object()) {
      out.skipped_.push_back(fmt::format("key {}: not an object", i));
      continue;
    }
    const json::object& jwk = item.as_object();
    JsonWebKey k;
    k.kid = StringField(jwk, "kid");
    k.kty = StringField(jwk, "kty");
    k.crv = StringField(jwk, "crv");
    k.alg = StringField(jwk, "alg");
    const std::string name = k.kid.empty() ? fmt::format("key {}", i) : "key '" + k.kid + "'";
    std::string use = StringField(jwk, "use");
    if (!use.empty() && use != "sig") {
      out.skipped_.push_back(fmt::format("{}: its use is '{}', not sig", name, use));
      continue;
    }
    if (!k.alg.empty()) {
      const Algorithm* a = FindAlgorithm(k.alg);
      if (a == nullptr || a->kty != k.kty) {
        out.skipped_.push_back(fmt::format("{}: its alg '{}' is not supported", name, k.alg));
        continue;
      }
    }
    Result<EVP_PKEY*> key = InvalidArgument(fmt::format("its kty '{}' is not supported", k.kty));
    if (k.kty == "RSA") {
      key = RsaKey(jwk);
    } else if (k.kty == "EC") {
      key = EcKey(jwk, k.crv);
    } else if (k.kty == "OKP") {
      key = OkpKey(jwk, k.crv);
    }
    if (!key.ok()) {
      out.skipped_.push_back(fmt::format("{}: {}", name, key.error().message()));
      continue;
    }
    k.key = std::shared_ptr<evp_pkey_st>(*key, PkeyFree());
    out.keys_.push_back(std::move(k));
  }
  if (out.keys_.empty()) {
    std::string why;
    for (const auto& s : out.skipped_) why += (why.empty() ? "" : "; ") + s;
    return InvalidArgument(fmt::format("the JWKS has no usable signing key{}",
                                       why.empty() ? std::string() : " (" + why + ")"));
  }
  return out;
}

Result<VerifiedJwt> VerifyJwt(std::string_view token, const KeySet& keys, const JwtRules& rules) {
  if (!LooksLikeJwt(token)) {
    return Unauthenticated("the bearer token is neither a tug token nor a JWT");
  }
  const size_t first = token.find('.');
  const size_t second = token.find('.', first + 1);
  std::string_view header_part = token.substr(0, first);
  std::string_view payload_part = token.substr(first + 1, second - first - 1);
  std::string_view signature_part = token.substr(second + 1);
  ASSIGN_OR_RETURN(json::object header, DecodeJsonPart(header_part, "header"));
  VerifiedJwt out;
  out.alg = StringField(header, "alg");
  out.kid = StringField(header, "kid");
  if (header.contains("crit")) {
    return Unauthenticated(
        "the token's header has 'crit' extensions, which this server does not "
        "support");
  }
  const Algorithm* alg = FindAlgorithm(out.alg);
  if (alg == nullptr) {
    // "none" and HS* in particular: a public key is never a shared secret.
    return Unauthenticated(
        fmt::format("the token's algorithm '{}' is not accepted; use RS256, PS256, ES256 or EdDSA",
                    out.alg.size() > 20 ? out.alg.substr(0, 20) : out.alg));
  }
  auto signature = Base64UrlDecode(signature_part);
  if (!signature.ok() || signature->empty()) {
    return Unauthenticated("the token's signature is missing or not base64url");
  }
  if (!out.kid.empty() && !keys.HasKid(out.kid)) {
    return Unauthenticated(
        "the token is signed with a key the identity provider's key set does not have; sign in "
        "again",
        std::string(kUnknownKid));
  }
  const std::string_view signed_part = token.substr(0, second);
  bool tried = false;
  bool verified = false;
  for (const JsonWebKey& k : keys.keys()) {
    if ((!out.kid.empty() && k.kid != out.kid) || !Fits(k, *alg)) continue;
    tried = true;
    if (VerifyWith(*alg, k.key.get(), signed_part, *signature)) {
      verified = true;
      break;
    }
  }
  if (!tried) {
    return Unauthenticated(fmt::format(
        "no key of the identity provider's key set fits the token's algorithm {}", alg->name));
  }
  if (!verified) return Unauthenticated("the token's signature does not verify; sign in again");
  ASSIGN_OR_RETURN(out.claims, DecodeJsonPart(payload_part, "payload"));
  RETURN_IF_ERROR(CheckClaims(out.claims, rules));
  return out;
}

}  // namespace tug::auth
