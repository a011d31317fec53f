#!/usr/bin/env bash
# BeforeInstall: what the app needs on the instance, installed once and kept idempotent.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/common.sh"

if [[ ! -r "$APP_CONFIG" ]]; then
  echo "prepare: $APP_CONFIG is missing; the instance bootstrap (user data) writes it" >&2
  exit 1
fi

# Python 3.11 from the AL2023 repositories (the bootstrap may have installed it already).
if [[ ! -x "$PYTHON" ]]; then
  dnf install -y python3.11
fi

# The app runs as an unprivileged system user that can write only its log directory.
if ! id -u "$APP_USER" >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /sbin/nologin "$APP_USER"
fi
install -d -m 0755 -o "$APP_USER" -g "$APP_USER" "$LOG_DIR"
