"""pyproject.toml declares what the code imports: the product's packages only what
[project].dependencies installs, the tests and benchmarks what the dev extra adds to it. An
import that works only because another package happened to pull it in breaks on the next
release of that package."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def normalised(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def requirement_name(line: str) -> str:
    """The distribution a requirement line names ("celery[redis]>=5.4,<6": celery)."""
    found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line.strip())
    assert found, line
    return normalised(found.group())


def declared(*extras: str) -> set[str]:
    requirements = list(PROJECT["dependencies"])
    for extra in extras:
        requirements += PROJECT["optional-dependencies"][extra]
    return {requirement_name(line) for line in requirements}


def top_level_imports(folder: Path) -> set[str]:
    names: set[str] = set()
    for source in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def undeclared(folders: tuple[str, ...], allowed: set[str]) -> dict[str, list[str]]:
    installed_by = packages_distributions()
    ours = {path.stem for folder in ("", *folders) for path in (ROOT / folder).iterdir()}
    missing = {}
    for folder in folders:
        # _typeshed: the standard library's typing-only stubs, imported under TYPE_CHECKING.
        standard = set(sys.stdlib_module_names) | {"_typeshed"}
        for module in top_level_imports(ROOT / folder) - standard - ours:
            distributions = {normalised(name) for name in installed_by.get(module, [module])}
            if not distributions & allowed:
                missing[module] = sorted(distributions)
    return missing


def test_the_product_imports_only_what_it_declares():
    assert undeclared(("cipdash", "calls"), declared()) == {}


@pytest.mark.parametrize("folder", ["tests", "bench"])
def test_tests_and_benchmarks_import_only_what_the_dev_extra_declares(folder):
    assert undeclared((folder,), declared("dev")) == {}
