// Boost.JSON compiled into tug-shim itself (header-only mode), so the static shim needs no
// shared Boost library at run time.
#include <boost/json/src.hpp>
