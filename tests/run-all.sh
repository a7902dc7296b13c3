#!/usr/bin/env bash
# The one command that runs the whole suite, on a fresh Debian/Ubuntu machine too:
#
#     bash tests/run-all.sh [pytest arguments...]
#
# Installs the system packages the real-server tests need (Dovecot IMAP,
# D-Bus, Xvfb, dunst, notify-send, openssl, Chromium) when any is missing, creates
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

# binary:Debian package
source tests/ensure-packages.sh
ensure_packages dovecot:dovecot-imapd dbus-run-session:dbus Xvfb:xvfb dunst:dunst \
    notify-send:libnotify-bin openssl:openssl xclip:xclip systemd-analyze:systemd python3:python3 \
    chromium:chromium mmdebstrap:mmdebstrap ip:iproute2 nft:nftables

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
say "mypy (linux, win32, darwin)"
.venv/bin/mypy
.venv/bin/mypy --platform win32
.venv/bin/mypy --platform darwin
say "pytest $*"
.venv/bin/python -m pytest "$@"
