# CI only (.ci/run sets CMAKE_TOOLCHAIN_FILE to this file): the Bitcoin Core
# kernel that libbitcoinkernel-sys builds as RelWithDebInfo, without the
# debug info. The code is the same -O2 code; gcc compiles Core's sources
# about 30% faster without -g (measured on this machine: 94.5 s against
# 66.1 s for validation.cpp, net_processing.cpp, script/interpreter.cpp and
# txmempool.cpp). A cache entry set here comes before CMake's defaults,
# which do not override it.
set(CMAKE_C_FLAGS_RELWITHDEBINFO "-O2" CACHE STRING "Flags for RelWithDebInfo builds (CI: no debug info)")
set(CMAKE_CXX_FLAGS_RELWITHDEBINFO "-O2" CACHE STRING "Flags for RelWithDebInfo builds (CI: no debug info)")
# And as a unity build (see the file).
set(CMAKE_PROJECT_BitcoinCore_INCLUDE "${CMAKE_CURRENT_LIST_DIR}/core-unity-build.cmake"
    CACHE FILEPATH "Bitcoin Core as a unity build (CI)")
