// tug-shim: the per-attempt supervisor of the local engine as its own small executable. It is
// linked statically and without sanitizers, so a launch costs a fork and an exec of a few
// hundred kilobytes instead of loading the server's libraries (see README.md).
#include "shim/shim.h"

int main(int argc, char** argv) { return tug::engine::local::RunShim(argc, argv); }
