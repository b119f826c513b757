"""Victim records following the Every Casualty standard: fields, and the checks a row of
an imported list must pass.

A record keeps what its source reported, normalised only in form (dates to ISO 8601,
sex to ``m``/``f``, ages to whole years and an age group); the raw row is kept beside it
verbatim. A row that cannot be read is **rejected with its reasons**, never dropped
without a word and never "repaired" by guessing.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

__all__ = ["FIELDS", "NAME_FIELDS", "age_group", "check_row"]

NAME_FIELDS = ("full_name", "given_name", "father_name", "family_name", "alias")
FIELDS = (
    *NAME_FIELDS,
    "name_latin", "sex", "age", "age_group", "date_of_birth", "date_of_death",
    "place_of_death", "governorate", "district", "locality", "latitude", "longitude",
    "status", "cause", "perpetrator", "source_record_id", "id_number", "report_date",
)  # fmt: skip
ADULT_AGE = 18
MAX_AGE = 120
_SEX = {"m": "m", "male": "m", "man": "m", "ذكر": "m", "f": "f", "female": "f",
        "woman": "f", "أنثى": "f", "انثى": "f", "انثي": "f", "": None, "unknown": None,
        "u": None, "غير معروف": None}  # fmt: skip
_AGE_GROUPS = {"child": "child", "adult": "adult", "unknown": "unknown", "طفل": "child",
               "بالغ": "adult"}  # fmt: skip
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


def age_group(age: int | None) -> str:
    if age is None:
        return "unknown"
    return "child" if age < ADULT_AGE else "adult"


def _date(value: str, today: dt.date) -> tuple[str | None, str | None]:
    """(ISO date, or a year or year-month as given; error)."""
    text = value.strip()
    if not text:
        return None, None
    try:
        if re.fullmatch(r"\d{4}", text):
            year = int(text)
            return (text, None) if 1850 <= year <= today.year else (None, f"year {text}")
        if re.fullmatch(r"\d{4}-\d{2}", text):
            dt.date(int(text[:4]), int(text[5:]), 1)
            return text, None
        match = _DMY.match(text)
        day = (dt.date(int(match.group(3)), int(match.group(2)), int(match.group(1))) if match
               else dt.date.fromisoformat(text[:10]))  # fmt: skip
    except ValueError:
        return None, f"not a date: {text!r} (use YYYY-MM-DD, DD/MM/YYYY, YYYY-MM or YYYY)"
    if day > today:
        return None, f"date in the future: {text}"
    if day.year < 1850:
        return None, f"date too early: {text}"
    return day.isoformat(), None


def check_row(
    values: dict[str, str], today: dt.date | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The record a mapped row gives (field -> value) and the reasons it cannot be accepted."""
    today = today or dt.date.today()
    record: dict[str, Any] = {}
    problems: list[str] = []
    for field in (*NAME_FIELDS, "name_latin", "place_of_death", "governorate", "district",
                  "locality", "status", "cause", "perpetrator", "source_record_id",
                  "id_number"):  # fmt: skip
        text = " ".join(values.get(field, "").split())
        if text:
            record[field] = text
    sex = values.get("sex", "").strip().lower()
    if sex not in _SEX:
        problems.append(f"sex {values['sex']!r} is not m/f (or male/female, ذكر/أنثى, unknown)")
    elif _SEX[sex]:
        record["sex"] = _SEX[sex]
    age_text = values.get("age", "").strip()
    age: int | None = None
    if age_text:
        try:
            number = float(age_text)
        except ValueError:
            problems.append(f"age {age_text!r} is not a number")
        else:
            if number < 0 or number > MAX_AGE or (number != int(number) and number > 1):
                problems.append(f"age {age_text} is impossible (0 to {MAX_AGE} years)")
            else:
                age = int(number)
                record["age"] = age
    group = values.get("age_group", "").strip().lower()
    if group and group not in _AGE_GROUPS:
        problems.append(f"age group {values['age_group']!r} is not child/adult/unknown")
    record["age_group"] = _AGE_GROUPS.get(group) if group in _AGE_GROUPS else age_group(age)
    if age is not None and group in _AGE_GROUPS and record["age_group"] != age_group(age):
        problems.append(f"age {age} contradicts age group {group!r}")
    for field in ("date_of_birth", "date_of_death", "report_date"):
        found, problem = _date(values.get(field, ""), today)
        if problem:
            problems.append(f"{field.replace('_', ' ')}: {problem}")
        elif found:
            record[field] = found
    if record.get("date_of_birth", "") > record.get("date_of_death", "\uffff"):
        problems.append("date of death is before date of birth")
    for field, bound in (("latitude", 90.0), ("longitude", 180.0)):
        text = values.get(field, "").strip()
        if text:
            try:
                number = float(text)
            except ValueError:
                number = bound * 2
            if abs(number) > bound:
                problems.append(f"{field} {text!r} is not a coordinate")
            else:
                record[field] = number
    if not any(record.get(f) for f in (*NAME_FIELDS, "name_latin", "source_record_id")):
        problems.append("no name and no source record id")
    return record, problems
