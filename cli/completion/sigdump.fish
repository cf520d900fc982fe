# fish completion for sigdump(1). Installed as
# share/fish/vendor_completions.d/sigdump.fish.
#
# The program completes itself, as for bash (sigdump.bash): `sigdump
# __complete WORD...` prints "WORD<TAB>DESCRIPTION" lines, then ":files",
# ":dirs" or ":words".

function __sigdump_complete
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -l out ($tokens[1] __complete $tokens[2..-1] $cur 2>/dev/null)
    or return
    set -l directive $out[-1]
    set -e out[-1]
    switch $directive
        case :files
            __fish_complete_path $cur
        case :dirs
            __fish_complete_directories $cur
        case '*'
            printf '%s\n' $out
    end
end

complete -c sigdump -f -a '(__sigdump_complete)'
