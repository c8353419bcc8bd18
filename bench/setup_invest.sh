#!/usr/bin/env bash
# Install InVEST (PyPI natcap.invest) into its own environment, bench/.invest-venv, for the
# side-by-side benchmark (bench/run.py). Idempotent: a second run only checks and exits.
#
# On Debian InVEST builds from source against the system GDAL, so this script
#   1. installs Debian's gdal-bin and libgdal-dev when gdal-config is missing (apt-get);
#   2. creates bench/.invest-venv with the machine's python3;
#   3. installs the build tools (numpy, cython<3.1, setuptools-scm, wheel, babel) and GDAL's python
#      bindings pinned to the Debian libgdal version (GDAL==$(gdal-config --version));
#   4. installs pygeoprocessing, taskgraph and natcap.invest with --no-build-isolation, so their
#      C/C++ extensions compile against the numpy and GDAL above rather than fresh copies
#      (natcap.invest declares numpy>=2 for its isolated build, but its extensions build and
#      run against numpy 1.26, which GDAL < 3.9 bindings need).
# Environment: PYTHON (default python3), INVEST_VERSION (default: newest that builds here).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.invest-venv"
python="${PYTHON:-python3}"
invest_spec="natcap.invest${INVEST_VERSION:+==$INVEST_VERSION}"

log() { printf '[bench-setup] %s\n' "$*"; }

if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c 'import natcap.invest, pygeoprocessing, osgeo.gdal' 2>/dev/null; then
    log "InVEST already installed: $("$venv/bin/python" -c 'import natcap.invest; print(natcap.invest.__version__)')"
    exit 0
fi

if ! command -v gdal-config >/dev/null 2>&1; then
    log "installing Debian gdal-bin libgdal-dev"
    sudo_cmd=""
    [[ "$(id -u)" != 0 ]] && sudo_cmd="sudo"
    if ! apt-cache show libgdal-dev >/dev/null 2>&1; then
        $sudo_cmd apt-get update
    fi
    if ! DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y gdal-bin libgdal-dev; then
        $sudo_cmd apt-get update
        DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y gdal-bin libgdal-dev
    fi
fi
gdal_version="$(gdal-config --version)"
log "system GDAL $gdal_version"

if [[ ! -x "$venv/bin/python" ]]; then
    log "creating $venv with $($python --version 2>&1)"
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --disable-pip-version-check)
# natcap.invest's build runs the venv's `pybabel` (message catalogues) by name
export PATH="$venv/bin:$PATH"

"${pip[@]}" --upgrade pip
# GDAL's bindings before 3.9 do not build against numpy 2, so numpy stays below 2 while the
# system GDAL is older than that.
numpy_spec="numpy"
if "$venv/bin/python" - "$gdal_version" <<'EOF'; then numpy_spec="numpy<2"; fi
import sys
major, minor = (int(x) for x in sys.argv[1].split(".")[:2])
sys.exit(0 if (major, minor) < (3, 9) else 1)
EOF
log "build tools ($numpy_spec, cython<3.1, setuptools-scm, wheel, babel)"
"${pip[@]}" "$numpy_spec" "cython<3.1" "setuptools>=77" setuptools-scm wheel babel
constraint="$venv/numpy-constraint.txt"
echo "$numpy_spec" >"$constraint"

log "GDAL==$gdal_version python bindings"
CPLUS_INCLUDE_PATH=/usr/include/gdal C_INCLUDE_PATH=/usr/include/gdal \
    "${pip[@]}" --no-build-isolation --no-binary GDAL -c "$constraint" "GDAL==$gdal_version"

# natcap.invest's build imports pygeoprocessing (it compiles against its headers), so
# pygeoprocessing goes in first.
log "pygeoprocessing, taskgraph (compiles)"
"${pip[@]}" --no-build-isolation -c "$constraint" --no-binary pygeoprocessing \
    pygeoprocessing taskgraph
log "$invest_spec (compiles; 10-20 minutes on 2 cores)"
"${pip[@]}" --no-build-isolation -c "$constraint" --no-binary natcap.invest "$invest_spec"

"$venv/bin/python" -c 'import natcap.invest, pygeoprocessing
from osgeo import gdal
print("[bench-setup] natcap.invest", natcap.invest.__version__, "pygeoprocessing",
      pygeoprocessing.__version__, "GDAL", gdal.__version__)'
