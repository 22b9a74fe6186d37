#!/usr/bin/env python3
"""One entry point for a fresh machine: set up a project-local venv, then run the demo, tests or benchmark.

    python3 dev.py demo     # set up .venv, train the digits demo, serve it with TensorBoard (--no-serve: don't)
    python3 dev.py test     # set up .venv, run ruff and the test suite
    python3 dev.py bench [NAME] [ARGS]   # set up .venv (with the peers), run bench/bench_*.py (or bench_NAME.py)

Needs only Python 3.11 (3.9-3.11 work). The venv is reused while setup.py and constraints.txt are unchanged.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
EXTRAS = {"demo": "[examples]", "test": "[test,examples]", "bench": "[test,bench,examples]"}


def _run(*cmd: object) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=ROOT, check=True)


def _fingerprint(extras: str) -> str:
    digest = hashlib.sha256(extras.encode())
    for name in ("setup.py", "constraints.txt"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_venv(extras: str) -> None:
    """Create .venv if missing and install the package with its pinned dependencies, unless already done."""
    if sys.version_info[:2] < (3, 9) or sys.version_info[:2] > (3, 11):
        sys.exit(f"dev.py needs Python 3.9-3.11 (MXNet 1.9.1 needs numpy<1.24); this is {sys.version.split()[0]}")
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / ".installed"
    wanted = _fingerprint(extras)
    if stamp.exists() and stamp.read_text() == wanted:
        return
    _run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _run(PYTHON, "-m", "pip", "install", "--quiet", "-c", "constraints.txt", "-e", f".{extras}")
    stamp.write_text(wanted)


def main(argv: list[str]) -> int:
    if len(argv) < 1 or argv[0] not in EXTRAS:
        print(__doc__)
        return 2
    task, rest = argv[0], argv[1:]
    ensure_venv(EXTRAS[task])
    if task == "demo":
        _run(PYTHON, "examples/module_api/train_digits.py", *rest)
    elif task == "test":
        _run(BIN / "ruff", "check", ".")
        _run(PYTHON, "-m", "pytest", *rest)
    else:  # every bench/bench_*.py, or the one named: python3 dev.py bench monitor --batches 500
        names = sorted(p.stem[len("bench_") :] for p in (ROOT / "bench").glob("bench_*.py"))
        chosen = [rest.pop(0)] if rest and rest[0] in names else names
        for name in chosen:
            _run(PYTHON, f"bench/bench_{name}.py", *rest)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
