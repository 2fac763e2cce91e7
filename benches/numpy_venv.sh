#!/usr/bin/env bash
# A venv of the system python (the one the python profile binds) with numpy from pip, for the
# `spawn_python_numpy` figures of benches/spawn.rs:
#   bash benches/numpy_venv.sh /opt/runcell-numpy
#   RUNCELL_BENCH_NUMPY_VENV=/opt/runcell-numpy cargo bench --bench spawn -- spawn_python
# Needs PyPI (pip); prints the venv path.
set -euo pipefail
venv=${1:-/opt/runcell-numpy}
/usr/bin/python3 -m venv --without-pip "$venv"
pip --python "$venv/bin/python" install --quiet numpy
"$venv/bin/python" -c 'import numpy; print(numpy.__version__)' >&2
echo "$venv"
