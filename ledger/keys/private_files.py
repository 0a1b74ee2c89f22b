"""Development secrets and keys on disk: a file made once, readable by its owner only.

`create_private_file` makes `path` with mode 0600 unless it exists; when several workers start
at once, the first one writes it and the others read what it wrote (O_EXCL). Used for the
development token secret and the development signing key.
Tests: tests/api/test_tokens.py, tests/outbound/test_keys.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ledger.errors import ConfigError


def create_private_file(path: Path, make: Callable[[], bytes], *, setting: str) -> None:
    """Write `make()` to `path` (0600) if it does not exist yet; ConfigError naming `setting`."""
    if path.exists():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another worker made it first
    except OSError as e:
        raise ConfigError(setting, f"cannot create {path}: {e.strerror}") from None
    with os.fdopen(fd, "wb") as f:
        f.write(make())
