# bash completion for sigdump(1)                              -*- shell-script -*-
#
# Installed as share/bash-completion/completions/sigdump (loaded on demand by
# the bash-completion package), or source it from ~/.bashrc.
#
# Commands and flags are read from the program's own help (`sigdump --help`,
# `sigdump COMMAND --help`), so they never fall out of step with the binary;
# each help text is read once per shell. Flags whose value is a FILE, PATH
# or DIR complete file names, `--flag a|b|c` completes the choices, other
# values complete nothing; words that are not flags complete file names (the
# dump files most commands take).

# Prints the command names listed under "commands:" in `sigdump --help`.
_sigdump_list_commands() {
  "$1" --help 2>/dev/null | awk '
    /^commands:/ { inside = 1; next }
    inside && /^[^ \t]/ { inside = 0 }
    inside && /^  [a-z][a-z0-9_-]*( |$)/ { print $1 }'
}

# Prints one line per flag of `sigdump CMD --help`: "FLAG KIND [CHOICES]",
# KIND being none (a switch), value (a number, a name: nothing to offer),
# file, dir or choice.
_sigdump_list_flags() {
  "$1" "$2" --help 2>/dev/null | awk '
    {
      line = $0
      while (match(line, /(^|[][ \t,|(])--?[A-Za-z][A-Za-z0-9-]*([ =]<?[A-Za-z][A-Za-z0-9_|.,:-]*>?)?/)) {
        token = substr(line, RSTART, RLENGTH)
        line = substr(line, RSTART + RLENGTH)
        sub(/^[][ \t,|(]/, "", token)
        flag = token; value = ""
        if (match(token, /[ =]/)) {
          flag = substr(token, 1, RSTART - 1)
          value = substr(token, RSTART + 1)
        }
        gsub(/[<>]/, "", value)
        sub(/[,.:]+$/, "", value)
        # A lone "-x" inside prose ("e.g. -1") is not a flag.
        if (flag ~ /^-[0-9]/) continue
        kind = "none"; choices = ""
        if (value ~ /(FILE|PATH|DIR|FOLDER|OUT)/) {
          kind = (value ~ /(DIR|FOLDER)$/) ? "dir" : "file"
        } else if (value ~ /\|/) {
          # "binary|text", "CLOCK|last": offer the literal words.
          n = split(value, alt, "|")
          for (j = 1; j <= n; j++) if (alt[j] ~ /^[a-z0-9_.-]+$/) choices = choices " " alt[j]
          kind = (choices != "") ? "choice" : "value"
        } else if (value ~ /^[A-Z]/) {
          kind = "value"
        }
        if (!(flag in seen) || seen[flag] == "none") {
          seen[flag] = kind
          extra[flag] = choices
        }
      }
    }
    END { for (f in seen) print f, seen[f], extra[f] }'
}

declare -gA _sigdump_flag_cache 2>/dev/null || true

# Fills _sigdump_flags (names) and _sigdump_kinds (flag -> "kind choices").
_sigdump_load_flags() {
  local prog=$1 cmd=$2 key="$1 $2"
  if [[ -z ${_sigdump_flag_cache[$key]+set} ]]; then
    _sigdump_flag_cache[$key]=$(_sigdump_list_flags "$prog" "$cmd")
  fi
  # main() answers --help for every command, listed in its help or not.
  _sigdump_flags=(--help)
  _sigdump_kinds=([--help]=none)
  local flag rest
  while read -r flag rest; do
    [[ -n $flag && $flag != --help ]] || continue
    _sigdump_flags+=("$flag")
    _sigdump_kinds[$flag]=$rest
  done <<<"${_sigdump_flag_cache[$key]}"
}

# Completes the value of a flag of the given kind into COMPREPLY.
_sigdump_complete_value() {
  local spec=$1 cur=$2 kind choices
  kind=${spec%% *}
  choices=${spec#"$kind"}
  case $kind in
    file)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
      ;;
    dir)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -d -- "$cur")
      ;;
    choice)
      mapfile -t COMPREPLY < <(compgen -W "$choices" -- "$cur")
      ;;
    *) COMPREPLY=() ;;  # a number, a name: nothing sensible to offer
  esac
}

