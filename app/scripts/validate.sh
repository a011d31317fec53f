#!/usr/bin/env bash
# ValidateService: poll http://127.0.0.1:<appPort>/health until it answers 200. A failure
# here fails the deployment on this instance (and CodeDeploy rolls back if configured to).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/common.sh"

timeout_s=${VALIDATE_TIMEOUT:-90}
interval_s=${VALIDATE_INTERVAL:-2}
url="http://127.0.0.1:$(app_port)/health"
deadline=$((SECONDS + timeout_s))

while true; do
  # curl prints 000 when nothing answers; `|| true` keeps set -e from ending the loop.
  status=$(curl --silent --output /dev/null --max-time 3 --write-out '%{http_code}' "$url" || true)
  if [[ "$status" == "200" ]]; then
    echo "validate: $url answered 200"
    exit 0
  fi
  if ((SECONDS >= deadline)); then
    echo "validate: $url did not answer 200 within ${timeout_s}s (last status: $status)" >&2
    if command -v journalctl >/dev/null 2>&1; then
      journalctl --unit "$UNIT" --lines 30 --no-pager >&2 || true
    fi
    exit 1
  fi
  sleep "$interval_s"
done
