#pragma once
/// Files that hold secrets (bearer tokens): written whole, mode 0600, never seen half-written.
#include <string>
#include <string_view>

#include "core/error.h"

namespace tug {

enum class IfExists {
  kReplace,  // atomically replace an existing file (rename)
  kKeep,     // leave an existing file alone (link): of two writers racing, exactly one wins
};

/// Writes `text` to `path` (mode 0600) through a private temporary file beside it, fsync'd and
/// then renamed (kReplace) or linked (kKeep) into place, so a reader sees either the old state
/// or the whole new file. Returns true when the file was written, false when kKeep found it
/// there already. kUnavailable with the errno text when the directory or file cannot be written.
/// Threading: safe from any thread; the temporary name carries the process id.
[[nodiscard]] Result<bool> WritePrivateFile(const std::string& path, std::string_view text,
                                            IfExists if_exists);

}  // namespace tug
