"""The benchmark harness on tiny data: cells, resumption, tables."""

import gzip
import json
import sys

import numba
import pytest
from conftest import REPO, make_texts
from skgloss.devices import cpu_has_native_bf16, resolve_device, resolve_precision

sys.path.insert(0, str(REPO / "benchmarks"))
import harness  # noqa: E402
import render_tables  # noqa: E402


@pytest.fixture
def tiny_data_home(tmp_path):
    home = tmp_path / "data"
    (home / "mr").mkdir(parents=True)
    for split, seed in (("train", 0), ("test", 1)):
        X, y = make_texts(15, seed=seed)
        with gzip.open(home / "mr" / f"{split}.jsonl.gz", "wt", encoding="utf-8") as f:
            for t, label in zip(X, y):
                f.write(json.dumps({"text": t, "label": label}) + "\n")
    return home


def test_harness_runs_cells_once_and_renders(tiny_bert, tiny_data_home, tmp_path, caplog):
    runs = tmp_path / "runs"
    argv = ["--profile", "cpu", "--datasets", "mr", "--variants", "ce", "gloss", "--seeds", "0", "1",
            "--model", tiny_bert, "--n-train", "24", "--n-test", "10", "--max-epochs", "1",
            "--data-home", str(tiny_data_home), "--runs-dir", str(runs), "--no-verify", "--in-process"]
    assert harness.main(argv) == 0
    files = sorted((runs / "cpu").glob("*.json"))
    assert [f.name for f in files] == ["mr__ce__seed0.json", "mr__ce__seed1.json",
                                       "mr__gloss__seed0.json", "mr__gloss__seed1.json"]
    rec = json.loads(files[2].read_text())
    assert rec["n_train"] == 24 and rec["n_test"] == 10 and rec["variant"] == "gloss"
    assert 0 <= rec["test_accuracy"] <= 1 and 0 <= rec["test_macro_f1"] <= 1
    assert rec["params"]["loss"] == "gloss" and rec["params"]["random_state"] == 0 and rec["seed"] == 0
    assert rec["peak_rss_mib"] > 0 and rec["seconds_per_epoch"] > 0 and rec["machine"]["skgloss"]
    assert rec["machine"]["cpu_native_bf16"] is cpu_has_native_bf16()
    assert rec["machine"]["numba_threads"] == numba.get_num_threads()  # the corpus graph's threads, recorded
    assert rec["precision"] == resolve_precision("auto", resolve_device("auto"))  # what "auto" picks here
    caplog.clear()
    with caplog.at_level("INFO", logger="skgloss"):
        assert harness.main(argv) == 0  # resumable: nothing left to run
    assert "0 cells to run" in caplog.text

    out = tmp_path / "accuracy_cpu.md"
    render_tables.main(["--profile", "cpu", "--runs-dir", str(runs), "--out", str(out)])
    text = out.read_text()
    assert "| mr |" in text and "(n=2)" in text and "`gloss`" in text
    assert "## Paired against `ce`" in text and "| mr | `gloss` |" in text


def test_harness_precision_is_passed_and_recorded(tiny_bert, tiny_data_home, tmp_path):
    runs = tmp_path / "runs"
    argv = ["--profile", "cpu", "--datasets", "mr", "--variants", "ce", "--seeds", "0", "--precision", "fp32",
            "--model", tiny_bert, "--n-train", "24", "--n-test", "10", "--max-epochs", "1",
            "--data-home", str(tiny_data_home), "--runs-dir", str(runs), "--no-verify", "--in-process"]
    assert harness.main(argv) == 0
    rec = json.loads((runs / "cpu" / "mr__ce__seed0.json").read_text())
    assert rec["params"]["precision"] == "fp32" and rec["precision"] == "fp32"


def test_paired_verdict():
    t = {"ce": {0: {"test_accuracy": 0.80}, 1: {"test_accuracy": 0.82}, 2: {"test_accuracy": 0.81}},
         "gloss": {0: {"test_accuracy": 0.83}, 1: {"test_accuracy": 0.85}, 2: {"test_accuracy": 0.84}},
         "kl": {0: {"test_accuracy": 0.81}, 1: {"test_accuracy": 0.81}, 2: {"test_accuracy": 0.82}}}
    assert render_tables.paired(t, "gloss")["beyond_seed_spread"] is True
    assert render_tables.paired(t, "kl")["beyond_seed_spread"] is False  # mixed signs
    assert render_tables.paired({"ce": {0: {"test_accuracy": 1}}}, "kl") is None


