"""Every exception class Bearwatch defines derives from the one root, monitor.ground.errors.BearwatchError.

The test imports every module of the four first-party packages (a module that fails to import fails the test:
nothing is skipped silently) and checks each ``Exception`` subclass defined there, private ones included.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

from monitor.ground.errors import BearwatchError

PACKAGES = ("monitor", "consumers", "alerts", "dashboards")


def _modules() -> tuple[list[ModuleType], list[str]]:
    """Every module of PACKAGES, and ``name: error`` for each that failed to import."""
    modules: list[ModuleType] = []
    failures: list[str] = []
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        modules.append(package)

        def failed(name: str) -> None:
            failures.append(f"{name}: could not be imported while walking the package")

        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}.", onerror=failed):
            try:
                modules.append(importlib.import_module(info.name))
            except Exception as exc:  # noqa: BLE001 - reported as a failure below, with what went wrong
                failures.append(f"{info.name}: {type(exc).__name__}: {exc}")
    return modules, failures


def test_every_first_party_exception_derives_from_bearwatch_error() -> None:
    modules, failures = _modules()
    assert not failures, "modules that do not import:\n  " + "\n  ".join(failures)
    assert len(modules) > 50  # the walk found the packages
    defined = [
        obj for module in modules for obj in vars(module).values()
        if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module.__name__
    ]
    assert BearwatchError in defined
    strays = sorted(f"{cls.__module__}.{cls.__qualname__}" for cls in defined if not issubclass(cls, BearwatchError))
    assert not strays, "exception classes outside the BearwatchError root:\n  " + "\n  ".join(strays)
