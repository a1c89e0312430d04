"""Where a study lives: a storage URL -> an Optuna storage.

- None (or ""): the embedded default, an Optuna journal file `<runs_dir>/.studies/studies.journal`
  (several processes, or machines sharing the folder, work on it together);
- `journal:PATH` or a path ending in `.journal`: a journal file elsewhere;
- `postgresql://...` (or any SQLAlchemy URL Optuna's RDBStorage takes): a database, with Optuna's heartbeat
  so that a trial of a worker killed with kill -9 or lost with its machine is failed and retried.

Storages are cached per process so that a view polling a study every second reads only what is new.
A password never leaves this module unredacted (`redact`).
"""
from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.config import ConfigError

if TYPE_CHECKING:
    import optuna

STUDIES_DIR = ".studies"
JOURNAL_NAME = "studies.journal"
RDB_SCHEMES = ("postgresql", "postgres", "mysql", "sqlite")
MAX_RETRY = 3  # a trial failed by heartbeat is run again at most this many times
LOCK_GRACE_S = 10  # a journal lock left by a process killed while writing is broken after this long

_cache: dict[tuple[str, str], Any] = {}
_cache_lock = threading.Lock()


def clear_cache() -> None:
    """Forget the storages opened so far (a forked worker opens its own connections)."""
    with _cache_lock:
        for storage in _cache.values():
            engine = getattr(storage, "engine", None)
            if engine is not None:
                engine.dispose(close=False)  # the parent's pooled connections stay the parent's
        _cache.clear()


HIDDEN = "***"
_USER_PASSWORD = re.compile(r"(://[^/:@]*:)[^@]*@")  # user:password@ (a password may hold a '/')
_QUERY_PASSWORD = re.compile(r"(?i)(password=)([^&;\s]*)")


def redact(url: str | None) -> str:
    """The URL with any password replaced by ***: `postgresql://u:secret@h/db` -> `postgresql://u:***@h/db`,
    `...?password=secret` -> `...?password=***`. The one place nnlab hides a storage's secret (the CLI's
    messages, the Studies screen)."""
    if not url:
        return ""
    return _QUERY_PASSWORD.sub(rf"\1{HIDDEN}", _USER_PASSWORD.sub(rf"\1{HIDDEN}@", str(url)))


def storage_password(url: str | None) -> str | None:
    """The secret in a storage URL: its password, in the user part or as a `password=` option."""
    if not url:
        return None
    found = _QUERY_PASSWORD.search(url)
    if found and found.group(2):
        return found.group(2)
    user = re.search(r"://[^/:@]*:([^@]*)@", url)
    return user.group(1) or None if user else None


def redact_text(text: str, storage: str | None) -> str:
    """Any text (an error message, a driver's output) with the storage's secret hidden wherever it appears:
    the URL itself, and the password as written in it and percent-decoded (as a driver may print it)."""
    secret = storage_password(storage)
    if secret and storage:
        from urllib.parse import unquote

        text = text.replace(storage, redact(storage))
        for form in {secret, unquote(secret)}:
            text = text.replace(form, HIDDEN)
    return text


def heartbeat_interval_s() -> int:
    """Seconds between heartbeats of a running trial (database storages); NNLAB_HEARTBEAT_S overrides 10."""
    try:
        return max(1, int(os.environ.get("NNLAB_HEARTBEAT_S", "10")))
    except ValueError:
        return 10


def journal_path(storage: str | None, runs_dir: str) -> Path | None:
    """The journal file a storage URL names, or None for a database URL."""
    if not storage:
        return Path(runs_dir) / STUDIES_DIR / JOURNAL_NAME
    if storage.startswith("journal:"):
        return Path(storage[len("journal:"):])
    if storage.endswith(".journal") and "://" not in storage:
        return Path(storage)
    return None


def describe(storage: str | None, runs_dir: str) -> str:
    """What the user sees as the storage: the journal file's path, or the redacted URL."""
    path = journal_path(storage, runs_dir)
    return str(path) if path is not None else redact(storage)


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].split("+", 1)[0].lower() if "://" in url else ""


