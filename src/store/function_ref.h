#pragma once
/// Small helpers the Store backends share for their transaction bodies: a non-allocating
/// reference to a callable, and turning a body's status plus the value it filled into a Result.
#include <memory>
#include <type_traits>
#include <utility>

#include "core/error.h"

namespace tug::store {

/// `value` (moved out) when `st` is OK, else the error: `return ValueIfOk(Write(body), out);`,
/// where the body fills `out`. (RETURN_IF_ERROR around a lambda that itself uses RETURN_IF_ERROR
/// would shadow the macro's variable.)
template <class T>
Result<T> ValueIfOk(Status st, T& value) {
  if (!st.ok()) return std::move(st).take_error();
  return std::move(value);
}

/// A non-owning reference to a callable, for the store's transaction helpers (std::function
/// would allocate for lambdas capturing more than two references, on every call).
template <class Sig>
class FunctionRef;

template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  // clang-format off
  // The requires clause keeps this from hiding the copy constructor.
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef> &&
             std::is_invocable_r_v<R, F&, Args...>)
  // NOLINTNEXTLINE(google-explicit-constructor,bugprone-forwarding-reference-overload)
  FunctionRef(F&& f)
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* obj, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(obj))(std::forward<Args>(args)...);
        }) {}
  // clang-format on
  R operator()(Args... args) const { return call_(obj_, std::forward<Args>(args)...); }

 private:
  void* obj_;
  R (*call_)(void*, Args...);
};

}  // namespace tug::store