_sigdump() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  local prev=${COMP_WORDS[COMP_CWORD - 1]}
  local prog=${COMP_WORDS[0]}
  COMPREPLY=()

  # The command is the first word after the program that is not an option
  # nor the value of a global option (an ssh:// URL is split at ':' and '=').
  local i cmd="" cmd_index=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    if [[ ${COMP_WORDS[i]} == --host || ${COMP_WORDS[i]} == --remote-sigdump ]]; then
      ((i++))
      while ((i + 1 < COMP_CWORD)) && [[ ${COMP_WORDS[i + 1]} == [:=] || ${COMP_WORDS[i]} == [:=] ]]; do
        ((i++))
      done
      continue
    fi
    if [[ ${COMP_WORDS[i]} != -* ]]; then
      cmd=${COMP_WORDS[i]}
      cmd_index=$i
      break
    fi
  done

  if [[ -z $cmd ]]; then
    if [[ $prev == --host ]]; then
      # ssh://HOST for the hosts bash knows (/etc/hosts, $HOSTFILE).
      mapfile -t COMPREPLY < <(compgen -P ssh:// -A hostname -- "${cur#ssh://}")
    elif [[ $prev == --remote-sigdump ]]; then
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    elif [[ $cur == -* ]]; then
      mapfile -t COMPREPLY < <(compgen -W "--help --version --host --remote-sigdump" -- "$cur")
    else
      mapfile -t COMPREPLY < <(compgen -W "$(_sigdump_list_commands "$prog") help" -- "$cur")
    fi
    return 0
  fi
  if [[ $cmd == help ]]; then
    ((COMP_CWORD == cmd_index + 1)) &&
      mapfile -t COMPREPLY < <(compgen -W "$(_sigdump_list_commands "$prog")" -- "$cur")
    return 0
  fi

  local -a _sigdump_flags=()
  local -A _sigdump_kinds=()
  _sigdump_load_flags "$prog" "$cmd"

  # --flag=VALUE
  if [[ $cur == --*=* ]]; then
    local flag=${cur%%=*}
    if [[ -n ${_sigdump_kinds[$flag]+set} ]]; then
      _sigdump_complete_value "${_sigdump_kinds[$flag]}" "${cur#*=}"
    fi
    return 0
  fi
  # --flag VALUE
  if ((COMP_CWORD > cmd_index + 1)) && [[ $prev == -* && -n ${_sigdump_kinds[$prev]+set} ]]; then
    local spec=${_sigdump_kinds[$prev]}
    if [[ ${spec%% *} != none ]]; then
      _sigdump_complete_value "$spec" "$cur"
      return 0
    fi
  fi
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "${_sigdump_flags[*]}" -- "$cur")
    return 0
  fi
  # `sigdump show FILE NAME`: the tensor names recorded in FILE.
  if [[ $cmd == show ]]; then
    local -a positional=()
    for ((i = cmd_index + 1; i < COMP_CWORD; i++)); do
      local w=${COMP_WORDS[i]}
      if [[ $w == -* ]]; then
        local s=${_sigdump_kinds[$w]-none}
        [[ $w != *=* && ${s%% *} != none ]] && ((i++))
        continue
      fi
      positional+=("$w")
    done
    if ((${#positional[@]} == 1)) && [[ -r ${positional[0]} ]]; then
      local names
      names=$("$prog" ls "${positional[0]}" --json 2>/dev/null |
        grep -o '"name":"[^"]*"' | sed 's/^"name":"//; s/"$//' | sort -u)
      local IFS=$'\n'
      mapfile -t COMPREPLY < <(compgen -W "$names" -- "$cur")
      return 0
    fi
  fi
  compopt -o filenames 2>/dev/null
  mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  return 0
}

complete -F _sigdump sigdump
