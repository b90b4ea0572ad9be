#pragma once
/// One error type for the whole code base: a small closed set of codes, a message that tells the
/// user what to do, and the native detail (SQL state, HTTP status, errno) for operators.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tug {

enum class Code {
  kInvalidArgument,     // malformed input: 400
  kNotFound,            // 404
  kAlreadyExists,       // 409
  kFailedPrecondition,  // well-formed but cannot be done (limits, state): 422
  kAborted,             // conflict, retry may succeed: 409
  kUnavailable,         // 503
  kDeadlineExceeded,    // 504
  kResourceExhausted,   // too large / too many: 413
  kPermissionDenied,    // 403
  kUnauthenticated,     // 401
  kCancelled,           // 499-ish, reported as 409
  kInternal,            // 500
};

/// Stable snake_case name used in API error bodies ("invalid_argument").
std::string_view CodeName(Code code);
/// The single mapping from error codes to HTTP statuses.
int HttpStatus(Code code);

class Error {
 public:
  Error(Code code, std::string message, std::string detail = {})
      : code_(code), message_(std::move(message)), detail_(std::move(detail)) {}

  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& detail() const { return detail_; }
  /// "not_found: run '01j...' not found (detail)"
  std::string ToString() const;

  /// Prefixes the message with context: "loading config: <message>".
  Error&& WithContext(std::string_view context) &&;

 private:
  Code code_;
  std::string message_;
  std::string detail_;
};

Error InvalidArgument(std::string message);
Error NotFound(std::string message);
Error AlreadyExists(std::string message);
Error FailedPrecondition(std::string message);
Error Aborted(std::string message);
Error Unavailable(std::string message, std::string detail = {});
Error Internal(std::string message, std::string detail = {});
Error ResourceExhausted(std::string message);
/// Internal error carrying strerror(errno) as detail.
Error ErrnoError(std::string message, int err);

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value)
      : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error)
      : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Error& error() const { return std::get<1>(v_); }
  Error&& take_error() && { return std::get<1>(std::move(v_)); }

  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : e_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return !e_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *e_; }
  Error&& take_error() && { return std::move(*e_); }

 private:
  std::optional<Error> e_;
};

using Status = Result<void>;
inline Status OkStatus() { return {}; }

}  // namespace tug

#define TUG_CONCAT_INNER(a, b) a##b
#define TUG_CONCAT(a, b) TUG_CONCAT_INNER(a, b)

// NOLINTBEGIN(bugprone-macro-parentheses): arguments are a name and a declaration
#define TUG_RETURN_IF_ERROR_IMPL(tmp, expr)            \
  do {                                                 \
    auto tmp = (expr);                                 \
    if (!tmp.ok()) return std::move(tmp).take_error(); \
  } while (0)
// Line-unique temporaries, so the macros nest (e.g. inside a lambda) under -Wshadow.
#define RETURN_IF_ERROR(expr) TUG_RETURN_IF_ERROR_IMPL(TUG_CONCAT(tug_status_, __LINE__), expr)

#define TUG_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)    \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return std::move(tmp).take_error(); \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  TUG_ASSIGN_OR_RETURN_IMPL(TUG_CONCAT(tug_result_, __LINE__), lhs, expr)
// NOLINTEND(bugprone-macro-parentheses)
