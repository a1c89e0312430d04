"""A report document as a list of blocks, written as Markdown, HTML or LaTeX into a folder with its
figures and CSV tables. The folder is built under a temporary name beside the target and renamed into
place, so it is complete or absent; an existing target is replaced only when it is an nnlab report
(it holds MARKER), never a folder of anything else."""
from __future__ import annotations

import html
import os
import re
import secrets
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.config import ConfigError
from engine.figures.save import check_writable_dir
from engine.report.tables import to_csv
from engine.store import atomic_write_bytes

FORMATS = {"md": "report.md", "html": "report.html", "latex": "report.tex"}
MARKER = ".nnlab-report"


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Paragraph:
    text: str


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    caption: str = ""
    csv_name: str | None = None  # the CSV file beside the document holding the exact cells
    csv_rows: list[list[str]] | None = None  # the exact cells (rows: as the document shows them), if they differ


@dataclass
class Figure:
    path: str  # relative to the report folder
    caption: str


@dataclass
class Code:
    text: str


Block = Heading | Paragraph | Table | Figure | Code


# ---- Markdown -------------------------------------------------------------------------------------
def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(title: str, blocks: Sequence[Block]) -> str:
    out = [f"# {title}", ""]
    for b in blocks:
        if isinstance(b, Heading):
            out += ["#" * min(6, b.level) + " " + b.text, ""]
        elif isinstance(b, Paragraph):
            out += [b.text, ""]
        elif isinstance(b, Table):
            if b.caption:
                out += [f"*{b.caption}*" + (f" ([CSV]({b.csv_name}))" if b.csv_name else ""), ""]
            out.append("| " + " | ".join(_md_cell(h) for h in b.headers) + " |")
            out.append("|" + "|".join("---" for _ in b.headers) + "|")
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            out.append("")
        elif isinstance(b, Figure):
            out += [f"![{_md_cell(b.caption)}]({b.path})", "", f"*{b.caption}*", ""]
        elif isinstance(b, Code):
            out += ["```sh", b.text, "```", ""]
    return "\n".join(out)


