#!/usr/bin/env bash
# The benchmark in one command, on a fresh Debian/Ubuntu machine too (as root: it starts
# its own Dovecot):
#
#     bash benchmarks/run.sh [run.py arguments...]     # e.g. --quick
#
# Installs Dovecot when missing, creates .venv with the project, its test extras and the
# baseline's imap-tools, then runs benchmarks/run.py.
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"  # dovecot lives in /usr/sbin
source tests/ensure-packages.sh
ensure_packages dovecot:dovecot-imapd openssl:openssl python3:python3

if [[ ! -x .venv/bin/python ]]; then
    printf '==> creating .venv\n'
    python3 -m venv .venv
fi
printf '==> installing secop-watcher[test] and the benchmark requirements into .venv\n'
.venv/bin/pip install -q -e '.[test]' -r benchmarks/requirements.txt
exec .venv/bin/python benchmarks/run.py "$@"
