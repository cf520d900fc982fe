#compdef sigdump
# zsh completion for sigdump(1). Installed as _sigdump in a folder of $fpath
# (share/zsh/vendor-completions on Debian); compinit loads it.
#
# The program completes itself, as for bash (sigdump.bash): `sigdump
# __complete WORD...` prints "WORD<TAB>DESCRIPTION" lines, then ":files",
# ":dirs" or ":words".

_sigdump() {
  local out directive line
  local -a lines candidates
  out=$(${words[1]} __complete "${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
  lines=("${(@f)out}")
  directive=${lines[-1]}
  case $directive in
    :files) _files ;;
    :dirs) _files -/ ;;
    *)
      for line in "${(@)lines[1,-2]}"; do
        if [[ $line == *$'\t'* ]]; then
          candidates+=("${${line%%$'\t'*}//:/\\:}:${line#*$'\t'}")
        else
          candidates+=("${line//:/\\:}")
        fi
      done
      (( ${#candidates} )) && _describe -t values sigdump candidates
      ;;
  esac
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _sigdump "$@"
else
  compdef _sigdump sigdump
fi
