"""`nnlab runs tag|untag|rename|note`: the edits History makes (t, r, n), from a script, with History's rules
(engine.store.edits): a name or tag that breaks them is one line and exit 2, and nothing is changed. Every run
named is resolved before any is edited; each edit is one locked, atomic rewrite of run.json."""
from __future__ import annotations

import argparse

from engine.config import ConfigError
from engine.exits import EXIT_OK
from engine.store import read_record, resolve_run, update_record
from engine.store.edits import clean_name, clean_tag


def _runs(args: argparse.Namespace, refs: list[str]) -> list:
    folders = [resolve_run(args.runs_dir, ref) for ref in refs]
    records = [read_record(folder) for folder in folders]
    for record in records:
        if record.is_damaged:
            raise ConfigError(f"invalid run {record.id!r}: it is damaged ({record.reason}); it cannot be edited")
    return records


def _retag(args: argparse.Namespace, verb: str, add: bool) -> int:
    """`runs tag|untag RUN... TAG`: the tag added to (or removed from) each run, each run.json rewritten only
    when its tags change."""
    if len(args.words) < 2:
        raise ConfigError(f"runs {verb} needs RUN... TAG (allowed: one or more runs, then the tag)")
    *refs, tag = args.words
    tag = clean_tag(tag)
    for record in _runs(args, refs):
        kept = [t for t in record.tags if t != tag]
        tags = list(record.tags) + ([] if tag in record.tags else [tag]) if add else kept
        if tags != list(record.tags):
            update_record(record.run_dir, tags=tags)
        print(f"{record.id}: tags {', '.join(tags) if tags else '(none)'}")
    return EXIT_OK


def cmd_tag(args: argparse.Namespace) -> int:
    return _retag(args, "tag", add=True)


def cmd_untag(args: argparse.Namespace) -> int:
    return _retag(args, "untag", add=False)


def cmd_rename(args: argparse.Namespace) -> int:
    name = clean_name(args.name)
    (record,) = _runs(args, [args.run])
    update_record(record.run_dir, name=name)
    print(f"{record.id}: name {name}")
    return EXIT_OK


def cmd_note(args: argparse.Namespace) -> int:
    text = args.text.strip()
    if not all(line.isprintable() for line in text.splitlines()):
        raise ConfigError(f"invalid value for note: {args.text!r} (allowed: printable text)")
    (record,) = _runs(args, [args.run])
    notes = f"{record.notes}\n{text}".strip() if args.append else text
    update_record(record.run_dir, notes=notes)
    print(f"{record.id}: notes {notes if notes else '(none)'}")
    return EXIT_OK
