# Installation and packaging (included last by the top-level CMakeLists.txt).
# The programs install themselves (cli/ and daemon/ CMakeLists); this adds
# the systemd user units, man pages, bash, zsh and fish completions and
# documentation, and the CPack configuration for a Debian package (`cpack -G DEB`).

set(SIGDUMP_SYSTEMD_USER_UNIT_DIR "lib/systemd/user"
    CACHE STRING "Where the systemd user units go: relative to the prefix, or absolute")

# The units name the installed sigdumpd by absolute path, and the prefix is
# known only at install time (`cmake --install --prefix`, CPack), so they are
# configured then. A folder per destination keeps two concurrent installs
# from the same build tree from swapping each other's paths.
install(CODE "set(_sigdump_units_src \"${PROJECT_SOURCE_DIR}/systemd\")
set(_sigdump_units_work \"${PROJECT_BINARY_DIR}/install-units\")
set(_sigdump_bindir \"${CMAKE_INSTALL_BINDIR}\")
set(_sigdump_unitdir \"${SIGDUMP_SYSTEMD_USER_UNIT_DIR}\")")
install(CODE [==[
  if(IS_ABSOLUTE "${_sigdump_bindir}")
    set(CMAKE_INSTALL_FULL_BINDIR "${_sigdump_bindir}")
  else()
    set(CMAKE_INSTALL_FULL_BINDIR "${CMAKE_INSTALL_PREFIX}/${_sigdump_bindir}")
  endif()
  if(IS_ABSOLUTE "${_sigdump_unitdir}")
    set(_sigdump_unit_dest "${_sigdump_unitdir}")
  else()
    set(_sigdump_unit_dest "${CMAKE_INSTALL_PREFIX}/${_sigdump_unitdir}")
  endif()
  string(MD5 _sigdump_key "$ENV{DESTDIR}|${CMAKE_INSTALL_PREFIX}")
  set(_sigdump_out "${_sigdump_units_work}/${_sigdump_key}")
  set(_sigdump_units "")
  foreach(_unit sigdumpd.socket sigdumpd.service)
    configure_file("${_sigdump_units_src}/${_unit}.in" "${_sigdump_out}/${_unit}" @ONLY)
    list(APPEND _sigdump_units "${_sigdump_out}/${_unit}")
  endforeach()
  file(INSTALL DESTINATION "${_sigdump_unit_dest}" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES ${_sigdump_units})
]==])

install(FILES ${PROJECT_SOURCE_DIR}/docs/man/sigdump.1 ${PROJECT_SOURCE_DIR}/docs/man/sigdumpd.1
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_SOURCE_DIR}/cli/completion/sigdump.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME sigdump)
install(FILES ${PROJECT_SOURCE_DIR}/cli/completion/sigdumpd.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME sigdumpd)
# zsh and fish: the same completion as bash's (`sigdump __complete`), where
# Debian's zsh and fish look for vendor completions.
install(FILES ${PROJECT_SOURCE_DIR}/cli/completion/sigdump.zsh
        DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions
        RENAME _sigdump)
install(FILES ${PROJECT_SOURCE_DIR}/cli/completion/sigdump.fish
        DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d)

# Documentation: README.md, docs/*.md with their images, and everything in
# docs/examples/.
# Matched at install time, so pages added later need no edit here.
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
        FILES_MATCHING
        REGEX "/docs/[^/]+\\.(md|png|svg)$"
        REGEX "/docs/examples/.+"
        PATTERN "man" EXCLUDE)

# Debian package: `cpack -G DEB` in the build folder. The programs in it are
# built with Debian's hardening flags when SIGDUMP_HARDEN is on
# (cmake/hardening.cmake; the default for Release).
if(PROJECT_IS_TOP_LEVEL)
  if(NOT SIGDUMP_HARDEN)
    message(STATUS "sigdump: SIGDUMP_HARDEN is off: a .deb made from this build "
                   "lacks Debian's hardening flags (configure with -DCMAKE_BUILD_TYPE=Release)")
  endif()
  set(CPACK_GENERATOR DEB)
  set(CPACK_PACKAGE_NAME sigdump)
  set(CPACK_PACKAGE_VENDOR "sigdump")
  set(CPACK_PACKAGE_CONTACT "sigdump maintainers <sigdump@localhost>")
  set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
  set(CPACK_PACKAGE_DESCRIPTION
      "sigdump finds the layer where a quantized neural network loses accuracy on
a SigmaStar IPU: it reads the tensor dumps of the original, float-simulator
and fixed-point models and compares them layer by layer with the vendor's
MSE, COS and RMSE numbers. sigdumpd (systemd user units included) does it
live, streaming each layer's metrics to subscribers over a Unix socket.")
  set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
  # Install with DESTDIR and the prefix /usr, so that CMAKE_INSTALL_PREFIX
  # is /usr while the units are configured: their ExecStart= must name
  # /usr/bin/sigdumpd, not the staging folder.
  set(CPACK_SET_DESTDIR ON)
  set(CPACK_INSTALL_PREFIX /usr)
  set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
  set(CPACK_STRIP_FILES ON)
  set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
  set(CPACK_DEBIAN_PACKAGE_SECTION devel)
  set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
  # Runtime libraries, computed from the binaries by dpkg-shlibdeps when it
  # is there (package dpkg-dev); otherwise the Debian 12 packages the
  # programs link.
  find_program(SIGDUMP_DPKG_SHLIBDEPS dpkg-shlibdeps)
  if(SIGDUMP_DPKG_SHLIBDEPS)
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  else()
    set(CPACK_DEBIAN_PACKAGE_DEPENDS
        "libc6 (>= 2.36), libstdc++6 (>= 12), libgcc-s1, liburing2 (>= 2.2), libsimdjson14, libxxhash0 (>= 0.8.0), libsystemd0")
  endif()
  # The Python module (libdump/python) is built for one interpreter
  # version and needs numpy at run time; shlibdeps adds these to its list.
  if(SIGDUMP_PYTHON_BUILT)
    string(REPLACE "." ";" _py_ver "${SIGDUMP_PYTHON_VERSION}")
    list(GET _py_ver 0 _py_major)
    list(GET _py_ver 1 _py_minor)
    math(EXPR _py_next "${_py_minor} + 1")
    set(_py_depends "python3 (>= ${_py_major}.${_py_minor}), python3 (<< ${_py_major}.${_py_next}), python3-numpy")
    if(CPACK_DEBIAN_PACKAGE_DEPENDS)
      string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", ${_py_depends}")
    else()
      set(CPACK_DEBIAN_PACKAGE_DEPENDS "${_py_depends}")
    endif()
    set(CPACK_DEBIAN_PACKAGE_SUGGESTS "systemd, python3-pandas, python3-matplotlib")
  else()
    set(CPACK_DEBIAN_PACKAGE_SUGGESTS "systemd")
  endif()
  include(CPack)
endif()
