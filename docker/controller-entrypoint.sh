#!/bin/sh
# The controller image's entrypoint: two settings that hold secrets and have no `secret_file`
# key of their own (the admin token, the PostgreSQL URL with its password) are read from the
# files compose mounts under /run/secrets, so they never sit in the compose file or in
# `docker inspect`. ACD_AMI_SECRET_FILE / ACD_AGI_SECRET_FILE are settings already.
#   ACD_API_TOKEN_FILE   → ACD_API_TOKEN
#   ACD_STORAGE_URL_FILE → ACD_STORAGE_URL
set -eu
for name in ACD_API_TOKEN ACD_STORAGE_URL; do
    eval "file=\${${name}_FILE:-}"
    if [ -n "$file" ]; then
        value=$(cat "$file")
        export "$name=$value"
        unset "${name}_FILE"
    fi
done
exec "$@"
