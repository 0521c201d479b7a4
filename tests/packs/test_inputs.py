"""What a pack is built from, and what identifies it."""

from __future__ import annotations

from pathlib import Path

from conveyor.packs.inputs import (
    ModelEnvironment,
    PackInputs,
    conveyor_source,
    flavor_imports,
    project_code,
    read_requirements,
)
from conveyor.packs.lock import PackLock


def test_requirements_lines_without_comments_or_options() -> None:
    text = "# pinned\nmlflow==3.1\n\n-r other.txt\nscikit-learn==1.5  # the model\n--index-url x\n"
    assert read_requirements(text) == ("mlflow==3.1", "scikit-learn==1.5")


def test_the_flavor_and_its_loader_are_imported() -> None:
    flavors = {"python_function": {"loader_module": "mlflow.sklearn"}, "sklearn": {}}
    assert flavor_imports(flavors) == ("sklearn", "mlflow.sklearn")


def test_project_code_is_its_python_files_not_data_state_or_venvs(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("def train(): ...\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "features.py").write_text("X = 1\n")
    for skipped in (".conveyor", "data", "venv"):
        (tmp_path / skipped).mkdir()
        (tmp_path / skipped / "x.py").write_text("")
    (tmp_path / "venv" / "pyvenv.cfg").write_text("")
    code = project_code(tmp_path)
    assert code.files == ("lib/features.py", "train.py")
    before = code.digest
    (tmp_path / "lib" / "features.py").write_text("X = 2\n")
    assert project_code(tmp_path).digest != before


def test_conveyor_comes_from_its_source_tree_here() -> None:
    source = conveyor_source()
    assert source.root is not None and (source.root / "pyproject.toml").is_file()
    assert len(source.digest) == 64


def test_equal_inputs_have_one_digest_and_the_key_covers_lock_python_and_platform(tmp_path: Path) -> None:
    def inputs(python: str) -> PackInputs:
        return PackInputs(ModelEnvironment(("a==1",), ("sklearn",)), conveyor_source(),
                          project_code(tmp_path), python, "linux-x86_64")

    assert inputs("3.11").digest == inputs("3.11").digest != inputs("3.12").digest
    lock = PackLock("a==1\n", "a==1\n", "3.11", "linux-x86_64")
    assert lock.key == PackLock("a==1\n", "other path\n", "3.11", "linux-x86_64").key
    assert len({lock.key, PackLock("a==2\n", "", "3.11", "linux-x86_64").key,
                PackLock("a==1\n", "", "3.12", "linux-x86_64").key,
                PackLock("a==1\n", "", "3.11", "macosx-arm64").key}) == 4
