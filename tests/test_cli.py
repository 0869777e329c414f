"""The command line through subprocess: fit, predict, evaluate, bench, and bad input."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, make_texts


def skgloss(*args, cwd=REPO, timeout=300):
    return subprocess.run([sys.executable, "-m", "skgloss", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A CSV with custom column names and some unlabeled rows, a JSONL test file and a .txt file."""
    d = tmp_path_factory.mktemp("cli")
    X, y = make_texts(30, seed=0)
    with open(d / "train.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["body", "topic"])
        for i, (t, label) in enumerate(zip(X, y)):
            w.writerow([t, "" if i % 4 == 0 else label])  # every 4th row unlabeled
    Xt, yt = make_texts(10, seed=1)
    with open(d / "test.jsonl", "w") as f:
        for t, label in zip(Xt, yt):
            f.write(json.dumps({"text": t, "label": label}) + "\n")
    (d / "new.txt").write_text("\n".join(Xt[:7]) + "\n")
    (d / "empty.csv").write_text("")
    return d


@pytest.fixture(scope="module")
def fitted(files, tiny_bert):
    out = skgloss("fit", str(files / "train.csv"), "--text-column", "body", "--label-column", "topic",
                  "--model", tiny_bert, "--max-epochs", "2", "--max-length", "16", "--lam", "0.7",
                  "--n-neighbors", "5", "--random-state", "0", "--validation-fraction", "0.25",
                  "--output", str(files / "model"), "--plots")
    return out, files / "model"


def test_fit_writes_a_model_folder_and_plots(fitted):
    out, model = fitted
    assert out.returncode == 0, out.stderr
    assert "60 texts (45 labeled, 15 unlabeled)" in out.stdout
    config = json.loads((model / "skgloss.json").read_text())
    params = config["params"]
    assert params["lam"] == 0.7 and params["n_neighbors"] == 5 and params["max_length"] == 16
    assert (model / "encoder" / "config.json").is_file()
    for name in ("training_curves.png", "embeddings_pca.png", "label_confidence.png"):
        png = (model / "plots" / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert "[skgloss] epoch 1:" in out.stderr  # progress goes through the logger


def test_predict_writes_labels_and_probabilities(fitted, files):
    _, model = fitted
    out = skgloss("predict", str(model), str(files / "new.txt"), "-o", str(files / "pred.csv"), "--quiet")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(open(files / "pred.csv")))
    assert len(rows) == 7 and list(rows[0]) == ["text", "label", "proba_fruit", "proba_vehicle"]
    for r in rows:
        p = np.array([float(r["proba_fruit"]), float(r["proba_vehicle"])])
        assert abs(p.sum() - 1) < 1e-4 and r["label"] == ["fruit", "vehicle"][p.argmax()]
    out = skgloss("predict", str(model), str(files / "test.jsonl"), "-o", str(files / "pred.jsonl"), "--quiet")
    assert out.returncode == 1  # the model was fitted on column 'body', which this file does not have
    assert "no key 'body'" in out.stderr and "the text column the model was fitted on; give --text-column" \
        in out.stderr
    out = skgloss("predict", str(model), str(files / "test.jsonl"), "-o", str(files / "pred.jsonl"), "--quiet",
                  "--text-column", "text")
    assert out.returncode == 0, out.stderr
    recs = [json.loads(line) for line in open(files / "pred.jsonl")]
    # the input's own 'label' stays; the prediction's fields are prefixed
    assert len(recs) == 20 and set(recs[0]["predicted_proba"]) == {"fruit", "vehicle"}
    assert recs[0]["predicted_label"] in ("fruit", "vehicle") and set(recs[0]) == {
        "text", "label", "predicted_label", "predicted_proba"}
    assert "'predicted_label' and the probabilities" in out.stdout


def test_evaluate_reports_metrics_consistent_with_predictions(fitted, files):
    _, model = fitted
    out = skgloss("evaluate", str(model), str(files / "test.jsonl"), "-o", str(files / "report.json"), "--quiet",
                  "--text-column", "text", "--label-column", "label")
    assert out.returncode == 0, out.stderr
    report = json.loads((files / "report.json").read_text())
    cm = np.array(report["confusion_matrix"])
    assert cm.sum() == 20 == report["n"] and report["labels"] == ["fruit", "vehicle"]
    assert report["accuracy"] == pytest.approx(np.trace(cm) / 20)
    assert f"accuracy: {report['accuracy']:.4f}" in out.stdout and "confusion matrix" in out.stdout
    assert "precision" in out.stdout and "fruit" in report["per_class"]


@pytest.mark.parametrize("args, message", [
    (["fit", "{d}/missing.csv", "-o", "{d}/m"], "missing.csv: no such file"),
    (["fit", "{d}/train.csv", "-o", "{d}/m"], "no column 'text'; its columns are ['body', 'topic']"),
    (["fit", "{d}/empty.csv", "-o", "{d}/m"], "empty.csv is empty"),
    (["fit", "{d}/new.txt", "-o", "{d}/m"], "a .txt file has no label column"),
    (["evaluate", "{d}/nomodel", "{d}/test.jsonl"], "nomodel: no such model folder"),
])
def test_bad_input_is_a_clear_error(files, args, message):
    out = skgloss(*[a.format(d=files) for a in args], "--quiet")
    assert out.returncode == 1
    assert message in out.stderr and "Traceback" not in out.stderr


def test_invalid_parameter_value_names_the_parameter(files, tiny_bert):
    out = skgloss("fit", str(files / "train.csv"), "--text-column", "body", "--label-column", "topic",
                  "--model", tiny_bert, "--lam", "7", "-o", str(files / "m"), "--quiet")
    assert out.returncode == 1 and "lam" in out.stderr and "Traceback" not in out.stderr
    assert not (files / "m").exists()


def test_unknown_parameter_is_a_usage_error(files):
    out = skgloss("fit", str(files / "train.csv"), "-o", str(files / "m"), "--no-such-param", "3")
    assert out.returncode == 2 and "unrecognized arguments: --no-such-param" in out.stderr
    assert "usage: skgloss fit" in out.stderr  # the sub-command's usage, with its options
    out = skgloss("predict", "m", "x.csv", "-o", "p.csv", "--batch-size", "0")
    assert out.returncode == 2 and "--batch-size: expected a whole number >= 1, got '0'" in out.stderr


def test_the_model_folder_remembers_its_columns_and_predict_keeps_the_input_columns(fitted, files):
    _, model = fitted
    assert json.loads((model / "skgloss.json").read_text())["data"] == {"text_column": "body",
                                                                       "label_column": "topic"}
    # a spreadsheet's export: byte-order mark, ';' between fields, an id column
    X, _ = make_texts(5, seed=2)
    lines = ["id;body;note"] + [f"{i};{t};n{i}" for i, t in enumerate(X)]
    (files / "excel.csv").write_bytes(("\ufeff" + "\n".join(lines) + "\n").encode("utf-8"))
    out = skgloss("predict", str(model), str(files / "excel.csv"), "-o", str(files / "ids.csv"), "--quiet",
                  "--device", "cpu")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(open(files / "ids.csv")))
    assert [r["id"] for r in rows] == [str(i) for i in range(len(X))] and rows[2]["note"] == "n2"
    assert list(rows[0]) == ["id", "body", "note", "label", "proba_fruit", "proba_vehicle"]
    # the batch size changes how the texts are grouped, not the predictions
    out = skgloss("predict", str(model), str(files / "excel.csv"), "-o", str(files / "ids3.csv"), "--quiet",
                  "--batch-size", "2")
    assert out.returncode == 0, out.stderr
    again = list(csv.DictReader(open(files / "ids3.csv")))
    for a, b in zip(rows, again):
        assert a["label"] == b["label"] and abs(float(a["proba_fruit"]) - float(b["proba_fruit"])) < 1e-5
    # evaluate on the training file: the remembered text and label columns, no options
    out = skgloss("evaluate", str(model), str(files / "train.csv"), "--quiet")
    assert out.returncode == 0, out.stderr
    assert "45 labeled texts (15 unlabeled skipped)" in out.stdout


