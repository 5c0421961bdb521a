#!/usr/bin/env bash
# Install, download the official files (first run, with internet), build the data and start the
# dashboard on http://localhost:8501. Offline: FSM_RAW_DATA=/path/to/raw scripts/run-dashboard.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m streamlit run serve.py "$@"  # serve.py: dashboard.py, loaded before the first visitor
