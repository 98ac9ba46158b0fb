#!/bin/sh
# The Asterisk image's entrypoint: the rendered configuration (docker/render_asterisk_config.py,
# run by the compose service `asterisk-config` with the controller's secrets) becomes this
# start's etc/, the astdb and run/spool directories start empty (PJSIP registrations would
# survive a restart in the astdb otherwise, as acd.asterisk.instance does), then Asterisk runs in
# the foreground as the `asterisk` user. tests/docker run this very script in a Debian sid root.
#   ACD_ASTERISK_DIR       the instance directory, @INSTANCE_DIR@ (/var/lib/acd-asterisk)
#   ACD_ASTERISK_RENDERED  where the rendered files are ($ACD_ASTERISK_DIR/rendered)
set -eu
dir=${ACD_ASTERISK_DIR:-/var/lib/acd-asterisk}
rendered=${ACD_ASTERISK_RENDERED:-$dir/rendered}
if [ ! -f "$rendered/asterisk.conf" ]; then
    echo "asterisk-entrypoint: no rendered configuration in $rendered" \
        "(the asterisk-config service renders it)" >&2
    exit 1
fi
rm -rf "${dir:?}/etc" "${dir:?}/run" "${dir:?}/db" "${dir:?}/spool"
install -d -m 0700 -o asterisk -g asterisk "$dir/etc"
install -d -m 0750 -o asterisk -g asterisk "$dir/run" "$dir/db" "$dir/spool" "$dir/log"
cp "$rendered"/* "$dir/etc/"
chown asterisk:asterisk "$dir/etc"/*
chmod 0600 "$dir/etc"/*
# exec: Asterisk is PID 1's successor and gets the container's SIGTERM (a clean stop).
exec /usr/sbin/asterisk -C "$dir/etc/asterisk.conf" -f -n -U asterisk -G asterisk "$@"
