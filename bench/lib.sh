# Shared by the bench scripts: source it, do not run it.

# best_rate STORIES CMD...: runs CMD five times on CPU 0 and prints the best
# rate in stories per second (wall time, process start included).
best_rate() {
    local stories=$1
    shift
    local best="" start end t
    for _ in 1 2 3 4 5; do
        start=$(date +%s.%N)
        taskset -c 0 "$@"
        end=$(date +%s.%N)
        t=$(echo "$end - $start" | bc -l)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
    done
    echo "$stories / $best" | bc -l
}

# ensure_venv DIR PACKAGE...: a venv at DIR with the packages installed.
ensure_venv() {
    local venv=$1
    shift
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
    fi
}

# server_workdir: sets `work` to a fresh temporary directory and
# `server_pid` to empty, and on exit stops the server whose pid the script
# has put in `server_pid` and removes `work`.
server_workdir() {
    work=$(mktemp -d)
    server_pid=""
    trap server_workdir_cleanup EXIT
}

server_workdir_cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null && { wait "$server_pid" 2>/dev/null || true; }
    fi
    rm -rf "$work"
}
