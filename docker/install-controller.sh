#!/bin/sh
# The controller image's install step (docker/controller.Dockerfile), and what tests/docker run
# into a throw-away prefix: the project from a source tree into a virtual environment, plus
# what `acd serve` and the Asterisk config renderer read at run time.
#   install-controller.sh SOURCE_DIR PREFIX
# SOURCE_DIR holds pyproject.toml, README.md, acd/, api/, agi/, asterisk-config/ and docker/;
# PREFIX becomes the venv (/opt/acd in the image). Uses the `python3` on PATH (>= 3.11).
set -eu
src=${1:?usage: install-controller.sh SOURCE_DIR PREFIX}
prefix=${2:?usage: install-controller.sh SOURCE_DIR PREFIX}
python3 -m venv "$prefix"
# Not editable: the venv must work without the source tree (the image drops it).
"$prefix/bin/pip" install --quiet --disable-pip-version-check "$src"
# asterisk-config/ is not package data (acd.asterisk.templates finds it beside the checkout, or
# at ACD_ASTERISK_CONFIG): the renderer's templates and the example config go under share/.
share="$prefix/share/acd"
mkdir -p "$share"
rm -rf "$share/asterisk-config"
cp -R "$src/asterisk-config" "$share/asterisk-config"
cp "$src/docker/render_asterisk_config.py" "$share/render_asterisk_config.py"
cp "$src/docker/controller-entrypoint.sh" "$share/controller-entrypoint.sh"
chmod 0755 "$share/controller-entrypoint.sh"
# Fail the build here, not at the first start: the console script runs and parses its verbs.
"$prefix/bin/acd" --help >/dev/null
