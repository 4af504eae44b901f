#!/usr/bin/env bash
# Runs the board-agnostic HIL checks (tests/hil/board) on a real board, against the wiring and
# devices described in an env file (see tests/hil/board.env.example and docs/hil.md).
#   bash tests/hil/run-board.sh path/to/board.env [extra mocha args]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ $# -ge 1 ] && [ -f "$1" ] || { echo "usage: $0 board.env [mocha args]" >&2; exit 2; }
SBC_HIL_ENV=$(readlink -f "$1")
export SBC_HIL_ENV
shift
for tool in gpioset gpioget gpioinfo i2cget i2cdetect; do
  command -v "$tool" >/dev/null || { echo "run-board: $tool is missing (apt-get install gpiod i2c-tools)" >&2; exit 2; }
done
cd "$ROOT"
exec node --import tsx node_modules/mocha/bin/mocha.js --no-config --no-package --timeout 60000 --reporter spec \
  'tests/hil/board/**/*.hil.ts' "$@"
