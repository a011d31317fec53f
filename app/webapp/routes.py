"""The endpoints. Add yours to ROUTES; emit a product event where something happens.

- GET  /health       the ALB health check and CodeDeploy's ValidateService hook
- GET  /             an HTML page (with the CloudWatch RUM snippet when the stack has RUM)
- POST /api/reports  example feature: create a report (event `report_created`)
- GET  /api/plan     example feature: what the caller's plan includes (event `plan_viewed`)
"""

from __future__ import annotations

import html
import json
import logging
import uuid

from webapp import __version__
from webapp.events import Event
from webapp.rum import rum_snippet
from webapp.server import App, Request, Response, Route, json_response

log = logging.getLogger("webapp.routes")

PLAN_FEATURES = {"free": ["reports"], "pro": ["reports", "exports", "sso"]}


def health(app: App, request: Request) -> Response:
    # Cheap and dependency-free on purpose: a slow database must not take every instance
    # out of the target group at once. Check dependencies in their own endpoints/alarms.
    return json_response(200, {"status": "ok", "version": __version__})


def index(app: App, request: Request) -> Response:
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>groundwork app</title>
{rum_snippet(app.config.rum)}
</head>
<body>
<h1>groundwork reference app</h1>
<p>Environment: {html.escape(app.config.environment)} &middot; version {__version__}</p>
</body>
</html>
"""
    return Response(200, page.encode("utf-8"), content_type="text/html; charset=utf-8")


def create_report(app: App, request: Request) -> Response:
    if request.user is None:
        return json_response(401, {"error": "sign in first"})
    try:
        doc = json.loads(request.body or b"{}")
        title = doc["title"]
        if not isinstance(title, str) or not 1 <= len(title) <= 200:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return json_response(400, {"error": "body must be JSON with a title of 1-200 chars"})
    report_id = uuid.uuid4().hex
    # The title may contain anything a user typed, so it stays out of the event.
    app.emit(
        Event(
            event_name="report_created",
            feature="reports",
            user_id=request.user.user_id,
            account_id=request.user.account_id,
            plan=request.user.plan,
            properties={"title_length": str(len(title))},
        )
    )
    log.info("report created")
    return json_response(201, {"id": report_id, "title": title})


def plan(app: App, request: Request) -> Response:
    if request.user is None:
        return json_response(401, {"error": "sign in first"})
    user = request.user
    features = PLAN_FEATURES.get(user.plan, [])
    app.emit(Event("plan_viewed", "billing", user.user_id, user.account_id, user.plan))
    return json_response(200, {"plan": user.plan, "features": features})


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/health"): health,
    ("GET", "/"): index,
    ("POST", "/api/reports"): create_report,
    ("GET", "/api/plan"): plan,
}
