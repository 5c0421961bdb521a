#!/usr/bin/env bash
# Install, build the data and start the dashboard on http://localhost:8501
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m streamlit run dashboard.py "$@"
