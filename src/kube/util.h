#pragma once
/// Small helpers shared by the kube sources (not part of the client's surface).
#include <string>
#include <string_view>

#include "core/error.h"

namespace tug::kube {

/// The whole file; the error message is "cannot read '<path>' (<strerror>)" with kNotFound for a
/// missing file and kPermissionDenied / kInternal otherwise.
[[nodiscard]] Result<std::string> ReadFileText(const std::string& path);

/// Standard base64 (whitespace ignored, padding optional). kInvalidArgument when malformed.
[[nodiscard]] Result<std::string> DecodeBase64(std::string_view text);

/// Without leading and trailing whitespace.
std::string Trim(std::string_view s);

}  // namespace tug::kube
