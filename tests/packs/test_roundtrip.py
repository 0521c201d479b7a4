"""A real pack, once for this module: the churn example trained with its artifacts on a local
S3-compatible server (moto), `conveyor pack` (uv resolves and installs from the package index,
its cache outside the repo), the tar.gz in the stand's S3 artifact store, downloaded into a
fresh cache, and a batch job run by the pack's own Python with nothing of the development venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conveyor.core import tags
from tests.s3server import s3_server

BUCKET = "conveyor-packs"


@dataclass
class Packed:
    project: object
    path: Path
    endpoint: str
    result: object  # PackResult
    data: Path


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Packed]:
    import conveyor
    from conveyor.scaffold import init_project

    with s3_server(BUCKET) as endpoint:
        folder = init_project(tmp_path_factory.mktemp("packs") / "churn")
        config = folder / "conveyor.yaml"
        config.write_text(config.read_text().replace("  dev: {}", f"  dev: {{artifact_store: 's3://{BUCKET}/churn'}}"))
        project = conveyor.Project.load(folder, env="dev")
        project.train()
        result = project.pack("churn", 1)
        yield Packed(project, folder, endpoint, result, folder / "data" / "train.parquet")


def test_the_pack_is_in_the_stands_s3_store_and_recorded_on_the_version(packed: Packed) -> None:
    import boto3

    result = packed.result
    assert result.built and result.version == "1"  # type: ignore[attr-defined]
    uri = f"s3://{BUCKET}/churn/packs/{result.key}.tar.gz"  # type: ignore[attr-defined]
    version_tags = packed.project.client.get_model_version("churn", "1").tags  # type: ignore[attr-defined]
    assert {k: v for k, v in version_tags.items() if k.startswith(tags.PACK_PREFIX)} == {
        tags.PACK_URI: uri, tags.PACK_SHA256: result.sha256, tags.PACK_KEY: result.key,  # type: ignore[attr-defined]
    }
    body = boto3.client("s3", endpoint_url=packed.endpoint).get_object(
        Bucket=BUCKET, Key=f"churn/packs/{result.key}.tar.gz")["Body"].read()  # type: ignore[attr-defined]
    import hashlib

    assert hashlib.sha256(body).hexdigest() == result.sha256 and len(body) == result.size  # type: ignore[attr-defined]


def test_packing_an_unchanged_environment_again_reuses_it(packed: Packed, cli) -> None:
    before = _objects(packed.endpoint)
    out = cli("pack", "churn@dev", "--project", packed.path, "--env", "dev", "--json")
    assert out.exit_code == 0, out.output
    again = json.loads(out.stdout)
    assert again["built"] is False and again["key"] == packed.result.key  # type: ignore[attr-defined]
    assert _objects(packed.endpoint) == before  # nothing new stored


def test_a_batch_job_runs_inside_the_pack_on_a_fresh_worker(packed: Packed, tmp_path: Path) -> None:
    uri = packed.result.uri  # type: ignore[attr-defined]
    spec = tmp_path / "score.json"
    output = tmp_path / "scores"
    spec.write_text(json.dumps({"kind": "score", "model": "churn@dev", "project": str(packed.path),
                                "env": "dev", "input": str(packed.data), "output": str(output)}))
    cache = tmp_path / "fresh-cache"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    environment = {**os.environ, "CONVEYOR_PACK_CACHE": str(cache)}
    done = subprocess.run([sys.executable, "-m", "conveyor", "job", "run", str(spec), "--env-pack", uri],
                          capture_output=True, text=True, cwd=elsewhere, env=environment, check=False)
    assert done.returncode == 0, done.stderr
    line = json.loads(done.stdout.strip().splitlines()[-1])
    assert line["ok"] and line["result"]["rows_out"] == 5000
    assert (output / "_manifest.json").is_file()
    folder = cache / packed.result.sha256  # type: ignore[attr-defined]
    assert "running in pack" in done.stderr and str(folder) in done.stderr
    # the pack's Python, run as the job was (clean environment, another folder), sees only itself
    from conveyor.packs import clean_environment, pack_python

    probe = subprocess.run(
        [str(pack_python(folder)), "-c", "import sys, conveyor, sklearn; print(json.dumps([sys.prefix, conveyor.__file__, sys.path]))".replace("json.dumps", "__import__('json').dumps")],
        capture_output=True, text=True, cwd=elsewhere, env=clean_environment(), check=True)
    prefix, conveyor_file, path = json.loads(probe.stdout)
    assert prefix == str(folder)
    assert conveyor_file.startswith(str(folder))  # the wheel, installed in the pack
    assert not [p for p in path if p.startswith(sys.prefix)]  # nothing of the development venv
    # the big packages' own test suites were left out (and the job above ran without them)
    pruned = json.loads((folder / "conveyor-pack.json").read_text())["pruned"]
    assert any(entry.endswith("site-packages/pandas/tests") for entry in pruned)
    assert not [p for p in pruned if (folder / p).exists()]


def test_a_promotion_to_another_stand_copies_the_pack_and_a_job_runs_from_the_copy(
    packed: Packed, tmp_path: Path
) -> None:
    """The real pack crosses stands with its version (S3 → the target stand's own folder),
    its bytes checked, and a job on the target stand runs inside the copy."""
    import hashlib
    import shutil

    import conveyor

    folder = tmp_path / "churn"
    shutil.copytree(packed.path, folder, symlinks=True)  # the same dev stand's registry, a new stage on sim
    config = folder / "conveyor.yaml"
    sim_store = tmp_path / "sim-store"
    text = config.read_text()
    assert "stages: [dev, staging, prod]\n" in text and "environments:\n" in text
    config.write_text(text.replace("stages: [dev, staging, prod]\n",
                                   "stages:\n  - dev\n  - {name: staging, env: sim}\n  - prod\n")
                      .replace("environments:\n", f"environments:\n  sim:\n    tracking_uri: sqlite:///{tmp_path}/sim.db\n"
                                                  f"    artifact_store: {sim_store}\n", 1))
    moved = conveyor.Project.load(folder, env="dev").promote("staging")
    target = conveyor.Project.load(folder, env="sim")
    copied = target.client.get_model_version("churn", str(moved.to_version)).tags
    uri = copied[tags.PACK_URI]
    assert copied[tags.PACK_SHA256] == packed.result.sha256  # type: ignore[attr-defined]
    key = packed.result.key  # type: ignore[attr-defined]
    tarball = sim_store / "packs" / f"{key}.tar.gz"
    assert Path(uri.removeprefix("file://")) == tarball and (sim_store / "packs" / f"{key}.json").is_file()
    assert hashlib.sha256(tarball.read_bytes()).hexdigest() == packed.result.sha256  # type: ignore[attr-defined]

    spec = tmp_path / "score.json"
    output = tmp_path / "scores"
    spec.write_text(json.dumps({"kind": "score", "model": "churn@staging", "project": str(folder),
                                "env": "sim", "input": str(packed.data), "output": str(output)}))
    environment = {**os.environ, "CONVEYOR_PACK_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "conveyor", "job", "run", str(spec), "--env-pack", uri],
                          capture_output=True, text=True, cwd=tmp_path, env=environment, check=False)
    assert done.returncode == 0, done.stderr
    assert "running in pack" in done.stderr
    line = json.loads(done.stdout.strip().splitlines()[-1])
    assert line["ok"] and line["result"]["rows_out"] == 5000


def test_a_pack_whose_object_was_replaced_is_refused(packed: Packed, cli, tmp_path: Path, monkeypatch) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=packed.endpoint)
    key = packed.result.key  # type: ignore[attr-defined]
    s3.copy_object(Bucket=BUCKET, Key="churn/tampered/x.json", CopySource={"Bucket": BUCKET, "Key": f"churn/packs/{key}.json"})
    s3.put_object(Bucket=BUCKET, Key="churn/tampered/x.tar.gz", Body=b"not the pack")
    monkeypatch.setenv("CONVEYOR_PACK_CACHE", str(tmp_path / "cache"))
    output = tmp_path / "scores"
    spec = tmp_path / "score.json"
    spec.write_text(json.dumps({"kind": "score", "model": "churn@dev", "project": str(packed.path),
                                "env": "dev", "input": str(packed.data), "output": str(output)}))
    out = cli("job", "run", spec, "--env-pack", f"s3://{BUCKET}/churn/tampered/x.tar.gz")
    assert out.exit_code == 1
    assert "refusing to run it" in out.stderr and out.stderr.count("error:") == 1
    assert json.loads(out.stdout)["ok"] is False
    assert not output.exists() and list((tmp_path / "cache").iterdir()) == []


def test_env_pack_naming_a_missing_object_fails_in_one_line(packed: Packed, cli, tmp_path: Path) -> None:
    spec = tmp_path / "score.json"
    spec.write_text(json.dumps({"kind": "score", "model": "churn@dev", "project": str(packed.path),
                                "input": str(packed.data), "output": str(tmp_path / "out")}))
    out = cli("job", "run", spec, "--env-pack", f"s3://{BUCKET}/churn/packs/{'0' * 64}.tar.gz")
    assert out.exit_code == 1
    assert "no pack at" in out.stderr and not (tmp_path / "out").exists()


def test_packing_an_unknown_version_fails_and_tags_nothing(packed: Packed, cli) -> None:
    before = _objects(packed.endpoint)
    out = cli("pack", "churn", "--version", "99", "--project", packed.path, "--env", "dev")
    assert out.exit_code == 8  # NOT_FOUND
    assert "has no version 99" in out.stderr
    assert _objects(packed.endpoint) == before


def _objects(endpoint: str) -> list[str]:
    import boto3

    listing = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=BUCKET, Prefix="churn/packs/")
    return sorted(o["Key"] for o in listing.get("Contents", []))
