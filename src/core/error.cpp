#include "core/error.h"

#include <cstring>

namespace tug {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kInvalidArgument:
      return "invalid_argument";
    case Code::kNotFound:
      return "not_found";
    case Code::kAlreadyExists:
      return "already_exists";
    case Code::kFailedPrecondition:
      return "failed_precondition";
    case Code::kAborted:
      return "aborted";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kDeadlineExceeded:
      return "deadline_exceeded";
    case Code::kResourceExhausted:
      return "resource_exhausted";
    case Code::kPermissionDenied:
      return "permission_denied";
    case Code::kUnauthenticated:
      return "unauthenticated";
    case Code::kCancelled:
      return "cancelled";
    case Code::kInternal:
      return "internal";
  }
  return "internal";
}

int HttpStatus(Code code) {
  switch (code) {
    case Code::kInvalidArgument:
      return 400;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
      return 409;
    case Code::kFailedPrecondition:
      return 422;
    case Code::kAborted:
      return 409;
    case Code::kUnavailable:
      return 503;
    case Code::kDeadlineExceeded:
      return 504;
    case Code::kResourceExhausted:
      return 413;
    case Code::kPermissionDenied:
      return 403;
    case Code::kUnauthenticated:
      return 401;
    case Code::kCancelled:
      return 409;
    case Code::kInternal:
      return 500;
  }
  return 500;
}

std::string Error::ToString() const {
  std::string s(CodeName(code_));
  s += ": ";
  s += message_;
  if (!detail_.empty()) {
    s += " (";
    s += detail_;
    s += ")";
  }
  return s;
}

Error&& Error::WithContext(std::string_view context) && {
  message_ = std::string(context) + ": " + message_;
  return std::move(*this);
}

Error InvalidArgument(std::string message) { return {Code::kInvalidArgument, std::move(message)}; }
Error NotFound(std::string message) { return {Code::kNotFound, std::move(message)}; }
Error AlreadyExists(std::string message) { return {Code::kAlreadyExists, std::move(message)}; }
Error FailedPrecondition(std::string message) {
  return {Code::kFailedPrecondition, std::move(message)};
}
Error Aborted(std::string message) { return {Code::kAborted, std::move(message)}; }
Error Unavailable(std::string message, std::string detail) {
  return {Code::kUnavailable, std::move(message), std::move(detail)};
}
Error Internal(std::string message, std::string detail) {
  return {Code::kInternal, std::move(message), std::move(detail)};
}
Error ResourceExhausted(std::string message) {
  return {Code::kResourceExhausted, std::move(message)};
}
Error ErrnoError(std::string message, int err) {
  return {Code::kInternal, std::move(message), std::strerror(err)};
}

}  // namespace tug
