#!/usr/bin/env bash
# The editor's page in headless Chromium (tests/browser.rs): installs
# Debian's chromium when it is missing, then runs the ignored browser test.
# The screenshot it takes is left at target/desk-cluster.png.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CHROMIUM:-}" ] && ! command -v chromium > /dev/null; then
    echo "browser: installing Debian's chromium"
    apt_get=(apt-get)
    [ "$(id -u)" -eq 0 ] || apt_get=(sudo apt-get)
    "${apt_get[@]}" install -y --no-install-recommends chromium > /dev/null \
        || { "${apt_get[@]}" update > /dev/null && "${apt_get[@]}" install -y --no-install-recommends chromium > /dev/null; }
fi
cargo test --test browser -- --ignored
echo "browser: screenshot at target/desk-cluster.png"
