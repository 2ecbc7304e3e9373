"""Builds carry the site's top-level templates/ and static/ inside the cipdash package
(cipdash/site/), so an installed copy serves its pages from any directory; the checkout keeps
them at the top, where cipdash.settings finds them when run from it."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SITE_FOLDERS = ("templates", "static")


class BuildPyWithSite(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install runs from the checkout itself
            return
        site = Path(self.build_lib) / "cipdash" / "site"
        for folder in SITE_FOLDERS:
            target = site / folder
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(ROOT / folder, target)


setup(cmdclass={"build_py": BuildPyWithSite})
