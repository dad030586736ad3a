"""enough export: the judged model, retrained and checked, as a SavedModel answering raw widget fields."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.tiny_shops import tiny_shop
from toolkit.cli import main
from toolkit.errors import DataError, ExperimentError
from toolkit.experiment.export import EXPORT_FILE, ExportedModel, export_model
from toolkit.experiment.one_shop import run_experiment_on_file
from toolkit.results import RUNS_FILE, shop_folder_name
from toolkit.shops.schema import SizeScale

ROOT = Path(__file__).resolve().parents[2]
FAST = {"epochs": 2, "min_steps": 30, "batch_size": 64}
#: model, its parameters, the experiment's seeds, the seed exported (at fraction 1/2)
CASES: dict[str, tuple[str, dict, list[int], int]] = {
    "ordinal": ("keras_ordinal", {}, [0, 1], 1),
    "mlp": ("keras_mlp", FAST, [0], 0),
    "softmax": ("keras_softmax", {**FAST, "decision": "median"}, [0], 0),
    # argmax (the default): predict() is not the median the experiment judged; export checks the latter
    "softmax_argmax": ("keras_softmax", FAST, [0], 0),
    "own": ("mymodels:build", {**FAST, "hidden": 8}, [0], 0),
}


def _experiment(folder: Path, name: str, model: str, params: dict, seeds: list[int]) -> Path:
    data = folder / f"{name}.parquet"
    tiny_shop(2000, seed=len(name), shop_id=f"shop-{name}").to_parquet(data)
    results, _ = run_experiment_on_file(
        data, folder / "results", log=None, fractions=[0.5], seeds=seeds, model=model, model_params=params, search="grid"
    )
    return results


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ExportedModel]:
    """Each case's experiment, and its model at fraction 1/2 exported under one serving folder."""
    folder = tmp_path_factory.mktemp("export")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT / "examples"))
        out = {}
        for name, (model, params, seeds, seed) in CASES.items():
            results = _experiment(folder, name, model, params, seeds)
            out[name] = export_model(results, folder / "serving", fraction=0.5, seed=seed, log=None)
    return out


def _shoppers(n: int = 1000) -> pd.DataFrame:
    """Shoppers as the widget sends them: some skip their age (or more), some buy a category the shop
    never sold, some say no gender or fit preference. Numbers are float32, as the signature takes them."""
    rng = np.random.default_rng(99)
    frame = tiny_shop(n, seed=99, shop_id="widget").drop(columns=["size", "outcome"]).reset_index(drop=True)
    for column in ("height_cm", "weight_kg", "age"):
        frame[column] = frame[column].astype(np.float32).astype(np.float64)
    frame.loc[rng.random(n) < 0.1, "age"] = np.nan
    frame.loc[rng.random(n) < 0.02, "height_cm"] = np.nan
    frame.loc[rng.random(n) < 0.05, "category"] = "swimwear"
    frame.loc[rng.random(n) < 0.05, "gender"] = "unknown"
    frame["fit_preference"] = frame["fit_preference"].astype(object)
    frame.loc[rng.random(n) < 0.1, "fit_preference"] = None
    return frame


