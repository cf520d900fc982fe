# Every mandated dependency is a Debian 12 package; a missing one stops
# configure with the package name to install.

function(sigdump_require found what package)
  if(NOT ${found})
    message(FATAL_ERROR "sigdump: ${what} not found; install the Debian package: apt-get install ${package}")
  endif()
endfunction()

find_package(Threads REQUIRED)

find_package(Boost 1.74 QUIET)
sigdump_require(Boost_FOUND "Boost.Interprocess" libboost-dev)

find_package(simdjson QUIET)
sigdump_require(simdjson_FOUND "simdjson" libsimdjson-dev)

# The C libraries through pkg-config, with the oldest version the code
# works with (Debian 12 has liburing 2.3, xxhash 0.8.1, libsystemd 252):
# liburing 2.2 brought io_uring_sqe_set_data64, xxhash 0.8.0 the stable
# XXH3_64bits, libsystemd 209 sd_watchdog_enabled.
find_package(PkgConfig QUIET)
sigdump_require(PKG_CONFIG_FOUND "pkg-config" pkg-config)

# sigdump_pkg(TARGET MODULE_SPEC WHAT PACKAGE): TARGET (sigdump::uring...)
# links the pkg-config module MODULE_SPEC ("liburing>=2.2").
function(sigdump_pkg target spec what package)
  string(MAKE_C_IDENTIFIER "SIGDUMP_PC_${target}" prefix)
  pkg_check_modules(${prefix} QUIET IMPORTED_TARGET ${spec})
  if(NOT ${prefix}_FOUND)
    message(FATAL_ERROR "sigdump: ${what} (${spec}) not found by pkg-config, or older; install the Debian package: apt-get install ${package}")
  endif()
  add_library(${target} INTERFACE IMPORTED)
  target_link_libraries(${target} INTERFACE PkgConfig::${prefix})
endfunction()

sigdump_pkg(sigdump::uring "liburing>=2.2" "liburing" liburing-dev)
sigdump_pkg(sigdump::xxhash "libxxhash>=0.8.0" "xxHash" libxxhash-dev)
sigdump_pkg(sigdump::systemd "libsystemd>=209" "libsystemd" libsystemd-dev)

if(SIGDUMP_BUILD_TESTS)
  find_package(GTest QUIET)
  sigdump_require(GTest_FOUND "GoogleTest" libgtest-dev)
endif()
if(SIGDUMP_BUILD_BENCH)
  find_package(benchmark QUIET)
  sigdump_require(benchmark_FOUND "Google Benchmark" libbenchmark-dev)
endif()
