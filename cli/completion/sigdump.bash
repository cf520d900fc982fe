# bash completion for sigdump(1)                              -*- shell-script -*-
#
# Installed as share/bash-completion/completions/sigdump (loaded on demand by
# the bash-completion package), or source it from ~/.bashrc.
#
# The program completes itself: `sigdump __complete WORD...` (the words after
# "sigdump", the last one being completed) prints the candidates, one a line
# ("WORD<TAB>DESCRIPTION"), then ":files", ":dirs" or ":words". Commands and
# options come from the program's own help, tensor names from a dump file on
# the command line (show) or the daemon (query), pair names and run ids from
# the daemon, so the zsh and fish completions (sigdump.zsh, sigdump.fish)
# offer exactly the same.

_sigdump() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  local prog=${COMP_WORDS[0]}
  local -a words=("${COMP_WORDS[@]:1:COMP_CWORD}")
  COMPREPLY=()
  # bash splits "--flag=VALUE" at '=': "--flag" "=" "VALUE".
  if [[ $cur == = ]]; then
    cur=""
    words+=("")
  fi
  local out
  out=$("$prog" __complete "${words[@]}" 2>/dev/null) || return 0
  local directive=${out##*$'\n'}
  case $directive in
    :files)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      ;;
    :dirs)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -d -- "$cur")
      ;;
    *)
      [[ $out == *$'\n'* ]] || return 0
      mapfile -t COMPREPLY < <(printf '%s\n' "${out%$'\n'*}" | cut -f1)
      ;;
  esac
  return 0
}

complete -F _sigdump sigdump
