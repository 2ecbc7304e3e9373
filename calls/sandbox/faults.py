"""Fault modes: switchable misbehaviours of the fake API, global or per organization."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

# mode -> {option: (type, default)}
FAULT_MODES: dict[str, dict[str, tuple[type, Any]]] = {
    "401": {},
    "403": {"invalid_data": (str, "access to this organization was revoked")},
    "429": {"retry_after": (float, 5.0), "retry_after_date": (bool, False)},
    "500": {},
    "502": {},
    "503": {"retry_after": (float, None)},
    "slow": {"delay": (float, 3.0)},
    "hang": {},
    "drip": {"interval": (float, 0.5)},
    "close": {},
    "malformed": {"variant": (str, "truncated")},
    "html200": {},
    "wrong_shape": {"variant": (str, "list")},
    "one_bad_call": {},
    "partial": {},
    "notfound": {},
    "hostile": {},
}
OPTION_CHOICES = {
    ("malformed", "variant"): ("truncated", "garbage"),
    ("wrong_shape", "variant"): ("list", "calls_key", "null_calls"),
}


@dataclass
class FaultRule:
    mode: str
    invoca_id: str | None
    remaining: int | None  # None: until cleared
    options: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "invoca_id": self.invoca_id,
            "remaining": self.remaining,
            **self.options,
        }


def make_rule(
    mode: str | int, invoca_id: str | None = None, count: int | None = None, **options: Any
) -> FaultRule:
    """Validate a fault request (from Python or from JSON) and fill in option defaults."""
    mode = str(mode)
    if mode not in FAULT_MODES:
        raise ValueError(f"unknown fault mode {mode!r}; known: {', '.join(FAULT_MODES)}")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError("count must be a positive integer or null")
    allowed = FAULT_MODES[mode]
    unknown = set(options) - set(allowed)
    if unknown:
        raise ValueError(f"mode {mode} takes no option(s) {', '.join(sorted(unknown))}")
    resolved: dict[str, Any] = {}
    for name, (kind, default) in allowed.items():
        value = options.get(name, default)
        if value is not None:
            value = _coerce(name, value, kind)
            choices = OPTION_CHOICES.get((mode, name))
            if choices and value not in choices:
                raise ValueError(f"{name} must be one of {', '.join(choices)}")
        resolved[name] = value
    return FaultRule(mode, None if invoca_id is None else str(invoca_id), count, resolved)


def _coerce(name: str, value: Any, kind: type) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{name} must be a number >= 0")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


class FaultBoard:
    """The active faults: at most one per organization plus one global.

    An organization's own fault wins over the global one. Thread-safe: request handlers
    consume uses concurrently.
    """

    def __init__(self) -> None:
        self._rules: dict[str | None, FaultRule] = {}
        self._lock = threading.Lock()

    def set(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules[rule.invoca_id] = rule

    def clear(self, invoca_id: str | None = None, *, everything: bool = True) -> None:
        with self._lock:
            if everything:
                self._rules.clear()
            else:
                self._rules.pop(invoca_id, None)

    def take(self, invoca_id: str | None) -> FaultRule | None:
        """The fault that applies to one request, counting the use against its budget."""
        with self._lock:
            scopes: tuple[str | None, ...] = (None,) if invoca_id is None else (invoca_id, None)
            for scope in scopes:
                rule = self._rules.get(scope)
                if rule is None:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        del self._rules[scope]
                return rule
            return None

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.as_dict() for rule in self._rules.values()]
