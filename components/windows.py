"""RDS backup and maintenance windows: parsing and overlap, as pure functions.

RDS takes the daily backup window as `hh24:mi-hh24:mi` and the weekly maintenance window as
`ddd:hh24:mi-ddd:hh24:mi` (UTC, each at least 30 minutes), and refuses a pair that overlaps.
Settings validation and the tests both use these helpers, so a bad pair is reported before
anything reaches AWS. Windows are half-open intervals: one that ends at 04:00 does not
overlap one that starts at 04:00. Either window may wrap past midnight (or past Sunday).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
MIN_WINDOW_MINUTES = 30

_TIME = r"(\d{2}):(\d{2})"
_DAILY = re.compile(rf"^{_TIME}-{_TIME}$")
_WEEKLY = re.compile(rf"^([a-z]{{3}}):{_TIME}-([a-z]{{3}}):{_TIME}$")

DAILY_PATTERN = r"^\d{2}:\d{2}-\d{2}:\d{2}$"
_DAY = "(mon|tue|wed|thu|fri|sat|sun)"
WEEKLY_PATTERN = rf"^{_DAY}:\d{{2}}:\d{{2}}-{_DAY}:\d{{2}}:\d{{2}}$"


class WindowError(ValueError):
    """A window that RDS would refuse; the message says why."""


@dataclass(frozen=True)
class Window:
    """A span of minutes on a cycle (a day or a week): `start` plus `length` minutes."""

    start: int
    length: int
    cycle: int

    def minutes(self, cycle: int) -> set[int]:
        """Every minute this window covers on a cycle of `cycle` minutes (repeating if shorter)."""
        covered: set[int] = set()
        for offset in range(0, cycle, self.cycle):
            covered.update((offset + self.start + i) % cycle for i in range(self.length))
        return covered


def _minute_of_day(hours: str, minutes: str, text: str) -> int:
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        raise WindowError(f"{text!r} has a time that does not exist ({hours}:{minutes})")
    return h * 60 + m


def _span(start: int, end: int, cycle: int, text: str) -> Window:
    length = (end - start) % cycle
    if length < MIN_WINDOW_MINUTES:
        raise WindowError(
            f"{text!r} lasts {length} minutes; RDS needs at least {MIN_WINDOW_MINUTES}"
        )
    return Window(start=start, length=length, cycle=cycle)


def parse_daily(text: str) -> Window:
    """A backup window, `hh24:mi-hh24:mi` (UTC)."""
    match = _DAILY.match(text)
    if not match:
        raise WindowError(f"{text!r} is not a daily window like 02:00-02:30 (hh24:mi-hh24:mi)")
    start = _minute_of_day(match.group(1), match.group(2), text)
    end = _minute_of_day(match.group(3), match.group(4), text)
    return _span(start, end, MINUTES_PER_DAY, text)


def parse_weekly(text: str) -> Window:
    """A maintenance window, `ddd:hh24:mi-ddd:hh24:mi` (UTC, days in lower case)."""
    match = _WEEKLY.match(text)
    if not match or match.group(1) not in DAYS or match.group(4) not in DAYS:
        raise WindowError(
            f"{text!r} is not a weekly window like sun:04:30-sun:05:00 "
            f"(ddd:hh24:mi-ddd:hh24:mi, ddd one of {', '.join(DAYS)})"
        )
    start = DAYS.index(match.group(1)) * MINUTES_PER_DAY + _minute_of_day(
        match.group(2), match.group(3), text
    )
    end = DAYS.index(match.group(4)) * MINUTES_PER_DAY + _minute_of_day(
        match.group(5), match.group(6), text
    )
    return _span(start, end, MINUTES_PER_WEEK, text)


def overlap_minutes(backup_window: str, maintenance_window: str) -> int:
    """How many minutes of the week the two windows share (0: RDS accepts the pair)."""
    daily = parse_daily(backup_window).minutes(MINUTES_PER_WEEK)
    weekly = parse_weekly(maintenance_window).minutes(MINUTES_PER_WEEK)
    return len(daily & weekly)


def problems(backup_window: str, maintenance_window: str) -> list[str]:
    """Why RDS would refuse this pair of windows; empty when it accepts them."""
    found: list[str] = []
    for parse, text in ((parse_daily, backup_window), (parse_weekly, maintenance_window)):
        try:
            parse(text)
        except WindowError as exc:
            found.append(str(exc))
    if found:
        return found
    shared = overlap_minutes(backup_window, maintenance_window)
    if shared:
        found.append(
            f"backup window {backup_window!r} overlaps maintenance window "
            f"{maintenance_window!r} by {shared} minutes"
        )
    return found
