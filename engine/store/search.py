"""Search of saved runs (pure), one syntax for History's `/` and `nnlab runs list --search`: `field:value`
filters, `key=value` config values (exact: lr=0.3 matches 0.3 only, not 0.03 nor 0.35), plus fuzzy free text."""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.command_line import format_value
from engine.store.records import RunRecord

FIELDS = ("stage", "status", "tag", "name")


def subsequence(needle: str, hay: str) -> bool:
    """Fuzzy match: the needle's characters appear in order in the haystack (case-insensitive)."""
    it = iter(hay.lower())
    return all(ch in it for ch in needle.lower())


ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.+)$")


def parse_query(text: str) -> tuple[dict[str, str], list[str]]:
    filters, words, _ = parse_search(text)
    return filters, words


def parse_search(text: str) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """-> (field filters, fuzzy words, key=value config filters)."""
    filters: dict[str, str] = {}
    words: list[str] = []
    values: dict[str, str] = {}
    for token in text.split():
        field_name, sep, value = token.partition(":")
        assignment = ASSIGNMENT.match(token)
        if sep and field_name.lower() in FIELDS and value:
            filters[field_name.lower()] = value.lower()
        elif assignment:
            values[assignment.group(1).lower()] = assignment.group(2)
        else:
            words.append(token)
    return filters, words, values


def same_value(saved: Any, text: str) -> bool:
    """A saved config value equals the searched text: numbers by value (lr=0.30 finds 0.3), the rest as the
    command line writes them (case-insensitive: augment=True finds true)."""
    if isinstance(saved, (int, float)) and not isinstance(saved, bool):
        try:
            wanted = float(text)
        except ValueError:
            return False
        return math.isclose(float(saved), wanted, rel_tol=1e-12, abs_tol=0.0) or float(saved) == wanted
    return format_value(saved).lower() == text.lower()


def haystack(record: RunRecord) -> str:
    return " ".join([record.stage or "", record.name, record.status, record.id, record.notes, *record.tags])


@dataclass(frozen=True)
class Query:
    """A parsed search: parse once, test every record."""

    filters: dict[str, str]
    words: list[str]
    values: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Query:
        return cls(*parse_search(text))

    def matches(self, record: RunRecord,
                config_of: Callable[[RunRecord], dict[str, Any] | None] | None = None) -> bool:
        """`config_of` gives a run's saved config (for key=value); without it such a search matches nothing."""
        for name, value in self.filters.items():
            if name == "tag":
                if not any(value in t.lower() for t in record.tags):
                    return False
            elif value not in str(getattr(record, name) or "").lower():
                return False
        if self.values:
            config = config_of(record) if config_of is not None else None
            if not config:
                return False
            lowered = {str(k).lower(): v for k, v in config.items()}
            if not all(k in lowered and same_value(lowered[k], v) for k, v in self.values.items()):
                return False
        if not self.words:
            return True
        hay = haystack(record).lower()
        return all(subsequence(w, hay) for w in self.words)


def matches(record: RunRecord, text: str,
            config_of: Callable[[RunRecord], dict[str, Any] | None] | None = None) -> bool:
    return Query.parse(text).matches(record, config_of)
