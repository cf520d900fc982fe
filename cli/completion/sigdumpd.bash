# bash completion for sigdumpd(1)                             -*- shell-script -*-
#
# Installed as share/bash-completion/completions/sigdumpd (loaded on demand
# by the bash-completion package), or source it from ~/.bashrc.
#
# The options and what their values complete to, as `sigdumpd
# --list-options` prints them from the daemon's option table: file, dir,
# pair (NAME:SAMPLE=BENCHMARK: file names once the name is typed), value (a
# number: nothing to offer) or none (a switch).
# tests/scripts/sigdumpd_completion_test.sh fails when the two differ.
_sigdumpd_options=(
  "--watch file"
  "--pair pair"
  "--config file"
  "--state-dir dir"
  "--socket file"
  "--events-log file"
  "--quiet-ms value"
  "--poll-ms value"
  "--keep-runs value"
  "--history-max-bytes value"
  "--workers value"
  "--cos-min value"
  "--rmse-max value"
  "--metrics-dir dir"
  "--metrics-interval-ms value"
  "--archive-dir dir"
  "--archive-max-bytes value"
  "--on-first-bad file"
  "--foreground none"
  "-f none"
  "--debug none"
  "--help none"
  "-h none"
  "--version none"
)

_sigdumpd() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  local prev=""
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  COMPREPLY=()

  local -a names=()
  local -A kinds=()
  local entry
  for entry in "${_sigdumpd_options[@]}"; do
    names+=("${entry%% *}")
    kinds[${entry%% *}]=${entry#* }
  done

  # The option whose value is being typed: "--opt VALUE", "--opt=VALUE" in
  # one word, or in pieces where ':' and '=' break words (COMP_WORDBREAKS):
  # "--opt" "=" "VALUE", "--pair" "NAME" ":" "SAMPLE" "=" "BENCH". The
  # pieces are glued back up to the option.
  local opt="" value=$cur
  if [[ $cur == --*=* ]]; then
    opt=${cur%%=*}
    value=${cur#*=}
  elif [[ $cur != -* ]]; then
    local i=$COMP_CWORD
    while ((i > 1)); do
      local w=${COMP_WORDS[i - 1]}
      [[ $w == -* ]] && break
      [[ $w == [:=] || $value == [:=]* ]] || break
      value=$w$value
      i=$((i - 1))
    done
    opt=${COMP_WORDS[i - 1]}
    [[ $value == =* && $opt == -* ]] && value=${value#=}
  fi

  local kind=""
  [[ -n $opt ]] && kind=${kinds[$opt]-}
  case $kind in
    file)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -- "$value")
      ;;
    dir)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -d -- "$value")
      ;;
    pair)
      # NAME first (nothing to offer), then file names after its ':' and
      # after the '='. Only the current word is replaced: keep what it holds
      # up to its last ':' or '='.
      if [[ $value == *:* ]]; then
        local head="" tail=$cur
        if [[ $cur == *[:=]* ]]; then
          head=${cur%"${cur##*[:=]}"}
          tail=${cur##*[:=]}
        fi
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -P "$head" -- "$tail")
      fi
      ;;
    value) ;;  # a number: nothing sensible to offer
    *)
      # sigdumpd takes no operands: every word is an option.
      mapfile -t COMPREPLY < <(compgen -W "${names[*]}" -- "$cur")
      ;;
  esac
  return 0
}

complete -F _sigdumpd sigdumpd
