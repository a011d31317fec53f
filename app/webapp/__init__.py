"""groundwork's reference app: a small web app that follows the platform's contracts.

Read in this order: config.py (what the instance gives the app), logs.py (the log files),
events.py (product analytics), server.py (HTTP plumbing), routes.py (the endpoints).
"""

__version__ = "1.0.0"
