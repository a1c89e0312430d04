"""Search of the History table (pure): `field:value` filters plus fuzzy free text."""
from __future__ import annotations

from typing import Any

FIELDS = ("stage", "status", "tag", "name")


def subsequence(needle: str, hay: str) -> bool:
    """Fuzzy match: the needle's characters appear in order in the haystack (case-insensitive)."""
    it = iter(hay.lower())
    return all(ch in it for ch in needle.lower())


def parse_query(text: str) -> tuple[dict[str, str], list[str]]:
    filters: dict[str, str] = {}
    words: list[str] = []
    for token in text.split():
        field, sep, value = token.partition(":")
        if sep and field.lower() in FIELDS and value:
            filters[field.lower()] = value.lower()
        else:
            words.append(token)
    return filters, words


def haystack(record: dict[str, Any]) -> str:
    tags = " ".join(str(t) for t in record.get("tags") or [])
    return " ".join(str(record.get(k) or "") for k in ("stage", "name", "status", "id", "notes")) + " " + tags


def matches(record: dict[str, Any], text: str) -> bool:
    filters, words = parse_query(text)
    tags = [str(t).lower() for t in record.get("tags") or []]
    for field, value in filters.items():
        if field == "tag":
            if not any(value in t for t in tags):
                return False
        elif value not in str(record.get(field) or "").lower():
            return False
    hay = haystack(record)
    return all(subsequence(w, hay) for w in words)
