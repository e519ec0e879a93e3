"""The two plugin packages are ready to publish: built wheels and sdists carry the MIT license file, the metadata a
package index shows (classifiers, project URLs, a README that renders without this repository around it), and the
Python versions the test command runs (scripts/test.sh, scripts/test-other-pythons.sh): 3.10 to 3.13, in
`requires-python`, in the classifiers and so in the SDK's `--about`."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from singer_sdk.about import python_versions

if sys.version_info >= (3, 11):
    import tomllib
else:  # pip and pytest bring tomli on 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"tap-intercom-events": "extractors", "target-klaviyo": "loaders"}
# scripts/test.sh runs every test on .venv's interpreter and the package suites plus end-to-end runs on the others.
TESTED_PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
UNTESTED_NEIGHBOURS = {"3.8", "3.9"}
RELATIVE_LINK = re.compile(r"\]\((?!https?://|#|mailto:)[^)]*\)")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    out = tmp_path_factory.mktemp("dist")
    for package in PACKAGES:
        subprocess.run(
            [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), package],
            cwd=REPO,
            capture_output=True,
            check=True,
            timeout=300,
        )
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, sorted(out.iterdir()))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {
        package: (
            next(out.glob(f"{package.replace('-', '_')}-*.whl")),
            next(out.glob(f"{package.replace('-', '_')}-*.tar.gz")),
        )
        for package in PACKAGES
    }


def wheel_metadata(wheel: Path) -> tuple[Message, list[str]]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(archive.read(metadata).decode()), names


@pytest.mark.parametrize("package", PACKAGES)
def test_built_package_metadata(package: str, built: dict[str, tuple[Path, Path]]) -> None:
    wheel, sdist = built[package]
    meta, names = wheel_metadata(wheel)
    assert meta["License-Expression"] == "MIT"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    with tarfile.open(sdist) as archive:
        assert any(n.endswith("/LICENSE") for n in archive.getnames())
    assert "MIT License" in (REPO / package / "LICENSE").read_text()

    requires = SpecifierSet(meta["Requires-Python"])
    assert {v for v in {*TESTED_PYTHONS, *UNTESTED_NEIGHBOURS} if v in requires} == set(
        TESTED_PYTHONS
    )
    assert "3.14" in requires, "no upper bound: a newer Python is the user's call, as for the SDK"
    classifiers = meta.get_all("Classifier") or []
    versions = [
        c.rsplit(" :: ", 1)[1]
        for c in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert versions == TESTED_PYTHONS
    # What `<plugin> --about` prints as supported_python_versions once this wheel is installed.
    assert python_versions(meta) == TESTED_PYTHONS
    assert "Development Status :: 4 - Beta" in classifiers

    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Documentation", "Repository", "Issues", "Changelog"} <= set(urls)
    assert all(u.startswith("https://") for u in urls.values())

    assert meta["Description-Content-Type"] == "text/markdown"
    readme = meta.get_payload()
    assert readme.startswith(f"# {package}")
    assert RELATIVE_LINK.findall(readme) == [], "links that break outside this repository"


@pytest.mark.parametrize("package", PACKAGES)
def test_version_is_released_in_changelog_and_plugin_definition(package: str) -> None:
    version = tomllib.loads((REPO / package / "pyproject.toml").read_text())["project"]["version"]
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert re.search(rf"^## \[{re.escape(version)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.M)
    definition = yaml.safe_load(
        (REPO / "plugins" / PACKAGES[package] / f"{package}.yml").read_text()
    )
    assert f".git@v{version}#subdirectory={package}" in definition["pip_url"]


def test_sandbox_declares_the_same_pythons_as_the_plugins() -> None:
    """The stand-ins run in the tests on every version the plugins claim (scripts/test-other-pythons.sh)."""
    declared = {}
    for package in ["sandbox", *PACKAGES]:
        project = tomllib.loads((REPO / package / "pyproject.toml").read_text())["project"]
        declared[package] = (project["requires-python"], project["classifiers"])
    assert (
        len(
            {
                (requires, tuple(c for c in classifiers if "Python ::" in c))
                for requires, classifiers in declared.values()
            }
        )
        == 1
    )
