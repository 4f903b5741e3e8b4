"""The import graph follows the layers of docs/architecture.md: nothing imports upwards.

Why a test: the layering is what lets a new engineer read the ground without the stages and the stages without the
shell; one convenient import upwards (the worker reaching into ``alerts/``) undoes it silently. Every first-party
import, at module level or inside a function, is checked by reading the source (no import is executed).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = ("monitor", "consumers", "alerts", "dashboards")

# layer of a module (by dotted-name prefix, longest first) -> prefixes it may import
ALLOWED: dict[str, tuple[str, ...]] = {
    "monitor.ground": ("monitor.ground",),
    "monitor.stages": ("monitor.ground", "monitor.stages"),
    "consumers": ("monitor.ground", "consumers"),
    "alerts": ("monitor.ground", "monitor.stages.windows", "alerts"),
    "dashboards": ("monitor.ground", "dashboards"),
}
# Command-line modules are entry points of the shell: they may reach any layer to wire a command together.
SHELL_ENTRY_POINTS = ("cli.py",)


def _layer(module: str) -> str | None:
    for prefix in sorted(ALLOWED, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return prefix
    return None


def _modules() -> list[tuple[str, Path]]:
    found = []
    for top in FIRST_PARTY:
        for path in sorted((ROOT / top).rglob("*.py")):
            dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            if path.name not in SHELL_ENTRY_POINTS and _layer(dotted):
                found.append((dotted, path))
    return found


def _first_party_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    imports = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imports += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in imports if name.split(".")[0] in FIRST_PARTY]


def test_the_layer_table_sees_every_package() -> None:
    """Guard against a vacuous pass: each layer has modules, and the ground has the contracts."""
    layers = {_layer(dotted) for dotted, _ in _modules()}
    assert layers == set(ALLOWED)
    assert (ROOT / "monitor" / "ground" / "contracts.py").is_file()


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_no_import_goes_up(layer: str) -> None:
    allowed = ALLOWED[layer]
    wrong = []
    for dotted, path in _modules():
        if _layer(dotted) != layer:
            continue
        for line, name in _first_party_imports(path):
            if not any(name == ok or name.startswith(ok + ".") for ok in allowed):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not wrong, f"{layer} may import only {allowed}:\n" + "\n".join(wrong)
