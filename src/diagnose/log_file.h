#pragma once
/// Reading a log file for the offline entry point (`tug diagnose`): in chunks, never whole,
/// and gunzipped on the fly when it is gzip data (archived logs are .gz), without a temporary
/// file. A plain regular file is read in place through memory maps (mapped_file.h: no copy out
/// of the page cache; a file truncated while it is read ends the read cleanly, no SIGBUS);
/// gzip data, pipes and other non-regular files through read(). Gzip is recognised by its magic
/// bytes, not the name; concatenated gzip members (what `cat a.gz b.gz` or pigz produce) are read
/// in order.
///
/// Errors come back as values: NotFound / PermissionDenied when the file cannot be opened,
/// Internal on a read error, InvalidArgument for corrupt or truncated gzip data (the message
/// names the file and says what to do).
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace tug::diagnose {

/// Calls `consume` with consecutive chunks of the file's (decompressed) bytes, each at most
/// `chunk_bytes` long. Blocking; one thread.
[[nodiscard]] Status ReadLogFile(const std::string& path,
                                 const std::function<void(std::string_view)>& consume,
                                 size_t chunk_bytes = size_t{64} * 1024);

}  // namespace tug::diagnose
