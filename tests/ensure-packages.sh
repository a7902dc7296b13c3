# Sourced by tests/run-all.sh and benchmarks/run.sh: install the Debian packages that are
# missing, with apt-get (as root, or through sudo).
#
#     ensure_packages dovecot:dovecot-imapd openssl:openssl ...   # binary:package
#
# python3-venv is added when python3 cannot create a venv.
ensure_packages() {
    local missing=() pair bin
    for pair in "$@"; do
        bin=${pair%%:*}
        command -v "$bin" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        missing+=(python3-venv)
    fi
    ((${#missing[@]})) || return 0
    local as_root=()
    if [[ $(id -u) -ne 0 ]]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "Missing packages: ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
            exit 1
        fi
        as_root=(sudo)
    fi
    printf '==> installing %s\n' "${missing[*]}"
    "${as_root[@]}" apt-get update -q
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
}