ANSWER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import tensorflow as tf

    folders, fields_file, answers_file = sys.argv[1].split(","), sys.argv[2], sys.argv[3]
    fields = dict(np.load(fields_file))
    answers = {}
    for i, folder in enumerate(folders):
        signature = tf.saved_model.load(folder).signatures["serving_default"]
        wanted = signature.structured_input_signature[1]
        out = signature(**{name: tf.constant(fields[name]) for name in wanted})
        for key, value in out.items():
            answers[f"{i}/{key}"] = value.numpy().astype(str) if value.dtype == tf.string else value.numpy()
    np.savez(answers_file, **answers)
    """
)


def test_the_saved_model_answers_raw_fields_as_the_toolkit_does_in_a_fresh_process(
    exported: dict[str, ExportedModel], tmp_path: Path
) -> None:
    shoppers = _shoppers()
    fields = {name: shoppers[name].to_numpy(np.float32) for name in ("height_cm", "weight_kg", "age")}
    fields.update({name: np.asarray(shoppers[name].astype(object).fillna(""), dtype=str)
                   for name in ("gender", "category", "fit_preference")})
    np.savez(tmp_path / "fields.npz", **fields)
    folders = ",".join(str(e.folder) for e in exported.values())
    subprocess.run([sys.executable, "-c", ANSWER, folders, str(tmp_path / "fields.npz"), str(tmp_path / "answers.npz")],
                   check=True, capture_output=True, timeout=300)
    answers = np.load(tmp_path / "answers.npz")
    labels = np.asarray(SizeScale.letters().labels)
    for i, (name, export) in enumerate(exported.items()):
        sizes = export.model.predict(shoppers)
        np.testing.assert_array_equal(answers[f"{i}/size_index"], sizes, err_msg=name)
        np.testing.assert_array_equal(answers[f"{i}/size"], labels[sizes], err_msg=name)
        np.testing.assert_allclose(answers[f"{i}/probabilities"], export.model.predict_proba(shoppers), atol=2e-5, err_msg=name)
        assert export.inputs == {"height_cm": "float32", "weight_kg": "float32", "age": "float32",
                                 "gender": "string", "category": "string", "fit_preference": "string"}


def test_the_export_is_the_judged_run_in_tf_serving_layout_with_its_provenance(exported: dict[str, ExportedModel]) -> None:
    export = exported["ordinal"]
    assert export.folder == export.folder.parent / "1" and export.folder.parent.name == "shop-ordinal"
    assert (export.folder / "saved_model.pb").is_file() and (export.folder / "variables").is_dir()
    provenance = json.loads((export.folder / EXPORT_FILE).read_text())
    runs = pd.read_parquet(Path(provenance["results"]) / RUNS_FILE)
    run = runs[(runs["fraction"] == 0.5) & (runs["seed"] == 1)].iloc[0]
    assert (provenance["fraction"], provenance["seed"], provenance["train_rows"]) == (0.5, 1, run["train_rows"])
    assert provenance["check"] == {
        "what": provenance["check"]["what"], "n_reference": run["n_reference"],
        "changed_count": run["changed_count"], "changed_count_in_runs": run["changed_count"], "matches": True,
    }
    assert run["changed_count"] > 0  # a real check: the fraction's model differs from the consensus
    assert provenance["toolkit_version"] and provenance["tensorflow_version"]
    assert len(provenance["data"]["sha256"]) == 64 and provenance["data"]["path"].endswith("ordinal.parquet")
    assert provenance["sizes"] == list(SizeScale.letters().labels) and provenance["model"] == "keras_ordinal"


def test_another_export_is_the_next_version_and_leaves_nothing_half_written(exported: dict[str, ExportedModel]) -> None:
    first = exported["mlp"]
    provenance = json.loads((first.folder / EXPORT_FILE).read_text())
    again = export_model(provenance["results"], first.folder.parents[1], fraction=1.0, log=None)
    assert again.folder == first.folder.parent / "2" and again.fraction == 1.0 and again.changed_count == 0
    assert sorted(p.name for p in first.folder.parent.iterdir()) == ["1", "2"]


def _copy_results(export: ExportedModel, folder: Path) -> Path:
    """A copy of an export's results and data file, the copy's pick.json naming the copied data."""
    provenance = json.loads((export.folder / EXPORT_FILE).read_text())
    results = shutil.copytree(provenance["results"], folder / "results" / export.shop_id)
    data = Path(shutil.copy(provenance["data"]["path"], folder / "data.parquet"))
    pick = json.loads((results / "pick.json").read_text())
    pick["data"]["path"] = str(data)
    (results / "pick.json").write_text(json.dumps(pick))
    return results


def test_a_model_that_does_not_tell_the_shoppers_what_was_recorded_is_not_exported(
    exported: dict[str, ExportedModel], tmp_path: Path
) -> None:
    results = _copy_results(exported["ordinal"], tmp_path)
    runs = pd.read_parquet(results / RUNS_FILE)
    runs.loc[(runs["fraction"] == 0.5) & (runs["seed"] == 0), "changed_count"] += 1
    runs.to_parquet(results / RUNS_FILE)
    with pytest.raises(ExperimentError, match=r"tells \d+ of \d+ reference shoppers .* it is not the model the experiment judged"):
        export_model(results, tmp_path / "serving", fraction=0.5, log=None)
    assert not (tmp_path / "serving").exists()  # checked before anything is written


def test_a_changed_data_file_is_refused(exported: dict[str, ExportedModel], tmp_path: Path) -> None:
    results = _copy_results(exported["ordinal"], tmp_path)
    tiny_shop(2000, seed=123, shop_id="shop-ordinal").to_parquet(tmp_path / "data.parquet")
    with pytest.raises(DataError, match=r"data.parquet: changed since the experiment \(SHA-256"):
        export_model(results, tmp_path / "serving", log=None)


# -- the command --------------------------------------------------------------------------------
def test_enough_export_prints_what_it_wrote(exported: dict[str, ExportedModel], tmp_path: Path, capsys) -> None:
    results = json.loads((exported["ordinal"].folder / EXPORT_FILE).read_text())["results"]
    assert main(["export", results, "--fraction", "1/2", "--seed", "0", "--out", str(tmp_path / "serving")]) == 0
    out = capsys.readouterr().out
    assert "exported shop-ordinal version 1: fraction 0.5, seed 0" in out
    assert "reference shoppers told another size" in out and "fit_preference (string)" in out
    assert main(["export", results, "--fraction", "1/8", "--out", str(tmp_path / "serving")]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("enough: error: ") and "no model trained at fraction 1/8" in line and "1/2 (50%): seeds [0, 1]" in line


@pytest.mark.parametrize("model", ["hgb", "mymodels:MyEstimator"])
def test_only_keras_models_can_be_exported(model: str, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "examples"))
    params = {"max_iter": 5} if model == "hgb" else {}
    results = _experiment(tmp_path, "other", model, params, [0])
    assert main(["export", str(results), "--out", str(tmp_path / "serving")]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == (f"enough: error: model {model!r}: enough export can only export Keras models (keras_ordinal, "
                    "keras_mlp, keras_softmax, or a build function of your own); this one is not")
    assert not (tmp_path / "serving").exists()


def test_a_hostile_shop_id_is_exported_inside_out(tmp_path: Path) -> None:
    data = tmp_path / "hostile.parquet"
    tiny_shop(2000, seed=5, shop_id="../../escape").to_parquet(data)
    results, _ = run_experiment_on_file(
        data, tmp_path / "results", log=None, fractions=[0.5], seeds=[0], model="keras_ordinal", search="grid"
    )
    out = tmp_path / "serve" / "a" / "b"
    export = export_model(results, out, fraction=0.5, log=None)
    assert export.folder == out / shop_folder_name("../../escape") / "1"
    assert export.folder.resolve().is_relative_to(out.resolve())
    assert sorted(p.name for p in (tmp_path / "serve").iterdir()) == ["a"]
