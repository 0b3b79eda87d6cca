# Bitcoin Core as a unity build: CMake compiles each target's sources
# eight to a translation unit, so Core's heavy headers (Boost, the
# serialization templates) are parsed once per eight files instead of once
# per file. Measured on this machine (2 cores, gcc 12):
#   the test bitcoind at -O1: 15.5 CPU-minutes (8 m 33 s) -> 7.2 (4 m 14 s);
#   the kernel at -O2:         5.6 CPU-minutes (3 m 28 s) -> 2.9 (2 m 00 s).
# The code compiled is the same source; two files must stay out of the
# batches (see below). Used by scripts/build-test-bitcoind.sh and, for the
# kernel, by scripts/ci-cmake-toolchain.cmake (CI only).
#
# CMake includes this file after Core's `project(BitcoinCore)` (as
# CMAKE_PROJECT_BitcoinCore_INCLUDE); the exclusions run once the whole
# tree is configured, when src/'s targets exist.
set(CMAKE_UNITY_BUILD ON)
cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _lnkit_unity_exclusions)
function(_lnkit_unity_exclusions)
    # node/chainstate.cpp means kernel::CacheSizes where a file batched
    # before it has brought node::CacheSizes into scope; init/common.cpp,
    # batched into libbitcoin_common, would pull InitError (bitcoin_node's)
    # into bitcoin-cli's link.
    set_source_files_properties(
        "${CMAKE_SOURCE_DIR}/src/node/chainstate.cpp"
        "${CMAKE_SOURCE_DIR}/src/init/common.cpp"
        DIRECTORY "${CMAKE_SOURCE_DIR}/src"
        PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
endfunction()
