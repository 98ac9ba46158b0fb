#!/bin/sh
# The Asterisk image's install step (docker/asterisk.Dockerfile), run as root inside Debian sid.
# tests/docker run the same script inside a copy of the project's own sid root
# (acd/asterisk/install.py builds and caches it): the packages are those of
# acd.asterisk.install.PACKAGES (a test compares the two lists).
set -eu
export DEBIAN_FRONTEND=noninteractive
# The sid archive these machines reach is frozen: its Release file's Valid-Until is past
# (../shared/ASTERISK.md); against a live mirror the option changes nothing.
apt_get() {
    apt-get -o Acquire::Check-Valid-Until=false -o APT::Install-Recommends=false \
        -o Dpkg::Use-Pty=0 "$@"
}
apt_get update -qq
apt_get install -y -qq \
    asterisk \
    asterisk-modules \
    asterisk-core-sounds-en-gsm \
    asterisk-moh-opsound-gsm
apt_get clean
rm -rf /var/lib/apt/lists/*
/usr/sbin/asterisk -V | grep -q '^Asterisk 22\.' || {
    echo "install-asterisk.sh: expected Asterisk 22, got $(/usr/sbin/asterisk -V)" >&2
    exit 1
}
# The instance directory (asterisk-config's @INSTANCE_DIR@): the rendered config arrives in
# rendered/ (a volume the renderer writes); asterisk-entrypoint.sh builds etc/ and the rest.
install -d -m 0755 -o asterisk -g asterisk /var/lib/acd-asterisk /var/lib/acd-asterisk/log
