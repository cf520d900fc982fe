# Debian's hardening build flags, as `dpkg-buildflags` gives them on
# Debian 12 with DEB_BUILD_MAINT_OPTIONS=hardening=+all: fortified libc
# calls, a stack protector, format-string checks, full RELRO with
# immediate binding, position-independent executables. On by default in
# Release builds, which the .deb is made from (docs/install.md, "The Debian
# package"); included before the targets exist so that every one of them,
# the static libraries included, gets the flags.
if(CMAKE_BUILD_TYPE STREQUAL "Release" AND NOT SIGDUMP_SANITIZE)
  set(_sigdump_harden_default ON)
else()
  set(_sigdump_harden_default OFF)
endif()
option(SIGDUMP_HARDEN
       "Build with Debian's hardening flags (fortify, stack protector, format checks, relro/now, PIE)"
       ${_sigdump_harden_default})

if(SIGDUMP_HARDEN)
  # _FORTIFY_SOURCE does nothing without optimization, and glibc warns.
  add_compile_options($<$<NOT:$<CONFIG:Debug>>:-D_FORTIFY_SOURCE=2>
                      -fstack-protector-strong -Wformat -Werror=format-security)
  add_link_options(LINKER:-z,relro LINKER:-z,now)
  include(CheckPIESupported)
  check_pie_supported()
  set(CMAKE_POSITION_INDEPENDENT_CODE ON)
endif()
