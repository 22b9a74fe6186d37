"""Tags and run names: validated once, and kept from ever naming a path outside the log directory.

Example::

    >>> clean_tag("/train//loss/")
    'train/loss'
    >>> run_dir("/logs", "acc", "../../etc")
    Traceback (most recent call last):
    ...
    ValueError: run name must not contain '..' path parts; got '../../etc'
"""

from __future__ import annotations

import os
from typing import Any

__all__ = [
    "check_filename_suffix",
    "check_run_name",
    "check_text",
    "clean_tag",
    "path_tag",
    "resolve_logdir",
    "run_dir",
    "series_prefix",
]

MAX_NAME_BYTES = 255  # longest file name most file systems accept
MAX_DIR_BYTES = 4095 - 1 - MAX_NAME_BYTES  # PATH_MAX less room for a file name in the directory
# events.out.tfevents.<10 digits>.<host, HOST_NAME_MAX 64>.<pid, 7 digits>.<8 digits> is at most 112 bytes
MAX_SUFFIX_BYTES = MAX_NAME_BYTES - 112


def check_text(text: str, what: str) -> str:
    """``text`` unchanged if it can be stored (valid UTF-8); ValueError naming ``what`` otherwise."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not valid Unicode (lone surrogate?): {text!r:.80}") from None
    return text


def clean_tag(tag: Any, *, name: str = "tag") -> str:
    """``tag`` with surrounding blanks and repeated, leading or trailing '/' removed.

    TensorBoard groups charts by the part of a tag before its first '/'. Raises TypeError for a non-string
    and ValueError for an empty tag, control characters, or text that is not valid Unicode.
    """
    if not isinstance(tag, str):
        raise TypeError(f"{name} must be a str; got {type(tag).__name__}: {tag!r:.80}")
    cleaned = "/".join(part for part in tag.strip().split("/") if part.strip())
    if not cleaned:
        raise ValueError(f"{name} must be a non-empty string; got {tag!r}")
    bad = next((c for c in cleaned if c < " " or c == "\x7f"), None)
    if bad is not None:
        raise ValueError(f"{name} must not contain control characters; got {bad!r} in {tag!r:.80}")
    return check_text(cleaned, name)


def path_tag(tag: Any, *, name: str = "tag") -> str:
    """``tag`` cleaned for use as a relative path: '/'-separated parts, no '.' parts; ValueError for '..' parts,
    backslashes or over-long parts. Two tags naming the same directory give the same result.

    Example: ``path_tag("a/./b/")`` is ``'a/b'``; ``path_tag("a/../../b")`` raises ValueError.
    """
    parts = []
    for part in clean_tag(tag, name=name).split("/"):
        part = part.strip()
        if part == "..":
            raise ValueError(f"{name} must not contain '..' path parts; got {tag!r}")
        if "\\" in part or os.sep in part or (os.altsep and os.altsep in part):
            raise ValueError(f"{name} must not contain path separators other than '/'; got {tag!r}")
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            raise ValueError(f"{name} part is longer than {MAX_NAME_BYTES} bytes: {part[:40]!r}...")
        if part != ".":
            parts.append(part)
    if not parts:
        raise ValueError(f"{name} must name a path inside the log directory; got {tag!r}")
    return "/".join(parts)


def resolve_logdir(logdir: Any) -> str:
    """``logdir`` as an absolute path, resolved once: a later ``os.chdir`` cannot move where a writer writes.

    TypeError for anything but a str or ``os.PathLike`` of one; ValueError for a path too long for the OS.
    """
    if not isinstance(logdir, (str, os.PathLike)):
        raise TypeError(f"logdir must be a str or os.PathLike; got {type(logdir).__name__}: {logdir!r:.80}")
    text = os.fspath(logdir)
    if not isinstance(text, str):
        raise TypeError(f"logdir must name a str path; got {type(text).__name__}: {text!r:.80}")
    path = os.path.abspath(check_text(text, "logdir"))
    if len(path.encode("utf-8")) > MAX_DIR_BYTES:
        raise ValueError(f"logdir is too long: {MAX_DIR_BYTES} bytes at most; got {text[:60]!r}...")
    return path


def check_filename_suffix(suffix: Any) -> str:
    """``suffix`` if it can end an event file name: a str without separators or control characters, short
    enough that the whole name fits in ``MAX_NAME_BYTES``; ValueError otherwise."""
    if not isinstance(suffix, str) or any(c in "/\\" or c < " " or c == "\x7f" for c in suffix):
        raise ValueError(
            f"filename_suffix must be a str without path separators or control characters; got {suffix!r:.80}"
        )
    size = len(check_text(suffix, "filename_suffix").encode("utf-8"))
    if size > MAX_SUFFIX_BYTES:
        raise ValueError(
            f"filename_suffix is too long: event file names must fit in {MAX_NAME_BYTES} bytes, which leaves "
            f"{MAX_SUFFIX_BYTES} bytes for the suffix; got {size}"
        )
    return suffix


def _run_parts(names: tuple[Any, ...]) -> list[str]:
    parts: list[str] = []
    for raw in names:
        text = clean_tag(raw, name="run name")
        for part in text.split("/"):
            if part == "..":
                raise ValueError(f"run name must not contain '..' path parts; got {raw!r}")
            if part == ".":
                continue
            if "\\" in part or os.sep in part or (os.altsep and os.altsep in part):
                raise ValueError(f"run name must not contain path separators other than '/'; got {raw!r}")
            if len(part.encode("utf-8")) > MAX_NAME_BYTES:
                raise ValueError(f"run name part is longer than {MAX_NAME_BYTES} bytes: {part[:40]!r}...")
            parts.append(part)
    if not parts:
        raise ValueError(f"run name must name a directory; got {names!r}")
    return parts


def check_run_name(name: Any, *, what: str = "run name") -> str:
    """``name`` cleaned, if it names a directory inside a log directory; ValueError (naming ``what``) if not."""
    try:
        return "/".join(_run_parts((name,)))
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None


def series_prefix(prefix: Any, layout: str) -> str:
    """A callback's ``prefix`` cleaned as a tag; with ``layout='runs'`` also checked as a run name (it is one).

    Example: ``series_prefix("val", "runs")`` is ``'val'``; ``series_prefix("../x", "runs")`` raises ValueError.
    """
    clean = clean_tag(prefix, name="prefix")
    if layout == "runs":
        check_run_name(clean, what="prefix (a run name with layout='runs')")
    return clean


def run_dir(logdir: str, *names: str) -> str:
    """The directory for a sub-run ``logdir/name1/name2...``; ValueError if it would leave ``logdir`` or its path
    would be too long for the OS (checked here, not as ENAMETOOLONG when the first event is written)."""
    parts = _run_parts(names)
    root = os.path.realpath(logdir)
    path = os.path.join(root, *parts)
    if len(path.encode("utf-8")) > MAX_DIR_BYTES:
        raise ValueError(
            f"run directory path is too long: {MAX_DIR_BYTES} bytes at most; got {len(path.encode('utf-8'))} "
            f"for {'/'.join(parts)[:60]!r}..."
        )
    if os.path.commonpath([root, os.path.realpath(path)]) != root:
        raise ValueError(f"run directory {path!r} resolves outside the log directory {root!r}")
    return path
