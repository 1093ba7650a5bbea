#!/usr/bin/env bash
# Checks deploy/copydesk.service with `systemd-analyze verify` (installing
# systemd's tools from Debian's packages if they are missing). verify also
# checks that ExecStart's binary exists, so the check runs on a copy whose
# /usr/local/bin/copydesk points at the binary built here.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! command -v systemd-analyze >/dev/null; then
    echo "check_deploy: installing systemd (for systemd-analyze)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi
binary=${1:-$root/target/release/copydesk}
[ -x "$binary" ] || (cd "$root" && cargo build --release --quiet --bin copydesk)
sed "s#/usr/local/bin/copydesk#$binary#" "$root/deploy/copydesk.service" >"$work/copydesk.service"
if ! output=$(systemd-analyze verify "$work/copydesk.service" 2>&1); then
    echo "$output" >&2
    echo "check_deploy: FAILED: systemd-analyze verify refused deploy/copydesk.service" >&2
    exit 1
fi
# verify exits 0 on some warnings: any line about the unit is a failure.
if grep -q "copydesk.service" <<<"$output"; then
    echo "$output" >&2
    echo "check_deploy: FAILED: systemd-analyze verify warned about deploy/copydesk.service" >&2
    exit 1
fi
echo "check_deploy: systemd-analyze verify accepts deploy/copydesk.service"