def test_help_imports_neither_torch_nor_transformers():
    code = ("import sys\nfrom skgloss.cli import main\n"
            "for argv in (['--help'], ['fit', '--help'], ['predict', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "import skgloss\n"
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
            "skgloss.GLossTextClassifier\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-2:] == ["[]", "True"]  # nothing heavy until the estimator is used


def test_the_options_are_the_estimator_parameters_with_their_defaults():
    from skgloss._params import estimator_parameters
    from skgloss.classifier import GLossTextClassifier

    params = {p.name: p for p in estimator_parameters()}
    assert {k: p.default for k, p in params.items()} == GLossTextClassifier().get_params()
    assert all(p.doc for p in params.values())  # every parameter is documented
    assert params["lam"].metavar == "FLOAT" and params["max_epochs"].metavar == "INT"
    assert params["inference"].metavar == "{auto,head,graph,blend}"
    assert params["long_text"].metavar == "{truncate,chunk}"


def test_every_command_has_help(capsys):
    from skgloss.cli import main

    for command in ("demo", "fit", "predict", "evaluate", "bench"):
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0 and f"usage: skgloss {command}" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    fit_help = capsys.readouterr().out
    for option in ("--lam", "--n-neighbors", "--class-weight", "--pseudo-label-threshold", "--text-column"):
        assert option in fit_help
    assert "default=0.8" in fit_help  # the parameter's documented type and default


def test_bench_runs_the_harness(tiny_bert, tmp_path):
    import gzip

    home = tmp_path / "data" / "mr"
    home.mkdir(parents=True)
    for split, seed in (("train", 0), ("test", 1)):
        X, y = make_texts(12, seed=seed)
        with gzip.open(home / f"{split}.jsonl.gz", "wt") as f:
            f.writelines(json.dumps({"text": t, "label": label}) + "\n" for t, label in zip(X, y))
    out = skgloss("bench", "--datasets", "mr", "--variants", "ce", "--seeds", "0", "--model", tiny_bert,
                  "--n-train", "20", "--n-test", "8", "--max-epochs", "1", "--data-home", str(tmp_path / "data"),
                  "--runs-dir", str(tmp_path / "runs"), "--no-verify", "--quiet")
    assert out.returncode == 0, out.stderr
    rec = json.loads((tmp_path / "runs" / "cpu" / "mr__ce__seed0.json").read_text())
    assert rec["n_train"] == 20 and rec["n_test"] == 8 and rec["params"]["loss"] == "ce"


def test_fit_checks_its_output_before_it_trains(files, tiny_bert):
    (files / "taken").write_text("keep me")
    out = skgloss("fit", str(files / "train.csv"), "--text-column", "body", "--label-column", "topic",
                  "--model", tiny_bert, "-o", str(files / "taken"))
    assert out.returncode == 1 and "taken is a file" in out.stderr and "Traceback" not in out.stderr
    assert "texts (" not in out.stdout and "epoch" not in out.stderr  # it never started training
    assert (files / "taken").read_text() == "keep me"


@pytest.mark.parametrize("args, message", [
    (["--device", "cuda:99"], "device='cuda:99'"),  # no machine has 100 GPUs, so this fails everywhere
    (["--lam", "7"], "lam == 7"),
])
def test_fit_checks_parameters_and_device_before_it_loads_the_model(files, tiny_bert, args, message):
    out = skgloss("fit", str(files / "train.csv"), "--text-column", "body", "--label-column", "topic",
                  "--model", tiny_bert, "-o", str(files / "never"), *args)
    assert out.returncode == 1 and message in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "texts (" not in out.stdout and not (files / "never").exists()


def test_list_labels_are_refused_before_training(files, tiny_bert):
    (files / "lists.jsonl").write_text('{"text": "apple", "label": "a"}\n{"text": "car", "label": ["b"]}\n')
    out = skgloss("fit", str(files / "lists.jsonl"), "--model", tiny_bert, "-o", str(files / "never"))
    assert out.returncode == 1 and "line 2: the label is a list" in out.stderr
    assert not (files / "never").exists()


def test_predict_checks_its_output_before_it_predicts(files):
    (files / "a_folder").mkdir(exist_ok=True)
    out = skgloss("predict", str(files / "no_model_yet"), str(files / "new.txt"), "-o", str(files / "a_folder"))
    assert out.returncode == 1 and "a_folder is a folder" in out.stderr  # checked before the model is looked at
    out = skgloss("predict", str(files / "no_model_yet"), str(files / "new.txt"), "-o", str(files / "p.parquet"))
    assert out.returncode == 1 and "predictions are written as .csv, .tsv or .jsonl" in out.stderr


def test_debug_shows_the_traceback(files):
    (files / "taken2").write_text("x")
    out = skgloss("fit", str(files / "train.csv"), "-o", str(files / "taken2"), "--debug")
    assert out.returncode == 1 and "Traceback" in out.stderr and "is a file" in out.stderr


def _ctrl_c_able():
    """Give the child the default SIGINT disposition, as a terminal would.

    A test runner started in the background by a non-interactive shell ignores
    SIGINT, and its children inherit that: Python then installs no Ctrl-C
    handler at all, and the signal these tests send would be lost.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_exits_130_with_one_line(files, tiny_bert):
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "skgloss", "fit", str(files / "train.csv"), "--text-column",
                             "body", "--label-column", "topic", "--model", tiny_bert, "--max-length", "16",
                             "--max-epochs", "500", "-o", str(files / "interrupted"), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            preexec_fn=_ctrl_c_able)
    line = proc.stdout.readline()  # printed once every check has passed, just before training
    assert "skgloss fit: 60 texts" in line
    time.sleep(1.0)
    err = ""
    # Ctrl-C until the process ends, as a user would press it again: a SIGINT that lands while numba compiles
    # (pynndescent's first use) is raised inside a ctypes callback of llvmlite, which prints it and goes on (one
    # CI run under load then fitted to the end and exited 0); what is asserted is how the interrupt ends the run.
    # Pressed again only after 10 s, as a user would: a SIGINT that arrives once Python has handed SIGINT back to
    # the system on its way out (late in interpreter shutdown) ends the process by the signal instead
    for _ in range(12):
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=10)
            break
        except subprocess.TimeoutExpired:
            continue
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == "skgloss fit: interrupted" and "Traceback" not in err
    assert not (files / "interrupted").exists()


def test_ctrl_c_inside_an_exec_of_source_text_still_exits_130(tmp_path):
    """A Ctrl-C that lands in ``exec`` of source text (``dataclasses`` runs one per dataclass, and a fit imports
    torch and transformers after it has started) once made CPython end a ``python -m`` process by SIGINT after
    the command had printed its line: one CI run got -2 instead of 130."""
    (tmp_path / "interrupted_in_exec.py").write_text(
        "import os, signal, sys\n"
        "import skgloss.cli as cli\n"
        "def fit(args):\n"
        "    source = 'os.kill(os.getpid(), signal.SIGINT)\\nfor _ in range(10 ** 8): pass'\n"
        "    exec(source, {'os': os, 'signal': signal})\n"
        "cli._fit = fit\n"
        "status = cli.main(['fit', 'train.csv', '-o', 'out', '--quiet'])\n"
        "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)\n"
        "sys.exit(status)\n")
    out = subprocess.run([sys.executable, "-m", "interrupted_in_exec"], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path, preexec_fn=_ctrl_c_able)
    assert out.returncode == 130, out.stderr
    assert out.stderr.strip().splitlines() == ["skgloss fit: interrupted"]
    assert out.stdout.strip() == "True"  # Python's own handler is back once main() returns


def test_ctrl_c_with_a_checkpoint_then_resume_gives_the_uninterrupted_model(files, tiny_bert):
    import signal
    import time

    common = [str(files / "train.csv"), "--text-column", "body", "--label-column", "topic", "--model", tiny_bert,
              "--max-length", "16", "--max-epochs", "8", "--device", "cpu", "--random-state", "0", "--quiet",
              "--validation-fraction", "0"]
    ckpt = files / "ckpt"
    proc = subprocess.Popen([sys.executable, "-m", "skgloss", "fit", *common, "-o", str(files / "resumed"),
                             "--checkpoint-dir", str(ckpt)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            preexec_fn=_ctrl_c_able)
    deadline = time.monotonic() + 120
    while not (ckpt / "training_state.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.01)  # then Ctrl-C at once: 7 epochs, each saving a model folder, are still to come
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "run the same command with --resume" in err and "Traceback" not in err
    out = skgloss("fit", *common, "-o", str(files / "resumed"), "--checkpoint-dir", str(ckpt))
    assert out.returncode == 1 and "pass resume=True" in out.stderr  # never overwrites the checkpoint
    assert skgloss("fit", *common, "-o", str(files / "resumed"), "--checkpoint-dir", str(ckpt),
                   "--resume").returncode == 0
    assert skgloss("fit", *common, "-o", str(files / "whole")).returncode == 0
    for name in ("resumed", "whole"):
        assert skgloss("predict", str(files / name), str(files / "new.txt"), "-o",
                       str(files / f"{name}.csv")).returncode == 0
    assert (files / "resumed.csv").read_text() == (files / "whole.csv").read_text()


def test_plots_of_a_fit_that_chose_no_epoch_skip_the_curves(tiny_bert, tmp_path, capsys):
    """Cross-validation may keep the pre-trained encoder (0 epochs): the other plots are still written."""
    from skgloss import GLossTextClassifier
    from skgloss.cli import _write_plots

    X, y = make_texts(8)
    y_part = np.array(y, dtype=object)
    y_part[::4] = -1
    clf = GLossTextClassifier(tiny_bert, max_length=16, max_epochs=1, validation_fraction=0,
                              random_state=0).fit(X, y_part)
    clf.history_ = []  # what a fit that chose 0 epochs has
    written = _write_plots(clf, tmp_path, X, y_part)
    assert sorted(p.name for p in written) == ["embeddings_pca.png", "label_confidence.png"]
    assert "no training curves" in capsys.readouterr().out


def test_a_multilabel_model_predicts_label_lists_and_evaluate_refuses_it(files, tiny_bert, tmp_path):
    from skgloss import GLossTextClassifier

    X, y = make_texts(8)
    sets = [[label] if i % 2 else [label, "x"] for i, label in enumerate(y)]
    clf = GLossTextClassifier(tiny_bert, max_length=16, batch_size=8, max_epochs=1, validation_fraction=0,
                              random_state=0).fit(X, sets)
    clf.save_pretrained(tmp_path / "ml")
    out = skgloss("predict", str(tmp_path / "ml"), str(files / "new.txt"), "-o", str(tmp_path / "p.jsonl"), "--quiet")
    assert out.returncode == 0, out.stderr
    recs = [json.loads(line) for line in open(tmp_path / "p.jsonl")]
    expected = clf.predict((files / "new.txt").read_text().splitlines())
    assert len(recs) == 7 and [sorted(r["label"]) for r in recs] == [sorted(clf.classes_[row == 1].tolist())
                                                                    for row in expected]
    out = skgloss("evaluate", str(tmp_path / "ml"), str(files / "test.jsonl"), "--quiet")
    assert out.returncode == 1 and "is a multi-label model" in out.stderr and "accuracy" not in out.stdout


def test_evaluate_checks_its_report_path_before_it_evaluates(files):
    (files / "a_file").write_text("x")
    out = skgloss("evaluate", str(files / "no_model_yet"), str(files / "test.jsonl"), "-o",
                  str(files / "a_file" / "report.json"))
    assert out.returncode == 1 and "a_file is a file, not a folder" in out.stderr  # before the model is looked at


def test_fit_options_a_user_can_mistype(files, tiny_bert, tmp_path):
    """A model folder named like a number is a path; --class-weight's JSON keys name integer labels; a bad
    --verbose and --epochs are clear errors."""
    import shutil

    shutil.copytree(tiny_bert, tmp_path / "2024")
    X, y = make_texts(6)
    with open(tmp_path / "ints.jsonl", "w") as f:
        f.writelines(json.dumps({"text": t, "label": int(label == "fruit")}) + "\n" for t, label in zip(X, y))
    out = skgloss("fit", str(tmp_path / "ints.jsonl"), "--model", "2024", "--max-length", "16", "--max-epochs", "1",
                  "--validation-fraction", "0", "--class-weight", '{"0": 2.5}', "-o", str(tmp_path / "m"), "--quiet",
                  cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    params = json.loads((tmp_path / "m" / "skgloss.json").read_text())["params"]
    assert params["model_name_or_path"] == "2024" and params["class_weight"] == {"__pairs__": [[0, 2.5]]}
    out = skgloss("fit", str(tmp_path / "ints.jsonl"), "--model", tiny_bert, "--verbose", "abc",
                  "-o", str(tmp_path / "never"))
    assert out.returncode == 1 and "--verbose must be a whole number" in out.stderr
    out = skgloss("demo", "--epochs", "0")
    assert out.returncode == 2 and "--epochs: expected a whole number >= 1" in out.stderr


def test_bench_without_data_fails_once_in_one_line(tmp_path):
    out = skgloss("bench", "--datasets", "mr", "r8", "--variants", "ce", "--seeds", "0", "--data-home",
                  str(tmp_path / "nothing"), "--runs-dir", str(tmp_path / "runs"), "--quiet")
    assert out.returncode == 1 and "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "mr/train.jsonl.gz not found" in out.stderr and not (tmp_path / "runs" / "cpu").exists()
    out = skgloss("bench", "--datasets", "imdb")
    assert out.returncode == 2 and "invalid choice: 'imdb'" in out.stderr


def tiny_mr_data(data_home):
    """An "mr" benchmark folder of 12 toy texts a split under ``data_home``."""
    import gzip

    (data_home / "mr").mkdir(parents=True)
    for split in ("train", "test"):
        X, y = make_texts(6)
        with gzip.open(data_home / "mr" / f"{split}.jsonl.gz", "wt") as f:
            f.writelines(json.dumps({"text": t, "label": label}) + "\n" for t, label in zip(X, y))


def test_a_failing_bench_cell_says_why_in_one_line(tmp_path):
    tiny_mr_data(tmp_path / "data")
    out = skgloss("bench", "--datasets", "mr", "--variants", "ce", "--seeds", "0", "--model",
                  str(tmp_path / "no_such_encoder"), "--data-home", str(tmp_path / "data"), "--runs-dir",
                  str(tmp_path / "runs"), "--no-verify", "--quiet")
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert "cell mr/ce/seed 0: ValueError: model_name_or_path=" in out.stderr
    assert "cell mr/ce/seed 0 failed (exit 1)" in out.stderr


def test_bench_in_process_counts_a_failed_cell_and_skips_the_data_check_when_all_cells_are_done(tmp_path):
    from skgloss import bench

    tiny_mr_data(tmp_path / "data")
    common = ["--datasets", "mr", "--variants", "ce", "--seeds", "0", "--runs-dir", str(tmp_path / "runs"),
              "--no-verify", "--quiet", "--in-process"]
    assert bench.main([*common, "--model", str(tmp_path / "no_such_encoder"), "--data-home",
                       str(tmp_path / "data")]) == 1  # it returned 0
    done = tmp_path / "runs" / "cpu" / "mr__ce__seed0.json"
    done.parent.mkdir(parents=True)
    done.write_text("{}")
    assert bench.main([*common, "--data-home", str(tmp_path / "no_data")]) == 0  # nothing to run, no data needed
