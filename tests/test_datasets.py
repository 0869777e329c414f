import gzip
import importlib.util
import json
from collections import Counter

import pytest
from conftest import REPO, shared_data_dir

from skgloss.datasets import load_benchmark, load_support_tickets


def test_demo_set_shape_and_disjoint_wording():
    X, y = load_support_tickets("train")
    Xt, yt = load_support_tickets("test")
    assert len(X) == 600 and len(Xt) == 200
    assert Counter(y) == {"billing": 150, "delivery": 150, "technical": 150, "account": 150}
    assert set(X).isdisjoint(Xt)
    assert load_support_tickets("all")[0] == [t for t in load_support_tickets("all")[0]]
    with pytest.raises(ValueError, match="split"):
        load_support_tickets("valid")


def test_shipped_demo_file_is_what_the_generator_writes():
    spec = importlib.util.spec_from_file_location("make_demo_data", REPO / "scripts" / "make_demo_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.build()
    shipped = [json.loads(line) for line in
               (REPO / "skgloss" / "data" / "support_tickets.jsonl").read_text().splitlines()]
    assert rows == shipped


def test_load_benchmark_needs_a_folder(monkeypatch):
    monkeypatch.delenv("SKGLOSS_DATA", raising=False)
    with pytest.raises(ValueError, match="SKGLOSS_DATA"):
        load_benchmark("mr")
    with pytest.raises(ValueError, match="name must be one of"):
        load_benchmark("imdb", data_home="/nowhere")


def test_load_benchmark_missing_file_says_where(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"mr/train.jsonl.gz"):
        load_benchmark("mr", data_home=tmp_path)


def test_load_benchmark_checks_checksums(tmp_path):
    (tmp_path / "mr").mkdir()
    for split in ("train", "test"):
        with gzip.open(tmp_path / "mr" / f"{split}.jsonl.gz", "wt") as f:
            f.write(json.dumps({"text": "a film", "label": "1"}) + "\n")
    with pytest.raises(ValueError, match="sha256"):
        load_benchmark("mr", data_home=tmp_path)
    X, y, Xt, yt = load_benchmark("mr", data_home=tmp_path, verify=False)
    assert X == ["a film"] and y == ["1"]


@pytest.mark.skipif(not (shared_data_dir() / "mr").is_dir(), reason="benchmark data (../shared/data) not present")
def test_load_real_mr():
    X, y, Xt, yt = load_benchmark("mr", data_home=shared_data_dir())
    assert (len(X), len(Xt)) == (7108, 3554)
    assert Counter(y) == {"0": 3554, "1": 3554}
