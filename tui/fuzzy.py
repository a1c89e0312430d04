"""Search of the History table (pure): `field:value` filters plus fuzzy free text."""
from __future__ import annotations

from dataclasses import dataclass

from engine.store import RunRecord

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


def haystack(record: RunRecord) -> str:
    return " ".join([record.stage or "", record.name, record.status, record.id, record.notes, *record.tags])


@dataclass(frozen=True)
class Query:
    """A parsed search: parse once, test every record."""

    filters: dict[str, str]
    words: list[str]

    @classmethod
    def parse(cls, text: str) -> Query:
        return cls(*parse_query(text))

    def matches(self, record: RunRecord) -> bool:
        for field, value in self.filters.items():
            if field == "tag":
                if not any(value in t.lower() for t in record.tags):
                    return False
            elif value not in str(getattr(record, field) or "").lower():
                return False
        if not self.words:
            return True
        hay = haystack(record).lower()
        return all(subsequence(w, hay) for w in self.words)


def matches(record: RunRecord, text: str) -> bool:
    return Query.parse(text).matches(record)
