#!/bin/sh
# Generates the secrets docker/compose.yaml mounts (docker/secrets/, kept when present):
# the controller's AMI secret and FastAGI key (rendered into Asterisk's config as well), the
# admin API token, the PostgreSQL password and the storage URL holding it, Grafana's admin
# password. The directory is 0700; the files are 0644 because compose bind-mounts file secrets
# with their host mode and the controller runs as uid 10001, not as their owner.
#   sh docker/make-secrets.sh [DIR]
set -eu
dir=${1:-$(dirname "$0")/secrets}
mkdir -p "$dir"
chmod 0700 "$dir"
random() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
write_once() {
    if [ ! -s "$dir/$1" ]; then
        (umask 022 && printf '%s\n' "$2" >"$dir/$1")
        echo "make-secrets: wrote $dir/$1"
    fi
}
write_once ami_secret "$(random)"
write_once agi_secret "$(random)"
write_once api_token "$(random)"
write_once postgres_password "$(random)"
write_once storage_url "postgresql+asyncpg://acd:$(cat "$dir/postgres_password")@postgres:5432/acd"
write_once grafana_admin_password "$(random)"
