#!/usr/bin/env bash
# Installs every Debian package outpost needs to build and test.
#
# Idempotent: asks dpkg what is missing and calls apt-get only for that
# (running `apt-get update` once, only when something is missing).
# Peer mail servers (postfix, dovecot) and the test DNS server (nsd) are
# installed as binaries only: no system-wide service is configured, started
# or left holding a port (25, 143, 53...).
# Tests run their own instances with their own config directories.
set -euo pipefail

BUILD_PKGS=(
    build-essential meson ninja-build pkg-config clang libclang-rt-14-dev
    libevent-dev libssl-dev libunbound-dev libsqlite3-dev libsodium-dev
    libinih-dev libjansson-dev libidn2-dev zlib1g-dev openssl ca-certificates
)
TEST_PKGS=(
    python3 python3-pytest python3-nacl python3-dkim python3-spf python3-dnspython
    python3-aiosmtpd python3-yaml python3-cryptography python3-openssl
    swaks libnet-ssleay-perl libio-socket-ssl-perl isync fetchmail getmail6 postfix dovecot-imapd dovecot-pop3d
    neomutt bsdutils publicsuffix nsd ldnsutils
)

missing=()
for p in "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$p")
done

SUDO=
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo -n"
fi

# `outpost serve` started as root drops to this unprivileged system user
# (the `user` setting); quickstart as root writes it into the config.
# Packaged daemons make their user at install time; so do we.
if ! getent passwd outpost >/dev/null; then
    echo "deps: creating system user outpost"
    $SUDO useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin outpost
fi

if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#BUILD_PKGS[@]} build and ${#TEST_PKGS[@]} test packages present"
    exit 0
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# Postfix asks how to configure itself; answer "No configuration" so that it
# writes no main.cf and runs no daemon.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections

# Keep packages from starting their services during this install (dovecot
# would otherwise bind 143/993, postfix 25 and nsd 53).  Only if no policy exists
# already: we never change a policy somebody else set, and we remove ours.
policy=/usr/sbin/policy-rc.d
ours=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# outpost deps.sh: no service starts during this install\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    ours=1
fi
cleanup() { [ "$ours" = 1 ] && $SUDO rm -f "$policy"; }
trap cleanup EXIT

$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"

# The peer servers' own services stay off after a reboot too: tests run
# their own instances, and the real ports belong to outpost. Only the units
# of packages this run installed are touched.
if command -v systemctl >/dev/null 2>&1; then
    for p in "${missing[@]}"; do
        case "$p" in
            postfix) $SUDO systemctl disable --now postfix.service >/dev/null 2>&1 || true ;;
            dovecot-imapd|dovecot-pop3d) $SUDO systemctl disable --now dovecot.service >/dev/null 2>&1 || true ;;
            nsd) $SUDO systemctl disable --now nsd.service >/dev/null 2>&1 || true ;;
        esac
    done
fi
echo "deps: done"
