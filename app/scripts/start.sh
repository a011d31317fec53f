#!/usr/bin/env bash
# ApplicationStart: (re)start the app under systemd; ValidateService then waits for /health.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/common.sh"

systemctl restart "$UNIT"
