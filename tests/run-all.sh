#!/usr/bin/env bash
# The one command that runs the whole suite, on a fresh Debian/Ubuntu machine too:
#
#     bash tests/run-all.sh [pytest arguments...]
#
# Installs the system packages the real-server tests need (Dovecot IMAP,
# D-Bus, Xvfb, dunst, notify-send, openssl) when any is missing, creates
# .venv with the project and its test extras, then runs ruff, mypy and pytest.
# The Dovecot tests start their own throwaway servers (as root) on free
# loopback ports with their own run/state directories, so a system Dovecot
# started by the package does not get in their way and is left alone.
# CI=true (or 1) turns "skipped: dovecot missing" into a failure.
set -euo pipefail

cd "$(dirname "$0")/.."
# dovecot lives in /usr/sbin, which is not on every user's PATH.
export PATH="$PATH:/usr/sbin:/sbin"

say() { printf '==> %s\n' "$*"; }

# binary -> Debian package
declare -A PACKAGES=(
    [dovecot]=dovecot-imapd
    [dbus-run-session]=dbus
    [Xvfb]=xvfb
    [dunst]=dunst
    [notify-send]=libnotify-bin
    [openssl]=openssl
    [xclip]=xclip
    [systemd-analyze]=systemd
    [python3]=python3
)
missing=()
for bin in "${!PACKAGES[@]}"; do
    command -v "$bin" >/dev/null 2>&1 || missing+=("${PACKAGES[$bin]}")
done
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        as_root=()
    elif command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        echo "Missing packages: ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
        exit 1
    fi
    say "installing ${missing[*]}"
    "${as_root[@]}" apt-get update -q
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ ! -x .venv/bin/python ]]; then
    say "creating .venv"
    python3 -m venv .venv
fi
say "installing secop-watcher[test] into .venv"
.venv/bin/pip install -q -e '.[test]'

say "ruff check"
.venv/bin/ruff check .
say "ruff format --check"
.venv/bin/ruff format --check .
say "mypy"
.venv/bin/mypy
say "pytest $*"
.venv/bin/python -m pytest "$@"
