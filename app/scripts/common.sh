# Shared by the CodeDeploy hook scripts (sourced, not run). The names here are the
# contract with the instance bootstrap: see docs/app.md.
# shellcheck shell=bash disable=SC2034

UNIT=groundwork-app.service
APP_USER=groundwork-app
LOG_DIR=/var/log/app
# AL2023 keeps /usr/bin/python3 at 3.9 for its whole life; the app runs on 3.11 from dnf.
PYTHON=/usr/bin/python3.11
APP_CONFIG=${GROUNDWORK_APP_CONFIG:-/etc/groundwork/app.json}

# The port the app listens on: appPort from the app config, 8080 when absent.
app_port() {
  if [[ ! -r "$APP_CONFIG" ]]; then
    echo "$APP_CONFIG is missing; the instance bootstrap (user data) writes it" >&2
    return 1
  fi
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("appPort", 8080))' \
    "$APP_CONFIG"
}