# ---- HTML -----------------------------------------------------------------------------------------
def to_html(title: str, blocks: Sequence[Block]) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", "<html><head><meta charset=\"utf-8\">", f"<title>{e(title)}</title>",
           "<style>body{font-family:sans-serif;max-width:72em;margin:auto;padding:1em}"
           "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #999;padding:2px 6px}"
           "img{max-width:100%}pre{background:#f4f4f4;padding:6px;overflow-x:auto}</style>",
           "</head><body>", f"<h1>{e(title)}</h1>"]
    for b in blocks:
        if isinstance(b, Heading):
            level = min(6, max(2, b.level))
            out.append(f"<h{level}>{e(b.text)}</h{level}>")
        elif isinstance(b, Paragraph):
            out.append(f"<p>{e(b.text)}</p>")
        elif isinstance(b, Table):
            cap = e(b.caption) + (f" (<a href=\"{e(b.csv_name)}\">CSV</a>)" if b.csv_name else "")
            out.append(f"<table><caption>{cap}</caption><tr>" + "".join(f"<th>{e(h)}</th>" for h in b.headers)
                       + "</tr>")
            out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in b.rows]
            out.append("</table>")
        elif isinstance(b, Figure):
            out.append(f"<figure><img src=\"{e(b.path)}\" alt=\"{e(b.caption)}\">"
                       f"<figcaption>{e(b.caption)}</figcaption></figure>")
        elif isinstance(b, Code):
            out.append(f"<pre><code>{e(b.text)}</code></pre>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# ---- LaTeX ----------------------------------------------------------------------------------------
_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_TEX_RE = re.compile("|".join(re.escape(k) for k in _TEX))


def tex(text: str) -> str:
    return _TEX_RE.sub(lambda m: _TEX[m.group()], text)


def to_latex(title: str, blocks: Sequence[Block]) -> str:
    out = [r"\documentclass[a4paper,10pt]{article}", r"\usepackage[margin=2cm]{geometry}",
           r"\usepackage{graphicx}", r"\usepackage{longtable}", r"\usepackage[T1]{fontenc}",
           r"\usepackage[utf8]{inputenc}", r"\usepackage{textcomp}", "",
           rf"\title{{{tex(title)}}}", r"\date{}", r"\begin{document}", r"\maketitle", ""]
    for b in blocks:
        if isinstance(b, Heading):
            out += [(r"\section*" if b.level <= 2 else r"\subsection*") + f"{{{tex(b.text)}}}", ""]
        elif isinstance(b, Paragraph):
            out += [tex(b.text), ""]
        elif isinstance(b, Table):
            cols = "l" * len(b.headers)
            out += [r"{\scriptsize", rf"\begin{{longtable}}{{{cols}}}"]
            if b.caption:
                out.append(rf"\caption*{{{tex(b.caption)}}}\\")
            out += [" & ".join(tex(h) for h in b.headers) + r" \\ \hline"]
            out += [" & ".join(tex(c) for c in row) + r" \\" for row in b.rows]
            out += [r"\end{longtable}}", ""]
        elif isinstance(b, Figure):
            out += [r"\begin{figure}[htbp]\centering", rf"\includegraphics[width=\linewidth]{{{b.path}}}",
                    rf"\caption*{{{tex(b.caption)}}}", r"\end{figure}", ""]
        elif isinstance(b, Code):
            out += [r"\begin{verbatim}", b.text, r"\end{verbatim}", ""]
    out += [r"\end{document}", ""]
    return "\n".join(out)


RENDER: dict[str, Callable[[str, Sequence[Block]], str]] = {"md": to_markdown, "html": to_html,
                                                            "latex": to_latex}


def figure_ext(fmt: str) -> str:
    """The figure files of a report: PDF (vector) for LaTeX, PNG for Markdown and HTML."""
    return ".pdf" if fmt == "latex" else ".png"


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ConfigError(f"invalid value for --format: {fmt!r} (allowed: {', '.join(FORMATS)})")
    return fmt


def check_target(target: str | os.PathLike, create_parent: bool = False) -> Path:
    """The report folder to write: its parent must be a writable folder, and the folder itself absent or
    an earlier nnlab report (which is replaced). ConfigError otherwise, before anything is written."""
    target = Path(target)
    if target.name in ("", ".", ".."):
        raise ConfigError(f"invalid value for -o: {str(target)!r} (allowed: a new folder name, or an earlier report)")
    parent = target.parent if str(target.parent) else Path(".")
    if create_parent:
        parent.mkdir(parents=True, exist_ok=True)
    check_writable_dir(parent)
    if target.is_symlink() or (target.exists() and not (target / MARKER).is_file()):
        raise ConfigError(f"invalid value for -o: {str(target)!r} exists and is not an nnlab report "
                          "(allowed: a new folder, or an earlier report, which is replaced)")
    return target


class ReportFolder:
    """Build a report in a temporary folder beside the target, then publish() renames it into place.
    Used as a context manager: leaving it without publish() (an error, Ctrl-C) removes the temp folder."""

    def __init__(self, target: str | os.PathLike, fmt: str):
        self.target = Path(target)
        self.fmt = check_format(fmt)
        self.tmp = self.target.with_name(f".{self.target.name}.tmp-{secrets.token_hex(4)}")
        self.published = False

    def __enter__(self) -> ReportFolder:
        self.tmp.mkdir()
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.published:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name: str) -> Path:
        return self.tmp / name

    def write_text(self, name: str, text: str) -> None:
        atomic_write_bytes(self.tmp / name, text.encode("utf-8"))

    def publish(self, title: str, blocks: Sequence[Block]) -> Path:
        """Write the document, the tables' CSV files and the marker, then rename the folder into place
        (an earlier report there is moved aside first and removed after)."""
        for b in blocks:
            if isinstance(b, Table) and b.csv_name:
                self.write_text(b.csv_name, to_csv(b.headers, b.csv_rows if b.csv_rows is not None else b.rows))
        self.write_text(FORMATS[self.fmt], RENDER[self.fmt](title, blocks))
        self.write_text(MARKER, "a report folder written by nnlab: `nnlab report` or `nnlab reproduce` may "
                                "replace it\n")
        old = None
        if self.target.exists():
            check_target(self.target)
            old = self.target.with_name(f".{self.target.name}.old-{secrets.token_hex(4)}")
            os.rename(self.target, old)
        try:
            os.rename(self.tmp, self.target)
        except BaseException:
            if old is not None:
                os.rename(old, self.target)
            raise
        self.published = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.target
