# Shared by the benchmark scripts (sourced; needs $RUNS and $work).

# The machine and versions, as a Markdown section.
machine() {
    echo "## Machine"
    echo
    echo "- $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM, $(uname -sr)"
    echo "- $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
    echo "- Docker Engine $(docker version --format '{{.Server.Version}}') (API $(docker version --format '{{.Server.APIVersion}}')), $(docker compose version --short | sed 's/^/Compose /')"
    echo "- deploy $(git rev-parse --short HEAD), release build; $(date -u +%Y-%m-%d)"
    echo "- load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
}

# hyperfine with the given arguments (default --runs $RUNS), its table on stdout.
md() {
    local runs=(--runs "$RUNS")
    [[ " $* " == *" --runs "* ]] && runs=()
    hyperfine --style none "${runs[@]}" --export-markdown "$work/r.md" "$@" >"$work/h.log" 2>&1 || { cat "$work/h.log" >&2; exit 1; }
    cat "$work/r.md"; echo
}