def exists(storage: str | None, runs_dir: str) -> bool:
    """False when the storage is a journal file that does not exist yet (reading creates nothing)."""
    path = journal_path(storage, runs_dir)
    return path is None or path.is_file()


def open_storage(storage: str | None, runs_dir: str, *, create: bool = False) -> optuna.storages.BaseStorage:
    """The Optuna storage for a URL; ConfigError (one line, password redacted) when it cannot be used.
    A journal file is made only with create=True."""
    key = (storage or "", str(Path(runs_dir).resolve()) if not storage else "")
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own lines say what happens
    path = journal_path(storage, runs_dir)
    if path is not None:
        made = _journal(path, create)
    else:
        assert storage is not None
        made = _rdb(storage)
    with _cache_lock:
        return _cache.setdefault(key, made)


def _journal(path: Path, create: bool) -> Any:
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalStorage

    if not path.is_file():
        if not create:
            raise ConfigError(f"no study storage at {path} (no study has been run with this runs dir yet)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the study storage {path}: {exc.strerror or exc}") from None
    try:
        # the open(O_EXCL) lock works on NFS too, where symlink locks may not
        lock = JournalFileOpenLock(str(path), grace_period=LOCK_GRACE_S)
        return JournalStorage(JournalFileBackend(str(path), lock_obj=lock))
    except OSError as exc:
        raise ConfigError(f"cannot open the study storage {path}: {exc.strerror or exc}") from None


def _rdb(url: str) -> Any:
    shown = redact(url)
    if _scheme(url) not in RDB_SCHEMES:
        raise ConfigError(f"invalid value for --storage: {shown!r} (allowed: postgresql://USER:PASSWORD@HOST"
                          f"[:PORT]/DB, journal:PATH, a PATH ending in .journal, or none for the runs dir's journal)")
    url = _with_driver(url)
    import warnings

    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # heartbeat_interval
    from optuna.storages import RDBStorage

    interval = heartbeat_interval_s()
    try:
        import sqlalchemy.exc

        return RDBStorage(url, engine_kwargs={"pool_pre_ping": True, "connect_args": _connect_args(url)},
                          heartbeat_interval=interval, grace_period=3 * interval,
                          heartbeat_stale_trial_callback=retry_trial)
    except ImportError as exc:
        raise ConfigError(f"the storage {shown} needs a database driver ({exc.name or exc} is missing: "
                          "pip install 'nnlab[postgres]')") from None
    except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.OptunaError, ValueError) as exc:
        detail = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        raise ConfigError(f"cannot reach the study storage {shown}: {detail[:200]}") from None


def _with_driver(url: str) -> str:
    """postgres:// and postgresql:// without a driver name use psycopg2 (the `postgres` extra) when psycopg 3
    is not installed (SQLAlchemy's default for postgresql:// may be psycopg 3)."""
    scheme, rest = url.split("://", 1)
    if scheme.lower() in ("postgres", "postgresql"):
        import importlib.util

        if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2") is not None:
            return "postgresql+psycopg2://" + rest
        return "postgresql://" + rest
    return url


def _connect_args(url: str) -> dict[str, Any]:
    return {"connect_timeout": 10} if _scheme(url) == "postgresql" else {}


def retry_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    """Queue a failed trial (its worker died, or was stopped) to run again with the same parameters, at
    most MAX_RETRY times. Used by the heartbeat of database storages, the journal's stale-trial check, and
    Ctrl-C."""
    import optuna

    history = list(trial.system_attrs.get("retry_history", [])) + [trial.number]
    if len(history) > MAX_RETRY:
        return
    system_attrs = {**trial.system_attrs, "failed_trial": history[0], "retry_history": history}
    study.add_trial(optuna.trial.create_trial(
        state=optuna.trial.TrialState.WAITING, params=trial.params, distributions=trial.distributions,
        system_attrs=system_attrs, user_attrs={"retry_of": trial.number}))