def test_label_scarcity_runs_every_method_once(tiny_bert, tiny_data_home, tmp_path, caplog):
    import label_scarcity

    runs = tmp_path / "scarcity"
    argv = ["--datasets", "mr", "--fractions", "0.2", "0.5", "--seeds", "0", "--model", tiny_bert,
            "--n-pool", "30", "--n-test", "10", "--labeled-epochs", "1", "--pool-epochs", "1",
            "--data-home", str(tiny_data_home), "--runs-dir", str(runs), "--no-verify", "--in-process"]
    assert label_scarcity.main(argv) == 0
    names = sorted(f.name for f in runs.glob("*.json"))
    methods = ["ce-labeled", "labelspreading-frozen", "skgloss-graph", "tfidf-lr"]
    assert len(names) == 2 * len(methods)
    recs = {(r["method"], r["fraction"]): r for r in (json.loads((runs / n).read_text()) for n in names)}
    assert {m for m, _ in recs} == set(methods)
    # the labeled share is what was asked, and every method saw the same labeled rows count
    assert {recs[(m, 0.2)]["n_labeled"] for m in methods} == {6}
    assert {recs[(m, 0.5)]["n_labeled"] for m in methods} == {15}
    assert recs[("ce-labeled", 0.2)]["params"]["loss"] == "ce"
    assert recs[("skgloss-graph", 0.5)]["params"]["loss"] == "gloss"
    assert 0 <= recs[("skgloss-graph", 0.5)]["transductive_accuracy"] <= 1
    # the default inference (a blend in a fit with -1 rows) is what is scored; every inference is recorded
    graph_fit = recs[("skgloss-graph", 0.5)]
    assert graph_fit["inference_"] == "blend"
    assert set(graph_fit["test_accuracy_by_inference"]) == {"head", "graph", "blend"}
    assert graph_fit["test_accuracy"] == graph_fit["test_accuracy_by_inference"]["blend"]
    assert all(0 <= r["test_accuracy"] <= 1 for r in recs.values())
    caplog.clear()
    with caplog.at_level("INFO", logger="skgloss"):
        assert label_scarcity.main(argv) == 0  # resumable
    assert "0 fine-tuning runs to do" in caplog.text


def test_few_shot_balanced_accuracy_is_recorded_and_rendered_paired(tmp_path, monkeypatch):
    import few_shot

    rec = few_shot.class_recall(["earn", "earn", "earn", "ship"], ["earn", "earn", "ship", "ship"])
    assert rec["test_recall_by_class"] == {"earn": 2 / 3, "ship": 1.0}
    assert rec["test_balanced_accuracy"] == (2 / 3 + 1) / 2 and rec["test_class_counts"] == {"earn": 3, "ship": 1}
    monkeypatch.setattr(few_shot, "RUNS", tmp_path)
    for method, seed, acc, bal in (("lr-frozen", 0, 0.9, 0.7), ("lr-frozen", 1, 0.8, 0.6),
                                   ("skgloss", 0, 0.85, 0.8), ("skgloss", 1, 0.8, 0.75)):
        (tmp_path / f"{method}{seed}.json").write_text(json.dumps(
            {"dataset": "r8", "shots": 8, "unlabeled": 0, "method": method, "seed": seed, "test_accuracy": acc,
             "test_balanced_accuracy": bal, "test_class_counts": {"earn": 3, "ship": 1}, "fit_seconds": 1.0}))
    # a cell with a file that predates the balanced accuracy stays out of its table
    (tmp_path / "old.json").write_text(json.dumps({"dataset": "r8", "shots": 8, "unlabeled": 1000,
                                                   "method": "skgloss", "seed": 0, "test_accuracy": 0.9,
                                                   "fit_seconds": 1.0}))
    text = few_shot.render(out=tmp_path / "few_shot.md").read_text()
    accuracy, balanced = text.split("## Balanced accuracy (%)")
    assert "| r8 | 8 | 0 | `skgloss` | 82.50 ± 3.54 | 2 | -2.50 (-5.0, +0.0) | 1 |" in accuracy
    assert "| r8 | 8 | 1000 | `skgloss` | 90.00 ± 0.00 | 1 | +0.00 (+0.0) | 1 |" in accuracy
    assert "| r8 | 8 | 0 | `skgloss` | 77.50 ± 3.54 | 2 | +12.50 (+10.0, +15.0) |" in balanced
    assert "1000" not in balanced and "r8: earn 75.0 %, ship 25.0 %" in balanced


def test_label_noise_flips_the_stated_share_to_other_classes_the_same_way_for_every_variant():
    import label_noise

    y = ["a"] * 40 + ["b"] * 40 + ["c"] * 20
    noisy, flipped = label_noise.flip_labels(y, 0.3, seed=1, dataset="r8")
    assert len(flipped) == 30 and len(set(flipped.tolist())) == 30
    changed = [i for i in range(len(y)) if noisy[i] != y[i]]
    assert changed == flipped.tolist()  # every drawn row gets another class, no other row changes
    again, _ = label_noise.flip_labels(y, 0.3, seed=1, dataset="r8")
    assert again == noisy  # the same wrong labels for ce and gloss of one seed
    assert label_noise.flip_labels(y, 0.3, seed=2, dataset="r8")[0] != noisy
    assert label_noise.flip_labels(y, 0.3, seed=1, dataset="mr")[0] != noisy
    many = label_noise.flip_labels(y * 50, 0.5, seed=0, dataset="mr")[0]
    wrong = [(t, n) for t, n in zip(y * 50, many) if t != n]
    targets = {t: {n for s, n in wrong if s == t} for t in "abc"}
    assert targets == {"a": {"b", "c"}, "b": {"a", "c"}, "c": {"a", "b"}}  # drawn among all the other classes


def test_fit_cell_lets_a_study_override_its_variants_parameters(tiny_bert):
    from skgloss.bench import fit_cell

    X, y = make_texts(12)
    spec = {"model": tiny_bert, "max_length": 16, "batch_size": 8, "max_epochs": 1, "learning_rate": 1e-3,
            "seed": 0, "variant": "gloss"}
    clf, params, _ = fit_cell({**spec, "params": {"inference": "graph"}}, X, y)
    assert params["loss"] == "gloss" and params["inference"] == "graph" and clf.inference_ == "graph"
    clf, params, _ = fit_cell(spec, X, y)
    assert "inference" not in params and clf.inference_ == "head"
