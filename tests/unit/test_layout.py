"""Who may import whom: the folders' promises, checked on every module's imports.

A service imports the contract and the kernel, never another service; the
kernel never imports a service; the contract imports no service and, of the
kernel, only the time format its envelope is written in.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "service.py").is_file())


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _modules(folder: str):
    return sorted((ROOT / folder).rglob("*.py"))


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", _modules("onestop"), ids=_rel)
def test_the_kernel_imports_no_service(path):
    assert not [m for m in _imports(path) if m == "services" or m.startswith("services.")]


@pytest.mark.parametrize("path", _modules("contracts"), ids=_rel)
def test_the_contract_imports_no_service_and_only_the_time_format_of_the_kernel(path):
    imported = _imports(path)
    assert not [m for m in imported if m.startswith("services")]
    assert not [m for m in imported if m.startswith("onestop") and m != "onestop.timestamps"]


@pytest.mark.parametrize("service", SERVICES)
def test_no_service_imports_another(service):
    others = tuple(f"services.{s}" for s in SERVICES if s != service)
    found = {(_rel(p), m) for p in _modules(f"services/{service}") for m in _imports(p)
             if m.startswith(others) or m == "services"}
    assert not found
