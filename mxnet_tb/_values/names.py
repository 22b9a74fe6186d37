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

__all__ = ["check_text", "clean_tag", "path_tag", "run_dir"]

MAX_NAME_BYTES = 255  # longest file name most file systems accept


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


def run_dir(logdir: str, *names: str) -> str:
    """The directory for a sub-run ``logdir/name1/name2...``; ValueError if it would leave ``logdir``."""
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
    root = os.path.realpath(logdir)
    path = os.path.join(root, *parts)
    if os.path.commonpath([root, os.path.realpath(path)]) != root:
        raise ValueError(f"run directory {path!r} resolves outside the log directory {root!r}")
    return path
