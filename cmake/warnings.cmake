# Warnings for sigdump's own targets only (not for third-party headers).
function(sigdump_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion)
  if(SIGDUMP_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
