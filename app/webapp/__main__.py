"""`python -m webapp`: load the config, set up logging and analytics, serve until SIGTERM."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from webapp.config import ConfigError, load_config
from webapp.logs import configure_logging
from webapp.routes import ROUTES
from webapp.server import App, create_server

log = logging.getLogger("webapp")


def main() -> int:
    try:
        config = load_config()
        configure_logging()
    except (ConfigError, ValueError, OSError) as exc:
        print(f"webapp: {exc}", file=sys.stderr)
        return 1

    app = App(config)
    # 0.0.0.0: the ALB reaches the instance on its private address.
    server = create_server(app, "0.0.0.0", config.app_port, ROUTES)

    def on_sigterm(signum: int, frame: object) -> None:
        # shutdown() waits for serve_forever() to return, so call it from another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_sigterm)
    app.start()
    log.info(
        "listening on port %d (environment %s, analytics %s, rum %s)",
        server.server_address[1],
        config.environment,
        "on" if config.analytics else "off",
        "on" if config.rum else "off",
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.stop()  # sends the events still queued
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
