#pragma once
/// Bearer tokens: 256 random bits from OpenSSL's RAND_bytes, written "tug_" + base64url (47
/// characters). Only a token's SHA-256 is stored; a presented token is hashed and looked up by
/// that hash, and the hash found is compared again in constant time.
///
/// Pure functions except GenerateToken (the system's CSPRNG); thread-safe.
#include <string>
#include <string_view>

#include "core/error.h"

namespace tug::auth {

inline constexpr std::string_view kTokenPrefix = "tug_";

/// A new token. kInternal if the CSPRNG fails (it does not, once seeded).
[[nodiscard]] Result<std::string> GenerateToken();
/// Lower-case hex SHA-256 of the token's text (64 characters).
std::string HashToken(std::string_view token);
/// Whether `text` has the shape of a token GenerateToken makes (prefix, length, alphabet): a
/// JWT or a typo is told apart before any lookup.
bool LooksLikeToken(std::string_view text);
/// Equality that takes the same time wherever the first difference is (CRYPTO_memcmp); strings
/// of different lengths are unequal (their lengths are not secret).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

/// base64url without padding (RFC 4648 §5), as JWTs and JWKs use it.
std::string Base64UrlEncode(std::string_view bytes);
/// Decodes base64url; padding '=' is accepted at the end. kInvalidArgument for other characters
/// or an impossible length.
[[nodiscard]] Result<std::string> Base64UrlDecode(std::string_view text);

}  // namespace tug::auth
