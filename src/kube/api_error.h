#pragma once
/// Maps the API server's answers to Errors as client.h documents: the code from the HTTP status
/// (and, for 409, the Status reason), the message from Status.message, "HTTP <code> <reason>" in
/// detail. Pure functions, no I/O.
#include <string_view>

#include <boost/json/value.hpp>

#include "core/error.h"

namespace tug::kube {

/// A non-2xx response. `body` is usually a Status object; anything else (a proxy's HTML, the
/// API server's "404 page not found") goes into the message as its first line.
Error ErrorFromResponse(int http_status, std::string_view body);

/// A Status object (a response body or a watch ERROR event's object). Its `code` wins over
/// `http_status` when present (a watch ERROR arrives in a 200 response).
Error ErrorFromStatus(const boost::json::value& status, int http_status);

}  // namespace tug::kube
