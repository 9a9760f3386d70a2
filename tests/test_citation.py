"""Citable basics: one version everywhere, a valid CITATION.cff, and the licence."""

import importlib
import re
import tomllib
from pathlib import Path

import pytest
from cffconvert import Citation

import satbench
from satbench.cli import main
from satbench.provenance import provenance

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def citation() -> Citation:
    return Citation((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


def pyproject_version() -> str:
    """The version pyproject.toml declares: static, or the attribute its dynamic version names."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    if "version" in project:
        return project["version"]
    assert "version" in project["dynamic"]
    module, _, name = pyproject["tool"]["setuptools"]["dynamic"]["version"]["attr"].rpartition(".")
    return getattr(importlib.import_module(module), name)


def top_release() -> tuple[str, str]:
    """(version, date) of the newest released entry in CHANGELOG.md (an Unreleased one skipped)."""
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    found = re.search(r"^## \[?(\d+\.\d+\.\d+)\]? - (\d{4}-\d{2}-\d{2})$", changelog, re.MULTILINE)
    assert found, "CHANGELOG.md: no '## X.Y.Z - YYYY-MM-DD' release heading"
    return found.group(1), found.group(2)


def cli_version(capsys) -> str:
    assert main(["--version"]) == 0
    return capsys.readouterr().out.strip()


def test_every_place_names_the_same_version(citation, capsys):
    version = satbench.__version__
    assert pyproject_version() == version
    assert citation.cffobj["version"] == version
    assert top_release()[0] == version
    assert cli_version(capsys) == f"satbench {version}"
    assert provenance()["satbench_version"] == version


def test_citation_is_released_with_the_top_changelog_entry(citation):
    assert citation.cffobj["date-released"] == top_release()[1]


def test_citation_validates_against_the_cff_schema(citation):
    assert citation.cffversion == "1.2.0"
    citation.validate()  # raises jsonschema.ValidationError, naming the field, when invalid


def test_license_is_mit_everywhere(citation):
    license_text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert license_text.startswith("MIT License")
    assert "The satbench authors" in license_text
    assert citation.cffobj["license"] == "MIT"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "MIT" in str(pyproject["project"]["license"])  # a {text = ...} table or an SPDX string


def test_the_code_cites_only_documents_that_ship():
    """satbench cites its sources by path (docs/...): each must exist in the repository, and
    DESIGN.md, which never shipped, must not be cited at all."""
    sources = {path: path.read_text(encoding="utf-8")
               for path in sorted((ROOT / "satbench").rglob("*.py"))}
    assert not [path for path, text in sources.items() if "DESIGN.md" in text]
    cited = {match for text in sources.values()
             for match in re.findall(r"\bdocs/[\w./-]*\w", text)}
    assert "docs/paper-protocol.md" in cited
    assert not [path for path in sorted(cited) if not (ROOT / path).is_file()]
