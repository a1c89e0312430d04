"""`nnlab data status|fetch|pack|import`: the downloadable data sets (MNIST, Fashion-MNIST, CIFAR-10) on disk,
and how to get them onto a machine with no network: `pack` them into one .tar where they are, copy it, `import`
it there.

    status [--json]                       each data set: complete or not, which files miss or fail a check, where
    fetch mnist|fashion-mnist|cifar10     download through torchvision (a quick check first that a host answers)
    pack [-o FILE] [--force] [--trust]    one uncompressed .tar of the complete data sets
    import ARCHIVE... [--trust]           a pack, the official cifar-10-python.tar.gz, the official .gz files
           [--dataset mnist|fashion-mnist]  of MNIST or Fashion-MNIST, or their unpacked IDX files

MNIST and Fashion-MNIST files have the same names, so a loose IDX file (.gz or unpacked) is given its data set
by import_dataset(): --dataset if given, else the nearest folder of its path named after one of the two
(FashionMNIST or fashion-mnist; MNIST or mnist), else mnist. Inside a tar, the member's folder decides
(MNIST/raw/ or FashionMNIST/raw/).

Imports and downloads land in a staging folder inside the data dir, are checked there, and only then replace
the data set's folder (engine.data.catalog.install): an interrupted or refused one leaves the data dir as it
was. Bad input and refused archives: one line, exit 2 (ConfigError); no network, or a download that fails:
one line, exit 1.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import gzip
import hashlib
import io
import json
import os
import secrets
import shutil
import socket
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from engine.config import ConfigError
from engine.data import catalog
from engine.data.catalog import (
    CHECKSUM_DIFFERS,
    CIFAR_ARCHIVE,
    DAMAGED,
    DOWNLOADABLE,
    FOLDERS,
    IDX_DATASETS,
    MNIST_GZ,
    PACK_MANIFEST,
    SIZE_DIFFERS,
    DatasetStatus,
    Problem,
)
from engine.data.mnist import IDX_SETS
from engine.data.network import probe
from engine.exits import EXIT_ERROR, EXIT_OK
from engine.store.files import fsync_dir, json_line
from engine.text import one_line, render_table

PACK_FORMAT = "nnlab-data-pack"
MAX_MANIFEST_BYTES = 1 << 20
ACCEPTED = (f"accepted: a .tar made by `nnlab data pack`, the official {CIFAR_ARCHIVE}, "
            f"MNIST's or Fashion-MNIST's official files {', '.join(MNIST_GZ)} (or unpacked)")
IMPORT_RULE = ("MNIST and Fashion-MNIST files have the same names: a loose one (.gz or unpacked) goes to the data "
               "set --dataset names; without it, to the one named by the nearest folder of its path called "
               "FashionMNIST or fashion-mnist (Fashion-MNIST), MNIST or mnist (MNIST); else to mnist. In a .tar, "
               f"the member's folder decides ({catalog.MNIST_RAW}/ or {catalog.FASHION_RAW}/)")


def build_data_parser(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `data` and its commands to the subparsers `sub` of `nnlab` (common: adds --runs-dir/--data-dir)."""
    sp = sub.add_parser("data", help="the data sets on disk: status, fetch, and pack/import for offline machines")
    common(sp)
    dsub = sp.add_subparsers(dest="data_command", parser_class=type(sp), required=True,
                             metavar="{status,fetch,pack,import}")
    p = dsub.add_parser("status", help="each data set: complete or not, which files miss or differ, how to get it")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    common(p)
    p = dsub.add_parser("fetch", help="download mnist, fashion-mnist or cifar10 through torchvision (needs a network)")
    p.add_argument("dataset", nargs="?", metavar="DATASET", help=", ".join(DOWNLOADABLE))
    common(p)
    p = dsub.add_parser("pack", help="one .tar of the complete data sets here, for `nnlab data import` elsewhere")
    p.add_argument("-o", "--output", default=None, metavar="FILE",
                   help="the .tar to write (default ./nnlab-data-<UTC date-time>.tar; a folder: that name in it)")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.add_argument("--trust", action="store_true",
                   help="also pack data sets whose checksums differ from torchvision's (hand-made subsets)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    common(p)
    p = dsub.add_parser("import", help="install a pack, cifar-10-python.tar.gz, or MNIST's or Fashion-MNIST's .gz "
                                       "files here", description=IMPORT_RULE + ".")
    p.add_argument("archives", nargs="*", metavar="ARCHIVE")
    p.add_argument("--trust", action="store_true",
                   help="import files whose checksums differ from torchvision's (hand-made subsets)")
    p.add_argument("--dataset", default=None, metavar="NAME",
                   help=f"{' or '.join(IDX_DATASETS)}: the data set of the loose IDX files given (.gz or unpacked; "
                        "default: the nearest folder of a file's path named FashionMNIST or fashion-mnist, MNIST or "
                        "mnist, else mnist); a .tar's files go where their folder in it says")
    common(p)


def cmd_data(args: argparse.Namespace) -> int:
    command = getattr(args, "data_command", None)
    if command == "status":
        return cmd_status(args)
    if command == "fetch":
        return cmd_fetch(args)
    if command == "pack":
        return cmd_pack(args)
    if command == "import":
        return cmd_import(args)
    raise ConfigError(f"invalid value for data command: {command!r} (allowed: status, fetch, pack, import)")


def files_count(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def human_size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _option(args: argparse.Namespace) -> str:
    return catalog.data_dir_option(args.data_dir)


# ---------------------------------------------------------------------------------------------- status


def status_rows(states: list[DatasetStatus]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for st in states:
        if st.state == "available":
            rows.append([st.name, st.state, "-", st.source])
        else:
            n = len(catalog.required_files(st.name))
            rows.append([st.name, st.state, f"{n - len(st.missing)}/{n}", st.folder])
    return rows


def status_table(states: list[DatasetStatus]) -> str:
    return render_table(["dataset", "state", "files", "folder"], status_rows(states))


def detail_lines(st: DatasetStatus) -> list[str]:
    """What is wrong with a data set and how to get it, one line each."""
    lines = []
    if st.missing and st.state != "absent":
        suffix = "[.gz]" if catalog.is_idx(st.name) else ""
        lines.append(f"{st.name}: missing {', '.join(f + suffix for f in st.missing)}")
    by_kind: dict[str, list[str]] = {}
    for p in st.problems:
        by_kind.setdefault(p.kind, []).append(p.file if p.kind == CHECKSUM_DIFFERS else f"{p.file} ({p.detail})")
    if CHECKSUM_DIFFERS in by_kind:
        lines.append(f"{st.name}: checksum differs from torchvision's: {', '.join(by_kind[CHECKSUM_DIFFERS])}")
    if SIZE_DIFFERS in by_kind:
        lines.append(f"{st.name}: size differs from the official files: {', '.join(by_kind[SIZE_DIFFERS])}")
    if DAMAGED in by_kind:
        lines.append(f"{st.name}: damaged: {', '.join(by_kind[DAMAGED])}")
    if st.state == "differs":
        lines.append(f"{st.name}: it loads, but it is not the official data set (a hand-made subset?); "
                     f"for the real one, {st.hint}")
    elif st.hint:
        lines.append(f"{st.name}: {st.hint}")
    return [one_line(line) for line in lines]


def cmd_status(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir)
    states = catalog.status(data_dir, _option(args))
    if args.json:
        print(json_line({"data_dir": str(data_dir.absolute()), "exists": data_dir.is_dir(),
                         "datasets": {st.name: st.to_json() for st in states}}))
        return EXIT_OK
    print(one_line(f"data dir: {data_dir.absolute()}" + ("" if data_dir.is_dir() else " (does not exist yet)")))
    print(status_table(states))
    for st in states:
        for line in detail_lines(st):
            print(line)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- fetch


def cmd_fetch(args: argparse.Namespace) -> int:
    if not args.dataset:
        raise ConfigError(f"missing DATASET (allowed: {', '.join(DOWNLOADABLE)})")
    name = catalog.check_name(args.dataset)
    data_dir = Path(args.data_dir)
    option = _option(args)
    if catalog.presence(data_dir)[name].state == "present":
        st = catalog.check_dataset(data_dir, name, option=option)
        if st.state == "complete":
            print(one_line(f"{name}: already complete in {st.folder}; nothing downloaded"))
            return EXIT_OK
    reached, tried = probe(catalog.DOWNLOAD_URLS[name])
    if reached is None:
        print(one_line(f"nnlab: error: cannot download {name} into {catalog.folder_of(data_dir, name).absolute()}: "
                       f"no network reached: {', '.join(tried)}; offline: `nnlab data pack` on a "
                       f"machine that has {name}, copy the .tar here, then `nnlab data import{option} FILE.tar`"),
              file=sys.stderr)
        return EXIT_ERROR
    created = _missing_ancestors(data_dir)
    staging = _new_staging(data_dir)
    installed = False
    try:
        print(f"downloading {name} into {data_dir.absolute()} (via {reached}) ...", file=sys.stderr)
        try:
            # torchvision reports progress on stdout: it goes to stderr, with tqdm's bars
            with contextlib.redirect_stdout(sys.stderr):
                if catalog.is_idx(name):  # torchvision's MNIST or FashionMNIST: <staging>/<its folder>/raw
                    import torchvision.datasets

                    idx_class = getattr(torchvision.datasets, IDX_SETS[name].torchvision_class)
                    idx_class(root=str(staging), train=True, download=True)
                    idx_class(root=str(staging), train=False, download=True)
                else:
                    from torchvision.datasets import CIFAR10

                    CIFAR10(str(staging), train=False, download=True)
        except Exception as exc:  # URLError, RuntimeError (md5 mismatch), OSError (disk full) ...
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            why = lines[-1][:160] if lines else type(exc).__name__
            print(one_line(f"nnlab: error: downloading {name} failed ({why}); nothing changed in "
                           f"{data_dir.absolute()}; offline: `nnlab data pack` on a machine that has it, copy the "
                           f".tar here, then `nnlab data import{option} FILE.tar`"), file=sys.stderr)
            return EXIT_ERROR
        staged = catalog.check_dataset(staging, name, catalog.Checksums(staging, cache=False))
        if staged.state != "complete":
            print(one_line(f"nnlab: error: the download of {name} is {staged.state}; nothing changed in "
                           f"{data_dir.absolute()}"), file=sys.stderr)
            return EXIT_ERROR
        catalog.install(staging, data_dir, [name])
        installed = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not installed:
            _remove_empty(created)
    st = catalog.check_dataset(data_dir, name, option=option)
    print(status_table([st]))
    for line in detail_lines(st):
        print(line)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- pack


class HashingReader:
    """A file read through: md5 and byte count of what was read."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh, self.md5, self.count = fh, hashlib.md5(usedforsecurity=False), 0

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.md5.update(data)
        self.count += len(data)
        return data


def _output_path(args: argparse.Namespace) -> Path:
    name = f"nnlab-data-{datetime.now(UTC):%Y%m%d-%H%M%S}.tar"
    if not args.output:
        return Path.cwd() / name
    out = Path(args.output)
    if out.is_dir():
        return out / name
    if not out.parent.is_dir():
        raise ConfigError(f"invalid value for -o: {args.output!r} (its folder {out.parent} does not exist)")
    return out


def cmd_pack(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir)
    out = _output_path(args)
    if os.path.lexists(out) and not args.force:
        raise ConfigError(f"refusing to overwrite {out} (--force replaces it)")
    states = [st for st in catalog.status(data_dir, _option(args)) if st.name in DOWNLOADABLE]
    packed = [st for st in states if st.state == "complete" or (args.trust and st.state == "differs")]
    skipped = {st.name: st.state for st in states if st not in packed}
    if not packed:
        why = ", ".join(f"{name} {state}" for name, state in skipped.items())
        more = "; --trust packs data sets whose checksums differ" if "differs" in skipped.values() else ""
        raise ConfigError(f"nothing to pack in {data_dir.absolute()}: {why}{more} (`nnlab data status` says more)")
    members = [(st.name, f"{FOLDERS[st.name]}/{f}") for st in packed for f in st.present]
    manifest: dict[str, Any] = {"format": PACK_FORMAT, "version": 1,
                                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                                "host": socket.gethostname(), "datasets": {}, "files": {}}
    for st in packed:
        manifest["datasets"][st.name] = {"state": st.state, "files": [rel for n, rel in members if n == st.name]}
    tmp = out.with_name(f".{out.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    try:
        with open(tmp, "wb") as fh:
            with tarfile.open(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for _, rel in members:
                    path = data_dir / rel
                    info = tarfile.TarInfo(rel)
                    st_file = os.stat(path)
                    info.size, info.mtime, info.mode = st_file.st_size, int(st_file.st_mtime), 0o644
                    with open(path, "rb") as src:
                        reader = HashingReader(src)
                        tar.addfile(info, reader)
                    manifest["files"][rel] = {"size": reader.count, "md5": reader.md5.hexdigest()}
                blob = (json.dumps(manifest, indent=1) + "\n").encode()
                info = tarfile.TarInfo(PACK_MANIFEST)
                info.size, info.mtime, info.mode = len(blob), int(time.time()), 0o644
                tar.addfile(info, io.BytesIO(blob))
            fh.flush()
            os.fsync(fh.fileno())
        if args.force:
            os.replace(tmp, out)
        else:
            try:
                os.link(tmp, out)  # never replaces: a file that appeared meanwhile is refused too
            except FileExistsError:
                raise ConfigError(f"refusing to overwrite {out} (--force replaces it)") from None
            except OSError:  # a file system without hard links
                if os.path.lexists(out):
                    raise ConfigError(f"refusing to overwrite {out} (--force replaces it)") from None
                os.replace(tmp, out)
        fsync_dir(out.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    size = out.stat().st_size
    per_set = {st.name: {"state": st.state, "files": manifest["datasets"][st.name]["files"],
                         "bytes": sum(manifest["files"][rel]["size"] for rel in manifest["datasets"][st.name]["files"])}
               for st in packed}
    if args.json:
        print(json_line({"path": str(out.absolute()), "bytes": size, "datasets": per_set, "skipped": skipped}))
        return EXIT_OK
    for name, info_set in per_set.items():
        note = " (not the official files: packed because of --trust)" if info_set["state"] == "differs" else ""
        print(one_line(f"packed {name}: {files_count(len(info_set['files']))}, {human_size(info_set['bytes'])} "
                       f"({FOLDERS[name]}/){note}"))
    for name, state in skipped.items():
        print(f"not packed: {name} ({state})")
    print(one_line(f"wrote {out.absolute()} ({human_size(size)}); on the offline machine: "
                   f"nnlab data import {out.name}"))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- import


@dataclass
class Source:
    """One ARCHIVE of `nnlab data import`, looked at before anything is written.
    kind: pack | cifar-archive | tar | idx-gz | idx (a loose file of MNIST or Fashion-MNIST).
    files: the data-dir-relative paths it brings."""

    path: Path
    kind: str
    files: list[str] = field(default_factory=list)
    members: list[tarfile.TarInfo] = field(default_factory=list)  # tars: the members to extract, names cleaned
    manifest: dict[str, Any] | None = None
    unpacked_bytes: int = 0


# a tar's folder entries that are let through (and skipped): each data set's folder and the folders above it
ALLOWED_DIRS = {str(parent) for folder in FOLDERS.values() for parent in [PurePosixPath(folder),
                                                                          *PurePosixPath(folder).parents]} - {"."}


def _clean_member_name(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")


def _refuse_member(path: Path, member: tarfile.TarInfo, why: str) -> ConfigError:
    return ConfigError(f"refusing {path}: member {member.name!r} {why} (allowed: {catalog.MNIST_RAW}/<MNIST file>, "
                       f"{catalog.FASHION_RAW}/<Fashion-MNIST file>, {catalog.CIFAR_FOLDER}/<CIFAR-10 file>); "
                       "nothing imported")


def _look_at_tar(path: Path) -> Source:
    try:
        with tarfile.open(path, "r:*") as tar:
            members = tar.getmembers()
            manifest_member = None
            source = Source(path, "tar")
            for member in members:
                name = _clean_member_name(member.name)
                if name in ("", ".") or (member.isdir() and name in ALLOWED_DIRS):
                    continue
                pure = PurePosixPath(name)
                if pure.is_absolute() or ".." in pure.parts:
                    raise _refuse_member(path, member, "points outside the data dir")
                name = pure.as_posix()  # MNIST//raw/x is MNIST/raw/x
                if name == PACK_MANIFEST and member.isfile():
                    manifest_member = member
                    continue
                if catalog.dataset_of(name) is None:
                    raise _refuse_member(path, member, "is not a file of the data sets")
                if not member.isfile():
                    raise _refuse_member(path, member, "is not a plain file (links and devices are never imported)")
                if name in source.files:
                    raise _refuse_member(path, member, "appears twice")
                source.files.append(name)
                renamed = copy.copy(member)
                renamed.name = name
                source.members.append(renamed)
                source.unpacked_bytes += member.size
            if manifest_member is not None:
                if manifest_member.size > MAX_MANIFEST_BYTES:
                    raise ConfigError(f"refusing {path}: its {PACK_MANIFEST} is too large; nothing imported")
                extracted = tar.extractfile(manifest_member)
                try:
                    manifest = json.loads(extracted.read()) if extracted is not None else None
                except ValueError:
                    manifest = None
                if not isinstance(manifest, dict) or manifest.get("format") != PACK_FORMAT \
                        or not isinstance(manifest.get("files"), dict):
                    raise ConfigError(f"refusing {path}: its {PACK_MANIFEST} is not a pack's manifest; "
                                      "nothing imported")
                source.kind, source.manifest = "pack", manifest
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ConfigError(f"cannot read {path}: {type(exc).__name__}: {exc}; nothing imported") from None
    if not source.files:
        raise ConfigError(f"refusing {path}: it holds none of the data sets' files ({ACCEPTED})")
    if source.kind == "tar" and path.name == CIFAR_ARCHIVE:
        source.kind = "cifar-archive"
    return source


def _extract(tar: tarfile.TarFile, members: list[tarfile.TarInfo], staging: Path) -> None:
    """The checked members (plain files with known names) into staging, through tarfile's "data" filter
    (Python >= 3.11.4), which refuses again anything that would land outside it."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(staging, members=members, filter="data")
        return
    for member in members:  # an older Python: the same files, written here
        target = staging / member.name
        target.parent.mkdir(parents=True, exist_ok=True)
        src = tar.extractfile(member)
        if src is None:
            raise tarfile.ExtractError(f"{member.name} is not a plain file")
        with src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)


def _gzip_size(path: Path) -> int:
    """The unpacked size a gzip file declares (its last 4 bytes, modulo 2**32: enough for the IDX sets')."""
    with open(path, "rb") as fh:
        fh.seek(-4, os.SEEK_END)
        return int.from_bytes(fh.read(4), "little")


def import_dataset(path: Path, option: str | None) -> str:
    """The IDX set a loose file (.gz or unpacked) is imported into: `option` (--dataset) when given; else the
    nearest folder of its path named after one (FashionMNIST or fashion-mnist, MNIST or mnist); else mnist."""
    if option is not None:
        return option
    names = {alias: name for name in IDX_DATASETS for alias in (IDX_SETS[name].folder, name)}
    return next((names[parent.name] for parent in path.absolute().parents if parent.name in names), "mnist")


def look_at(path: Path, dataset: str | None = None) -> Source:
    """What an ARCHIVE is, from its name and its first bytes: ConfigError for anything else. dataset: --dataset,
    the IDX set of a loose IDX file (import_dataset)."""
    if not path.exists():
        raise ConfigError(f"invalid value for ARCHIVE: {str(path)!r} (no such file)")
    if not path.is_file():
        raise ConfigError(f"invalid value for ARCHIVE: {str(path)!r} (not a file; {ACCEPTED})")
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
        is_tar = tarfile.is_tarfile(path)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    if is_tar:
        return _look_at_tar(path)
    if head[:2] == b"\x1f\x8b" and path.name in MNIST_GZ:
        rel = f"{FOLDERS[import_dataset(path, dataset)]}/{path.name}"
        size = path.stat().st_size
        return Source(path, "idx-gz", [rel, rel[:-3]], unpacked_bytes=size + _gzip_size(path))
    if path.name in catalog.MNIST_FILES and len(head) == 4 and \
            int.from_bytes(head, "big") in (catalog.IDX_IMAGES_MAGIC, catalog.IDX_LABELS_MAGIC):
        rel = f"{FOLDERS[import_dataset(path, dataset)]}/{path.name}"
        return Source(path, "idx", [rel], unpacked_bytes=path.stat().st_size)
    what = "a gzip file" if head[:2] == b"\x1f\x8b" else "a file"
    raise ConfigError(f"cannot import {path}: {what} of a kind nnlab does not know ({ACCEPTED})")


def _unpack_gz(src: Path, dst: Path) -> None:
    try:
        with gzip.open(src, "rb") as fin, open(dst, "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise ConfigError(f"refusing {src.name}: cannot unpack it ({type(exc).__name__}: {exc}); "
                          "nothing imported") from None


def _missing_ancestors(path: Path) -> list[Path]:
    """The folders a command will create to reach path, deepest first."""
    out = []
    path = path.absolute()
    while not os.path.lexists(path) and path != path.parent:
        out.append(path)
        path = path.parent
    return out


def _remove_empty(created: list[Path]) -> None:
    """Undo _missing_ancestors' folders where they are empty again (the lock file aside): a refused or
    failed command leaves the file system as it found it."""
    for path in created:
        with contextlib.suppress(OSError):
            (path / catalog.LOCK_NAME).unlink(missing_ok=True)
            path.rmdir()


def _new_staging(data_dir: Path) -> Path:
    try:
        return catalog.new_staging(data_dir)
    except OSError as exc:
        raise ConfigError(f"cannot write in the data dir {data_dir.absolute()}: {exc.strerror or exc}") from None


def _summary(problems: list[tuple[str, Problem]]) -> str:
    """Problems grouped: `mnist: size differs for a, b; cifar10: checksum differs for c`."""
    def order(item: tuple[str, Problem]) -> tuple[int, int]:
        name = catalog.dataset_of(item[0]) or ""
        files = catalog.allowed_files(name) if name else ()
        return (DOWNLOADABLE.index(name) if name in DOWNLOADABLE else 9,
                files.index(item[1].file) if item[1].file in files else 99)

    groups: dict[tuple[str, str], list[str]] = {}
    for rel, problem in sorted(problems, key=order):
        groups.setdefault((catalog.dataset_of(rel) or "?", problem.kind), []).append(problem.file)
    return "; ".join(f"{name}: {kind} for {', '.join(files)}" for (name, kind), files in groups.items())


def _other_official(reference: dict[str, str], rel: str, md5: str) -> str | None:
    """The other IDX set whose official .gz of that name has this md5 (a file imported into the wrong one)."""
    name = PurePosixPath(rel).name
    others = [n for n in IDX_DATASETS if f"{FOLDERS[n]}/{name}" != rel]
    return next((n for n in others if reference.get(f"{FOLDERS[n]}/{name}") == md5), None)


def cmd_import(args: argparse.Namespace) -> int:
    if not args.archives:
        raise ConfigError(f"missing ARCHIVE ({ACCEPTED})")
    dataset = getattr(args, "dataset", None)
    if dataset is not None and dataset not in IDX_DATASETS:
        raise ConfigError(f"invalid value for --dataset: {dataset!r} (allowed: {', '.join(IDX_DATASETS)}; it names "
                          "the data set of loose IDX files, a .tar's files go where their folder says)")
    data_dir = Path(args.data_dir)
    sources = [look_at(Path(a), dataset) for a in args.archives]
    owner: dict[str, Path] = {}
    for source in sources:
        for rel in source.files:
            if rel in owner:
                raise ConfigError(f"refusing {source.path}: {rel} also comes from {owner[rel]}; import one of them")
            owner[rel] = source.path
    notes: list[str] = []  # what --trust let through
    reference: dict[str, str] | None = None
    for source in sources:  # the official files' own md5, before anything is written
        if source.kind in ("cifar-archive", "idx-gz"):
            reference = reference or catalog.reference_md5s()
            key = CIFAR_ARCHIVE if source.kind == "cifar-archive" else source.files[0]
            actual = catalog.md5_of(source.path)
            if actual != reference[key]:
                what = "the official CIFAR-10 archive's" if source.kind == "cifar-archive" else "torchvision's"
                if source.kind == "idx-gz":
                    what += f" for {catalog.dataset_of(key)}"
                other = _other_official(reference, key, actual) if source.kind == "idx-gz" else None
                if other is not None:  # never let through, not even by --trust: it would be the wrong data set
                    raise ConfigError(f"refusing {source.path}: it is {IDX_SETS[other].title}'s official file, not "
                                      f"{catalog.dataset_of(key)}'s; nothing imported (`nnlab data import --dataset "
                                      f"{other}` imports it into {FOLDERS[other]}/)")
                if not args.trust:
                    raise ConfigError(f"refusing {source.path}: checksum differs from {what} (md5 {actual}, expected "
                                      f"{reference[key]}); nothing imported (--trust imports it anyway, e.g. a "
                                      "hand-made subset)")
                if source.kind == "cifar-archive":  # a .gz's difference is reported with the files below
                    notes.append(f"{source.path.name}: checksum differs from {what}")
    needed = sum(s.unpacked_bytes for s in sources)
    created = _missing_ancestors(data_dir)
    free_at = next((p for p in [data_dir.absolute(), *data_dir.absolute().parents] if p.exists()), Path("/"))
    free = shutil.disk_usage(free_at).free
    if needed > free:
        raise ConfigError(f"not enough free space in {free_at}: the import needs {human_size(needed)}, "
                          f"{human_size(free)} free; nothing imported")
    staging = _new_staging(data_dir)
    installed = False
    try:
        for source in sources:
            if source.kind in ("pack", "cifar-archive", "tar"):
                try:
                    with tarfile.open(source.path, "r:*") as tar:
                        _extract(tar, source.members, staging)
                except (tarfile.TarError, EOFError, OSError) as exc:
                    raise ConfigError(f"cannot read {source.path}: {type(exc).__name__}: {exc}; "
                                      "nothing imported") from None
            else:
                target = staging / source.files[0]
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source.path, target)
        staged = sorted(f"{folder}/{entry.name}" for folder in FOLDERS.values() if (staging / folder).is_dir()
                        for entry in (staging / folder).iterdir())
        for rel in list(staged):  # an IDX set's .gz always comes with its unpacked file: the loader reads that one
            if rel.endswith(".gz") and rel[:-3] not in staged:
                _unpack_gz(staging / rel, staging / rel[:-3])
                staged.append(rel[:-3])
        names = [n for n in DOWNLOADABLE if any(catalog.dataset_of(rel) == n for rel in staged)]
        # the pack's own sums: a file damaged on its way here (never let through, not even by --trust)
        known: dict[str, str] = {}
        broken = []
        for source in sources:
            if source.manifest is None:
                continue
            for rel in source.files:
                entry = source.manifest["files"].get(rel)
                known[rel] = catalog.md5_of(staging / rel)
                if not isinstance(entry, dict) or entry.get("md5") != known[rel]:
                    broken.append(rel)
            broken += [f"{rel} (missing)" for rel in source.manifest["files"] if rel not in source.files]
        if broken:
            raise ConfigError(f"refusing {', '.join(str(s.path) for s in sources if s.manifest)}: "
                              f"{', '.join(broken)} differ from the pack's own checksums (damaged in the copy? copy "
                              "it again); nothing imported")
        checksums = catalog.Checksums(staging, cache=False, reference=reference, known=known)
        problems = [(rel, p) for rel in staged if (p := catalog.check_file(staging, rel, checksums)) is not None]
        names_given = ", ".join(str(s.path) for s in sources)
        damaged = [f"{rel} ({p.detail})" for rel, p in problems if p.kind == DAMAGED]
        if damaged:
            raise ConfigError(f"refusing {names_given}: damaged files: {', '.join(damaged)}; nothing imported")
        if problems:
            if not args.trust:
                raise ConfigError(f"refusing {names_given}: not the official files ({_summary(problems)}); nothing "
                                  "imported (--trust imports them anyway, e.g. a hand-made subset)")
            notes.append("not the official files (`nnlab data status` below says which)")
        catalog.install(staging, data_dir, names)
        installed = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not installed:
            _remove_empty(created)
    for name in names:
        files = [rel for rel in staged if catalog.dataset_of(rel) == name]
        size = sum((data_dir / rel).stat().st_size for rel in files)
        frm = ", ".join(sorted({owner.get(rel, owner.get(rel + ".gz", Path("?"))).name for rel in files}))
        print(one_line(f"imported {name} from {frm}: {files_count(len(files))}, {human_size(size)}"))
    for note in notes:
        print(one_line(f"imported with --trust: {note}"))
    states = [catalog.check_dataset(data_dir, name, option=_option(args)) for name in names]
    print(status_table(states))
    for st in states:
        for line in detail_lines(st):
            print(line)
    return EXIT_OK
