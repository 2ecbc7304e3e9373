"""Read typed values from the environment (every bad value names its variable), and keep
what the settings put in the data directory private to the user running cipdash."""

from __future__ import annotations

import ipaddress
import math
import os
import secrets
import stat
from collections.abc import Callable
from fnmatch import fnmatch
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}"
    )


def _check_range(name: str, raw: str, value: float, minimum: float, maximum: float | None) -> None:
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum:g}; got {raw!r}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum:g}; got {raw!r}")


def env_float(
    name: str, default: float, *, minimum: float = 0.0, maximum: float | None = None
) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number; got {raw!r}") from None
    if not math.isfinite(value):  # "nan" and "inf" parse, but no interval or timeout is either
        raise ImproperlyConfigured(f"{name} must be a finite number; got {raw!r}")
    _check_range(name, raw, value, minimum, maximum)
    return value


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {raw!r}") from None
    _check_range(name, raw, value, minimum, maximum)
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().upper()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}; got {raw!r}")
    return value


def env_list(name: str, default: list[str], *, allow_empty: bool = True) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if not items and not allow_empty:
        raise ImproperlyConfigured(f"{name} is set but lists nothing; unset it or give values")
    return items


def env_networks(name: str) -> list[IPNetwork]:
    """A comma list of addresses and CIDR networks (`10.0.0.5, 192.168.0.0/16, ::1`); an
    address stands for the network of that one address."""
    networks = []
    for item in env_list(name, []):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must list IP addresses or CIDR networks; {item!r} is neither"
            ) from None
    return networks


def owner_only(path: Path, mode: int) -> None:
    """Set `mode` on a file or directory of ours that others may read or enter (an install
    that predates the private modes, or a change by hand); leave a missing one, or anyone
    else's, alone."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return
    if status.st_uid == os.getuid() and stat.S_IMODE(status.st_mode) & 0o077:
        path.chmod(mode)


def private_directory(path: Path, *, own_entries: tuple[str, ...]) -> None:
    """The directory, created if missing, open to this user only (0700). An existing one is
    tightened only while it holds nothing but entries matching `own_entries` (glob patterns),
    so a setting pointed at a shared place (/tmp, /var/lib) never changes that place's mode."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if all(any(fnmatch(entry.name, own) for own in own_entries) for entry in path.iterdir()):
        owner_only(path, 0o700)


def private_file(path: Path) -> None:
    """The file, created empty if missing, readable by this user only (0600). Created with
    that mode rather than changed afterwards, so no one else can open it in between."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        owner_only(path, 0o600)


def persisted_secret(path: Path, generate: Callable[[], str]) -> str:
    """A secret kept in the data directory, so the embedded setup survives restarts
    without anyone having to invent keys; production passes real ones in the environment."""
    if path.exists():
        owner_only(path, 0o600)
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of the same start-up won the race
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def new_secret_key() -> str:
    return secrets.token_urlsafe(50)
