"""The run store: one folder per run under the runs dir, written crash-safely, read back as records.

files (atomic writes, bounded reads), liveness (is a run's process alive), records (typed records),
writer (creating and appending to a run), reader (records, metrics, config, checkpoints), index (the
listing cache), edits (user edits, trash), compare (comparing runs).
"""
from engine.store.compare import compare, curves_agree, differing_keys, table_keys
from engine.store.edits import TRASH, move_to_trash, restore_from_trash, update_record
from engine.store.files import (
    MAX_JSON_BYTES,
    atomic_write_bytes,
    atomic_write_json,
    clean_json,
    json_line,
    read_json,
)
from engine.store.index import INDEX_NAME
from engine.store.liveness import effective_status, pid_alive, process_age_s
from engine.store.reader import (
    LoadedRun,
    list_runs,
    list_runs_json,
    load_checkpoint,
    load_run,
    read_artifacts,
    read_config,
    read_initial,
    read_metrics,
    read_record,
    resolve_run,
)
from engine.store.records import (
    NUMBER_FIELDS,
    RUN_ID_RE,
    STATUSES,
    SUMMARY_METRICS,
    TEXT_FIELDS,
    USER_FIELDS,
    Best,
    RunRecord,
    Summary,
)
from engine.store.writer import (
    RESERVE_BYTES,
    RESERVE_NAME,
    RunWriter,
    check_readable_runs_dir,
    check_runs_dir,
    new_run_id,
    utc_now,
    versions,
)

__all__ = [
    "INDEX_NAME", "MAX_JSON_BYTES", "NUMBER_FIELDS", "RESERVE_BYTES", "RESERVE_NAME", "RUN_ID_RE", "STATUSES",
    "SUMMARY_METRICS", "TEXT_FIELDS", "TRASH", "USER_FIELDS",
    "Best", "LoadedRun", "RunRecord", "RunWriter", "Summary",
    "atomic_write_bytes", "atomic_write_json", "check_readable_runs_dir", "check_runs_dir", "clean_json", "compare",
    "curves_agree",
    "differing_keys", "effective_status", "json_line", "list_runs", "list_runs_json", "load_checkpoint", "load_run",
    "move_to_trash", "new_run_id", "pid_alive", "process_age_s", "read_artifacts", "read_config", "read_initial",
    "read_json", "read_metrics",
    "read_record", "resolve_run", "restore_from_trash", "table_keys", "update_record", "utc_now",
    "versions",
]
