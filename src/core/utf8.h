#pragma once
/// UTF-8 checks for text that came from outside (request bodies, paths, query strings) and goes
/// into JSON, which must be valid UTF-8 (RFC 8259). Pure functions.
#include <cstddef>
#include <string>
#include <string_view>

namespace tug {

/// The offset of the first byte that is not part of a well-formed UTF-8 sequence (overlong
/// forms, surrogates and code points above U+10FFFF are not well-formed); npos when all are.
size_t InvalidUtf8At(std::string_view text);

/// `text` with every ill-formed sequence replaced by U+FFFD.
std::string ToValidUtf8(std::string_view text);

}  // namespace tug
