"""DESIGN §2 layering: cache imports nothing of ours; pipes may import cache; search both."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
ALLOWED = {"cache": set(), "pipes": {"cache"}, "search": {"cache", "pipes"}}


def imports(folder: str) -> set[str]:
    found = set()
    for path in (ROOT / folder).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dagreuse."):
                found.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("dagreuse.")}
    return found - {folder}


@pytest.mark.parametrize("folder", ALLOWED)
def test_layering(folder):
    assert imports(folder) <= ALLOWED[folder]


@pytest.mark.parametrize("folder", ALLOWED)
def test_public_modules_declare_all(folder):
    for path in (ROOT / folder).glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
                 if isinstance(t, ast.Name)}
        assert "__all__" in names or path.name == "__main__.py", path
