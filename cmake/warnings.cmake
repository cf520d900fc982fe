# Warnings for sigdump's own targets only (not for third-party headers).
function(sigdump_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion
    # GCC 12 reports false -Wrestrict on std::string concatenation at -O2 (GCC PR 105329).
    $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
  if(SIGDUMP_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
