"""skgloss.files: texts and labels from CSV / TSV / JSONL / text files; predictions out."""

import csv
import gzip
import json

import numpy as np
import pytest

from skgloss.files import iter_records, read_texts, write_predictions


def test_csv_with_named_columns_and_unlabeled_rows(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text('body,topic\n"hello, world",greet\nbye,\nmaybe,-1\n')
    texts, labels = read_texts(p, text_column="body", label_column="topic")
    assert texts == ["hello, world", "bye", "maybe"]
    assert labels.tolist() == ["greet", -1, -1]


def test_tsv_jsonl_gz_and_txt(tmp_path):
    (tmp_path / "a.tsv").write_text("text\tlabel\nx y\t1\n")
    assert read_texts(tmp_path / "a.tsv", label_column="label")[1].tolist() == ["1"]
    with gzip.open(tmp_path / "a.jsonl.gz", "wt") as f:
        f.write(json.dumps({"text": "a", "label": 3}) + "\n\n" + json.dumps({"text": "b", "label": None}) + "\n")
    texts, labels = read_texts(tmp_path / "a.jsonl.gz", label_column="label")
    assert texts == ["a", "b"] and labels.tolist() == [3, -1]
    (tmp_path / "a.txt").write_text("one\ntwo\n\n")
    (tmp_path / "labels.txt").write_text("x\n\n")
    assert read_texts(tmp_path / "a.txt") == (["one", "two"], None)
    assert read_texts(tmp_path / "a.txt", label_column="label", labels_path=tmp_path / "labels.txt")[1].tolist() \
        == ["x", -1]


@pytest.mark.parametrize("name, content, kwargs, message", [
    ("a.csv", "", {}, "is empty"),
    ("a.csv", "text\n", {}, "is empty"),
    ("a.csv", "body\nx\n", {}, "no column 'text'; its columns are ['body']"),
    ("a.csv", "text\nx\n", {"label_column": "label"}, "no column 'label'"),
    ("a.jsonl", '{"text": "x"}\n', {"label_column": "y"}, "line 1: no key 'y'"),
    ("a.jsonl", '{"text": 3}\n', {}, "line 1: the text is int 3, not a string"),
    ("a.jsonl", '{"text": "ok"}\n{"text": "x\\ud800y"}\n', {}, "line 2: the text is not valid Unicode"),
    ("a.jsonl", '{"text": "x", "label": ["a", "b"]}\n', {"label_column": "label"},
     "line 1: the label is a list, not a single value"),
    ("a.jsonl", '["x", "y"]\n', {}, "line 1: a JSON list, not an object"),
    ("a.csv", "text\nok\n\xe9t\xe9\n", {"encoding": "ascii"}, "not ascii text"),
    ("a.csv", "text\nx\n", {"encoding": "klingon"}, "encoding='klingon' is not a text encoding"),
    ("a.jsonl", "{oops\n", {}, "line 1: not valid JSON"),
    ("a.txt", "x\n", {"label_column": "label"}, "a .txt file has no label column"),
    ("a.xlsx", "x", {}, "unknown file type"),
    ("a.parquet", "x", {}, "not a readable Parquet file"),
    ("a.csv", "text\nx\n", {"sep": "ab"}, "sep='ab': a delimiter is one character"),
    ("a.csv", "text\nx\n", {"sep": "t"}, "sep='t': a delimiter is one character"),
])
def test_bad_files_are_clear_errors(tmp_path, name, content, kwargs, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[").replace(".", r"\.")):
        read_texts(tmp_path / name, **kwargs)


def test_the_csv_delimiter_is_read_from_the_header(tmp_path):
    p = tmp_path / "excel.csv"  # a spreadsheet's export: byte-order mark, semicolons, commas inside texts
    p.write_bytes('\ufeffid;text;label\n1;"good, very good";pos\n2;bad;neg\n'.encode("utf-8"))
    texts, labels = read_texts(p, label_column="label")
    assert texts == ["good, very good", "bad"] and labels.tolist() == ["pos", "neg"]
    (tmp_path / "pipes.csv").write_text("text|label\na,b|x\n")
    assert read_texts(tmp_path / "pipes.csv", label_column="label")[1].tolist() == ["x"]
    # a comma-separated file whose header also splits on ';': the named columns decide
    (tmp_path / "comma.csv").write_text("text,label;note\nx;y,z\n")
    assert read_texts(tmp_path / "comma.csv", label_column="label;note") == (["x;y"], np.array(["z"], object))
    # an explicit sep wins over the header
    assert read_texts(tmp_path / "comma.csv", text_column="text,label", sep=";")[0] == ["x"]
    with pytest.raises(ValueError, match=r"no column 'body'; its columns are \['id', 'text', 'label'\]"):
        read_texts(p, text_column="body")  # the error names the columns of the likeliest delimiter


def test_parquet_texts_labels_and_records(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({"id": [7, 8, 9], "body": ["a", "b", "c"], "topic": ["x", None, "y"]})
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=2)
    texts, labels = read_texts(tmp_path / "t.parquet", text_column="body", label_column="topic")
    assert texts == ["a", "b", "c"] and labels.tolist() == ["x", -1, "y"]
    chunks = list(iter_records(tmp_path / "t.parquet", text_column="body", chunk_size=2))
    assert [c[0] for c in chunks] == [["a", "b"], ["c"]]
    assert chunks[1][1] == [{"id": 9, "body": "c", "topic": "y"}]
    pq.write_table(pa.table({"body": ["a", None]}), tmp_path / "n.parquet")
    with pytest.raises(ValueError, match="n.parquet, row 2: no text"):
        read_texts(tmp_path / "n.parquet", text_column="body")
    with pytest.raises(ValueError, match=r"no column 'text'; its columns are \['body'\]"):
        read_texts(tmp_path / "n.parquet")


def test_predictions_keep_the_input_columns(tmp_path):
    classes = np.array(["neg", "pos"], dtype=object)
    proba = np.array([[0.9, 0.1], [0.25, 0.75]])
    rows = [{"id": "1", "body": "a", "note": ""}, {"id": "2", "body": "b", "note": "x"}]
    write_predictions(tmp_path / "p.csv", ["a", "b"], classes[proba.argmax(1)], proba, classes, rows,
                      columns=["id", "body", "note"])
    assert list(csv.DictReader(open(tmp_path / "p.csv")))[1] == {
        "id": "2", "body": "b", "note": "x", "label": "pos", "proba_neg": "0.250000", "proba_pos": "0.750000"}
    # an input that has a label column: the prediction's fields get a prefix, nothing is overwritten
    rows = [{"text": "a", "label": "pos"}, {"text": "b", "label": "pos"}]
    write_predictions(tmp_path / "q.csv", ["a", "b"], classes[proba.argmax(1)], proba, classes, rows,
                      columns=["text", "label"])
    first = list(csv.DictReader(open(tmp_path / "q.csv")))[0]
    assert first == {"text": "a", "label": "pos", "predicted_label": "neg", "predicted_proba_neg": "0.900000",
                     "predicted_proba_pos": "0.100000"}
    write_predictions(tmp_path / "q.jsonl", ["a", "b"], classes[proba.argmax(1)], proba, classes, rows,
                      columns=["text", "label"])
    rec = json.loads(open(tmp_path / "q.jsonl").readline())
    assert rec == {"text": "a", "label": "pos", "predicted_label": "neg",
                   "predicted_proba": {"neg": 0.9, "pos": 0.1}}


def test_predictions_never_overwrite_or_drop_an_input_field(tmp_path):
    classes = np.array(["neg", "pos"], dtype=object)
    proba = np.array([[0.9, 0.1], [0.25, 0.75]])
    # predictions predicted again: label and predicted_label are both taken
    rows = [{"text": "a", "label": "pos", "predicted_label": "neg"}, {"text": "b", "label": "neg",
                                                                       "predicted_label": "pos"}]
    for name in ("r.csv", "r.jsonl"):
        write_predictions(tmp_path / name, ["a", "b"], classes[proba.argmax(1)], proba, classes, rows,
                          columns=list(rows[0]))
    first = list(csv.DictReader(open(tmp_path / "r.csv")))[0]
    assert [first[k] for k in ("label", "predicted_label", "predicted2_label")] == ["pos", "neg", "neg"]
    rec = json.loads(open(tmp_path / "r.jsonl").readline())
    assert rec["predicted_label"] == "neg" and rec["predicted2_label"] == "neg" and "predicted2_proba" in rec
    # JSON Lines whose later rows have fields the first has not
    uneven = [{"text": "a"}, {"text": "b", "label": "gold", "note": "x"}]
    with pytest.raises(ValueError, match="input row 2 has the field 'label', which the prediction takes"):
        write_predictions(tmp_path / "u.jsonl", ["a", "b"], ["neg", "pos"], proba, classes, uneven, ["text"])
    with pytest.raises(ValueError, match="input row 2 has the field 'label'.*write .jsonl"):
        write_predictions(tmp_path / "u.csv", ["a", "b"], ["neg", "pos"], proba, classes, uneven, ["text"])
    assert not (tmp_path / "u.jsonl").exists() and not (tmp_path / "u.csv").exists()
    kept = [{"text": "a"}, {"text": "b", "note": "x"}]  # a new key that clashes with nothing stays in JSON Lines
    write_predictions(tmp_path / "k.jsonl", ["a", "b"], ["neg", "pos"], proba, classes, kept, ["text"])
    assert json.loads(open(tmp_path / "k.jsonl").readlines()[1])["note"] == "x"


def test_a_multilabel_prediction_is_a_list_of_labels(tmp_path):
    classes = np.array(["fruit", "vehicle", "x"])
    proba = np.array([[0.2, 0.7, 0.6]])
    labels = [classes[p >= 0.5].tolist() for p in proba]
    write_predictions(tmp_path / "m.csv", ["a"], labels, proba, classes)
    write_predictions(tmp_path / "m.jsonl", ["a"], labels, proba, classes)
    assert json.loads(list(csv.DictReader(open(tmp_path / "m.csv")))[0]["label"]) == ["vehicle", "x"]
    assert json.loads(open(tmp_path / "m.jsonl").readline())["label"] == ["vehicle", "x"]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_texts(tmp_path / "nope.csv")
    (tmp_path / "a.txt").write_text("x\ny\n")
    (tmp_path / "l.txt").write_text("x\n")
    with pytest.raises(ValueError, match="1 labels for the 2 texts"):
        read_texts(tmp_path / "a.txt", label_column="label", labels_path=tmp_path / "l.txt")


def test_write_predictions_csv_and_jsonl(tmp_path):
    classes = np.array(["neg", "pos"], dtype=object)
    proba = np.array([[0.9, 0.1], [0.25, 0.75]])
    write_predictions(tmp_path / "p.csv", ["a", "b"], classes[proba.argmax(1)], proba, classes)
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert rows[1] == {"text": "b", "label": "pos", "proba_neg": "0.250000", "proba_pos": "0.750000"}
    write_predictions(tmp_path / "p.jsonl", ["a", "b"], np.array([0, 1]), proba, np.array([0, 1]))
    recs = [json.loads(line) for line in open(tmp_path / "p.jsonl")]
    assert recs[0] == {"text": "a", "label": 0, "proba": {"0": 0.9, "1": 0.1}}
    with pytest.raises(ValueError, match="predictions are written as"):
        write_predictions(tmp_path / "p.txt", ["a"], ["neg"], proba[:1], classes)


def test_encodings_byte_order_mark_and_long_fields(tmp_path):
    import csv as csv_module

    limit = csv_module.field_size_limit()
    (tmp_path / "bom.csv").write_bytes("\ufefftext,label\nhéllo,a\n".encode("utf-8"))
    assert read_texts(tmp_path / "bom.csv", label_column="label")[0] == ["héllo"]  # not a '\ufefftext' column
    (tmp_path / "latin.csv").write_bytes("text\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin\.csv: not utf-8-sig text .*--encoding latin-1"):
        read_texts(tmp_path / "latin.csv")
    assert read_texts(tmp_path / "latin.csv", encoding="latin-1")[0] == ["café"]
    long_text = "word " * 60_000  # 300,000 characters: beyond the csv module's default 131,072
    with open(tmp_path / "long.csv", "w", newline="") as f:
        csv_module.writer(f).writerows([["text"], [long_text], ["short"]])
    assert read_texts(tmp_path / "long.csv")[0] == [long_text, "short"]
    assert csv_module.field_size_limit() == limit  # the module's global limit is put back


def test_short_csv_rows_are_unlabeled_with_a_warning(tmp_path):
    (tmp_path / "ragged.csv").write_text("text,label\na,x\nb\nc,y\nd\n")
    with pytest.warns(UserWarning, match=r"2 row\(s\) have fewer fields than the header \(first: line 3\)"):
        texts, labels = read_texts(tmp_path / "ragged.csv", label_column="label")
    assert texts == ["a", "b", "c", "d"] and labels.tolist() == ["x", -1, "y", -1]


@pytest.mark.parametrize("name", ["a.csv", "a.jsonl", "a.txt"])
def test_iter_texts_gives_read_texts_in_chunks(tmp_path, name):
    from skgloss.files import iter_texts

    texts = [f"text number {i}" if i % 5 else "" for i in range(23)] + ["last"]
    path = tmp_path / name
    if name.endswith(".csv"):
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows([["text"]] + [[t] for t in texts])
    elif name.endswith(".jsonl"):
        path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    else:
        path.write_text("\n".join(texts) + "\n\n\n")  # trailing blank lines are not texts
    chunks = list(iter_texts(path, chunk_size=5))
    assert [len(c) for c in chunks] == [5, 5, 5, 5, 4]
    assert sum(chunks, []) == read_texts(path)[0] == texts


def test_a_failed_write_leaves_the_old_predictions_and_no_partial_file(tmp_path):
    from skgloss.files import PredictionWriter

    out = tmp_path / "pred.csv"
    write_predictions(out, ["a"], ["x"], np.array([[1.0, 0.0]]), ["x", "y"])
    before = out.read_text()
    with pytest.raises(KeyboardInterrupt):
        with PredictionWriter(out, ["x", "y"]) as writer:
            writer.write(["b"], ["y"], np.array([[0.0, 1.0]]))
            raise KeyboardInterrupt
    assert out.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pred.csv"]
