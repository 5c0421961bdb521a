#!/usr/bin/env bash
# Install what the app needs into .venv (and Debian packages where apt-get is available),
# download the official raw files if any is missing, then build the derived data from them.
#   scripts/setup.sh           the dashboard's needs
#   scripts/setup.sh --tests   also Chromium (browser tests) and PostgreSQL (storage tests)
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[ "${1:-}" = "--tests" ] && want_tests=1

# Debian packages: Leaflet and jQuery served by the app itself (maps work offline),
# Chromium and PostgreSQL for the tests. Skipped where there is no apt-get.
pkgs=(libjs-leaflet libjs-leaflet.markercluster libjs-jquery)
[ $want_tests = 1 ] && pkgs+=(chromium postgresql nginx osmium-tool)  # osmium-tool: cutting OSM extracts (walking tests)
# Node and npm (axe-core for the accessibility tests): Debian's packages only where no node/npm is installed
# (a Node.js that ships its own npm conflicts with Debian's npm package).
[ $want_tests = 1 ] && ! command -v npm >/dev/null && pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "note: no apt-get here; maps will load Leaflet from its CDN (${missing[*]} not installed)" >&2
  fi
fi

# Python packages, pinned; reinstalled only when requirements.txt changes.
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
  echo "$want" > "$stamp"
fi

# Leaflet and jQuery from Debian's packages into static/vendor/, served by the app (maps work offline).
.venv/bin/python -c "from directory.maps import install_local_assets; install_local_assets()"
# our modules' bytecode, written once: where PYTHONDONTWRITEBYTECODE is set (as on some CI machines) every
# app start would otherwise compile them again (60-70 ms of a cold start)
.venv/bin/python -m compileall -q directory ui.py ui_areas.py ui_history.py serve.py >/dev/null

# Official raw files: when a required one is missing from the raw folder (FSM_RAW_DATA, default
# data/raw/), download every source from its publisher (resumable; a complete folder is left alone,
# so offline machines and CI never touch the network).
.venv/bin/python -m directory data download --if-missing

# axe-core for the browser tests' accessibility checks: the version pinned in tests/package-lock.json.
if [ $want_tests = 1 ]; then
  want_axe=$(node -p "require('./tests/package.json').devDependencies['axe-core']")
  have_axe=$(node -p "require('./tests/node_modules/axe-core/package.json').version" 2>/dev/null || true)
  if [ "$want_axe" != "$have_axe" ] || [ ! -f tests/node_modules/axe-core/axe.min.js ]; then
    (cd tests && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

# Derived data: rebuilt only when a raw file changed.
.venv/bin/python -m directory data build
# the dashboard's directory, seeded now rather than on the app's first start (the tests use their own)
if [ $want_tests = 0 ]; then .venv/bin/python -m directory seed; fi
