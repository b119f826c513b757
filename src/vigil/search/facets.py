"""Filter values as tokens, so SQLite FTS5 can intersect a filter with the words.

Without them, a word found in 300,000 of a million posts and a filter on two days
means reading 300,000 rows to keep a few thousand. With them, FTS5 intersects the
word's posting list with those of ``pd20161206 OR pd20161207`` itself. Each text row
of an item carries (in the FTS5 column ``facets``):

* ``pd``/``pm``/``py`` + day/month/year of the claimed post time, ``cd``/``cm``/``cy``
  of the capture time (``pd20161213``, ``pm201612``, ``py2016``);
* ``pl`` + platform, ``k`` + item kind, ``lg`` + language, ``mt`` + top-level media type.

These only narrow the candidates; the exact SQL filters still apply after them (a
time within a day, a media subtype), so the answer is the same as without them.
"""

from __future__ import annotations

import datetime as dt

from vigil.errors import InputError
from vigil.search.arabic import tokens

__all__ = ["date_range", "facet", "facet_tokens", "range_tokens"]

MAX_RANGE_TOKENS = 400  # beyond this, dates are filtered by SQL alone


def facet(prefix: str, value: str | None) -> str | None:
    """The token for one filter value (``pl`` + ``telegram`` → ``pltelegram``)."""
    joined = "".join(tokens(value or ""))
    return prefix + joined if joined else None


def _date_tokens(prefix: str, value: str | None) -> list[str]:
    if not value:
        return []
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        return []
    return [f"{prefix}d{day:%Y%m%d}", f"{prefix}m{day:%Y%m}", f"{prefix}y{day:%Y}"]


def facet_tokens(
    *, posted: str | None, captured: str, platform: str | None, kind: str,
    language: str | None, media_type: str,
) -> str:  # fmt: skip
    """The facet column of a text row."""
    values = [facet("pl", platform), facet("k", kind), facet("lg", language)]
    values.append(facet("mt", media_type.split("/")[0]))
    found = _date_tokens("p", posted) + _date_tokens("c", captured)
    found += [v for v in values if v]
    return " ".join(found)


def date_range(since: str | None, until: str | None) -> tuple[dt.date | None, dt.date | None]:
    """The days --since and --until cover (a year or month covers all its days)."""

    def parse(value: str, end: bool) -> dt.date:
        try:
            if len(value) == 4:
                return dt.date(int(value), 12, 31) if end else dt.date(int(value), 1, 1)
            if len(value) == 7:
                first = dt.date(int(value[:4]), int(value[5:7]), 1)
                if not end:
                    return first
                following = (first + dt.timedelta(days=32)).replace(day=1)
                return following - dt.timedelta(days=1)
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            option = "--until" if end else "--since"
            raise InputError(
                f"{option} {value!r}: give a date or time (2016, 2016-12, 2016-12-13, "
                "2016-12-13T10:00:00Z)"
            ) from None

    return (parse(since, False) if since else None, parse(until, True) if until else None)


def range_tokens(prefix: str, first: dt.date, last: dt.date) -> list[str] | None:
    """Tokens covering every day from *first* to *last* (whole years and months as one
    token each), or None if that takes more than `MAX_RANGE_TOKENS`."""
    found: list[str] = []
    day = first
    while day <= last:
        if len(found) >= MAX_RANGE_TOKENS:
            return None
        year_end = dt.date(day.year, 12, 31)
        next_month = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        if day.month == 1 and day.day == 1 and year_end <= last:
            found.append(f"{prefix}y{day:%Y}")
            if year_end == dt.date.max:
                break
            day = year_end + dt.timedelta(days=1)
        elif day.day == 1 and next_month - dt.timedelta(days=1) <= last:
            found.append(f"{prefix}m{day:%Y%m}")
            day = next_month
        else:
            found.append(f"{prefix}d{day:%Y%m%d}")
            day += dt.timedelta(days=1)
    return found
