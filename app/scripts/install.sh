#!/usr/bin/env bash
# AfterInstall: install the systemd unit (and log rotation) for the files now in /opt/groundwork-app.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/common.sh"
here=$(dirname "$0")

install -m 0644 "$here/groundwork-app.service" "/etc/systemd/system/$UNIT"
if [[ -d /etc/logrotate.d ]]; then
  install -m 0644 "$here/groundwork-app.logrotate" /etc/logrotate.d/groundwork-app
fi
systemctl daemon-reload
systemctl enable "$UNIT"
