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

# free_address: a 127.0.0.1 address with a port free just now.
free_address() {
    echo "127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
}

# postgres_bench_db NAME: a fresh database for one bench run, dropped on
# exit with the work directory (calls server_workdir). Sets `admin` (the
# server's maintenance database) and `url` (the new one); fails clearly
# when no PostgreSQL answers.
postgres_bench_db() {
    admin=${COPYDESK_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}
    bench_db="copydesk_$1_$$"
    url="${admin%/*}/$bench_db"
    psql "$admin" -qAtc "select 1" >/dev/null 2>&1 || { echo "no PostgreSQL at $admin" >&2; exit 1; }
    server_workdir
    trap 'server_workdir_cleanup; psql "$admin" -qc "DROP DATABASE IF EXISTS $bench_db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
    psql "$admin" -qc "CREATE DATABASE $bench_db" >/dev/null
}

# serve_logged LOG ARGS...: `copydesk serve --listen $address ARGS` (the
# dist build in `bin`), info logs to LOG; returns once it serves, with its
# pid in `server_pid`.
serve_logged() {
    local log=$1
    shift
    RUST_LOG=info "$bin" serve --listen "$address" "$@" 2>"$log" &
    server_pid=$!
    for _ in $(seq 1 1200); do
        grep -q "copydesk serving" "$log" && return
        kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
        sleep 0.1
    done
    echo "the server did not start within 120 s: $(cat "$log")" >&2
    exit 1
}

# stop_server: stops the server `serve_logged` started, and waits for it.
stop_server() {
    kill "$server_pid"
    wait "$server_pid" || true
    server_pid=""
}

# dist_build_and_corpus STORIES: builds copydesk, gen_corpus and
# load_client with the dist profile, sets `bin`, and writes STORIES
# synthetic stories to $work/corpus.jsonl.
dist_build_and_corpus() {
    (cd "$root" && cargo build --profile dist --quiet --bin copydesk \
        && cargo build --profile dist --quiet --example gen_corpus --example load_client)
    bin=$root/target/dist/copydesk
    "$root/target/dist/examples/gen_corpus" "$1" > "$work/corpus.jsonl"
}
