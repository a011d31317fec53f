#!/usr/bin/env bash
# ApplicationStop: stop the app before CodeDeploy replaces its files. CodeDeploy runs this
# hook from the previously deployed revision, and skips it on an instance's first deployment.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/common.sh"

if systemctl cat "$UNIT" >/dev/null 2>&1; then
  systemctl stop "$UNIT"
fi
