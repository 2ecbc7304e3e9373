"""The boundaries a reader can rely on: the Invoca client and the sandbox feed stand alone.

`calls/invoca/` speaks HTTP and returns its own types; the models use those types, never the
other way round. `calls/sandbox/` imitates Invoca and imports nothing of the product, so it
can stand in for Invoca in front of any version of it."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The product's pure helpers the client may use: no Django, no models.
INVOCA_MAY_USE = ("calls.invoca", "calls.phones", "calls.memory", "calls.moments")
SANDBOX_MAY_USE = ("calls.sandbox",)
# Third-party or first-party roots that belong to the product's other layers.
PRODUCT_ROOTS = ("calls", "cipdash", "django")


def imported_modules(source: Path, package: str) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, relative ones resolved against `package`
    (those inside functions and `if TYPE_CHECKING:` blocks count as well)."""
    found = []
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            found.append((node.lineno, module))
    return found


def within(module: str, roots: tuple[str, ...]) -> bool:
    return any(module == root or module.startswith(root + ".") for root in roots)


def package_of(source: Path, directory: Path, package: str) -> str:
    """The package a file's relative imports start from (`directory` holds `package`)."""
    folder = source.parent.relative_to(directory)
    return ".".join([package, *folder.parts])


def forbidden_imports(directory: Path, *, package: str, allowed: tuple[str, ...]) -> list[str]:
    """`file:line module` for each import of the product outside `allowed`."""
    problems = []
    for source in sorted(directory.rglob("*.py")):
        for line, module in imported_modules(source, package_of(source, directory, package)):
            if within(module, PRODUCT_ROOTS) and not within(module, allowed):
                problems.append(f"{source.relative_to(directory.parent)}:{line} {module}")
    return problems


@pytest.mark.parametrize(
    ("package", "allowed"),
    [("calls.invoca", INVOCA_MAY_USE), ("calls.sandbox", SANDBOX_MAY_USE)],
    ids=["invoca", "sandbox"],
)
def test_package_imports_nothing_of_the_product(package, allowed):
    directory = ROOT.joinpath(*package.split("."))
    assert forbidden_imports(directory, package=package, allowed=allowed) == []


def test_the_helpers_the_client_uses_import_no_django_either():
    for module in INVOCA_MAY_USE[1:]:
        source = ROOT.joinpath(*module.split(".")).with_suffix(".py")
        imports = [name for _line, name in imported_modules(source, "calls")]
        assert [name for name in imports if within(name, PRODUCT_ROOTS)] == [], module


def test_importing_the_client_and_the_sandbox_loads_no_django():
    # A fresh interpreter without settings: what the import drags in, however indirectly.
    code = (
        "import sys, calls.invoca, calls.sandbox; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'cipdash') "
        "or m.startswith(('calls.models', 'calls.services', 'calls.selectors'))))"
    )
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.strip() == "[]"


def test_the_check_catches_a_forbidden_import(tmp_path):
    package = tmp_path / "feed"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("from .inner import helper\n")
    (package / "inner" / "__init__.py").write_text("")
    (package / "inner" / "helper.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from calls.models import Call\n"
        "def later():\n"
        "    import django.conf\n"
        "from .. import inner\n"
    )

    problems = forbidden_imports(package, package="calls.sandbox", allowed=SANDBOX_MAY_USE)

    assert problems == ["feed/inner/helper.py:3 calls.models", "feed/inner/helper.py:5 django.conf"]
