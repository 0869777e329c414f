"""Copy the benchmark results into README.md, between marker comments.

Each block ``<!-- results:NAME -->`` ... ``<!-- /results:NAME -->`` in the
README is replaced by a table rendered from ``benchmarks/results/NAME.json``,
or copied from the rendered tables ``benchmarks/results/NAME.md`` (the
accuracy profile and the label-scarcity study, written by
``render_tables.py`` and ``render_scarcity.py``). Nothing in those blocks is
typed by hand. The documentation's benchmark page uses the same blocks
(:func:`render_block`).

Usage: python benchmarks/render_readme.py
"""

import json
import re
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

LABELS = {"ce": "`ce`", "gloss": "`gloss` (skgloss: one encoder pass)", "supcon": "`supcon`",
          "gloss-2pass": "G-Loss as in the authors' code (two encoder passes)",
          "hf-ce": "the Hugging Face `Trainer`'s step (`AutoModelForSequenceClassification`, fused AdamW)"}


def step_time(data):
    a = data["args"]
    lines = [f"{data.get('device', 'cpu')}, precision {data.get('precision', 'fp32')}, batch {a['batch_size']}, "
             f"max_length {a['max_length']}, MR texts, {a['rounds']} interleaved rounds after {a['warmup']} warm-up "
             f"rounds, torch threads {data['machine']['torch_threads']} (`python benchmarks/step_time.py`):", "",
             "| loss | median step (ms) | median / ce median | median of per-round ratios |", "|---|---|---|---|"]
    for k, r in data["results"].items():
        lines.append(f"| {LABELS.get(k, k)} | {1e3 * r['median_s']:.1f} | {r['ratio_of_medians']:.3f} | "
                     f"{r['median_per_round_ratio']:.3f} |")
    if "gloss_term" in data:
        lines += ["", f"The G-Loss term alone (mask, kernel, solve, loss; forward and backward, batch "
                      f"{a['batch_size']}): {1e3 * data['gloss_term']['median_s']:.2f} ms median."]
    return lines


def fit_throughput(data):
    a = data["args"]
    lines = [f"{data['device']}, {data['dataset'].upper()} {data['n_texts']} texts, batch {a['batch_size']}, "
             f"max_length {a['max_length']}, {a['epochs']} epochs x {a['repeats']} repeats with the cells in "
             f"rotating order, torch threads {data['torch_threads']} "
             f"(`python benchmarks/fit_throughput.py {_cli_args(a)}`):", "",
             "| variant | precision | median epoch (s) | texts / s | / Trainer (ratio of medians) | "
             "/ Trainer (median per repeat) |", "|---|---|---|---|---|---|"]
    names = {"skgloss-ce": "skgloss `ce`", "skgloss-gloss": "skgloss `gloss`",
             "skgloss-ce-length": "skgloss `ce`, `batching=\"length\"`",
             "skgloss-ce-compile": "skgloss `ce`, `compile=True`",
             "trainer": "Hugging Face `Trainer` (`AutoModelForSequenceClassification`)"}
    for r in data["results"]:
        if r["median_epoch_s"] is None:
            continue
        lines.append(f"| {names.get(r['variant'], r['variant'])} | {r['precision']} | {r['median_epoch_s']:.2f} | "
                     f"{r['texts_per_s']:.1f} | {r['ratio_to_trainer_of_medians']:.2f} | "
                     f"{r['median_per_repeat_ratio_to_trainer']:.2f} |")
    if "token_slots" in data:
        t = data["token_slots"]
        lines += ["", f"Token slots an epoch computes on: {t['real_tokens']:,} real tokens; random batches padded to "
                      f"their longest text {t['random_batches']:,}; `batching=\"length\"` {t['length_batches']:,} "
                      "(`--token-slots-only` counts them for an earlier run's file)."]
    for v, sp in data.get("bf16_speedup", {}).items():
        lines += ["", f"{names.get(v, v)}: a bf16 epoch took {1 / sp['bf16_speedup']:.1f} times as long as an fp32 "
                      f"epoch ({sp['fp32_median_epoch_s']:.2f} s -> {sp['bf16_median_epoch_s']:.2f} s)."]
    return lines


def _cli_args(a):
    """The options of a fit_throughput run that differ from the script's defaults."""
    defaults = {"n_texts": 1024, "epochs": 2, "repeats": 3, "precisions": ["fp32", "bf16"],
                "variants": ["skgloss-ce", "skgloss-gloss", "trainer"], "out": "fit_throughput.json"}
    parts = []
    for key, default in defaults.items():
        if a.get(key) != default:
            value = a[key]
            parts.append(f"--{key.replace('_', '-')} " + (" ".join(value) if isinstance(value, list) else str(value)))
    return " ".join(parts)


def mr_short_fit(data):
    a = data["args"]
    s = data["summary"]
    lines = [f"MR, {a['n_train']} training texts (10 % of them held out for early stopping), {a['n_test']} test "
             f"texts, max_length 64, batch 32, at most {a['max_epochs']} epochs, seeds {a['seeds']} "
             "(`python benchmarks/mr_short_fit.py`):", "",
             "| loss | test accuracy, mean ± std | per seed |", "|---|---|---|"]
    for loss in a["losses"]:
        r = s[loss]
        lines.append(f"| `{loss}` | {100 * r['mean']:.2f} ± {100 * r['std']:.2f} | "
                     + ", ".join(f"{100 * v:.1f}" for v in r["per_seed"]) + " |")
    if "gloss_minus_ce" in s:
        d = s["gloss_minus_ce"]
        lines += ["", "`gloss` − `ce`, paired by seed: " + ", ".join(f"{100 * v:+.1f}" for v in d["per_seed"])
                  + f" points (mean {100 * d['mean']:+.2f})."]
    return lines


def full_test(data):
    cells, paired = data["cells"], data["paired"]
    m = cells[0]["machine"]
    seeds = sorted({c["seed"] for c in cells})
    commits = {}
    for c in cells:
        commits.setdefault(c["machine"]["git_commit"], []).append(c["dataset"])
    commit = "; ".join(f"commit {k} ({', '.join(dict.fromkeys(v))})" for k, v in commits.items())
    lines = ["The `cpu` profile's fits (its training subsets, settings and seeds "
             f"{', '.join(map(str, seeds))}, fitted again) scored on every test text: the profile's subset "
             "(stratified; R52's uniformly random, as it has classes of one text) and the texts it never read "
             f"(`{data['command']}`; {commit}; "
             f"{m['cpu_count']} CPU cores, {'bfloat16' if m['cpu_native_bf16'] else 'float32'}, "
             f"{m['torch_threads']} torch thread per fit). Test accuracy, %, mean over seeds; \"reproduced\": "
             "seeds whose refit scores exactly the profile's cell on its texts.", "",
             "| dataset | test texts (the profile's + the others) | variant | all | the profile's texts "
             "(its cells) | the other texts | reproduced |", "|---|---|---|---|---|---|---|"]

    def mean(rows, key):
        return 100 * sum(r[key] for r in rows) / len(rows)

    for dataset in dict.fromkeys(c["dataset"] for c in cells):
        for variant in dict.fromkeys(c["variant"] for c in cells):
            rows = [c for c in cells if c["dataset"] == dataset and c["variant"] == variant]
            if not rows:
                continue
            n, k = rows[0]["n_test"], rows[0]["n_profile_test"]
            recorded = [r for r in rows if r["profile_cell_accuracy"] is not None]
            same = sum(abs(r["profile_cell_accuracy"] - r["accuracy_profile_texts"]) < 1e-9 for r in recorded)
            cell = f"{mean(recorded, 'profile_cell_accuracy'):.2f}" if recorded else "–"
            lines.append(f"| {dataset} | {n:,} ({k:,} + {n - k:,}) | `{variant}` | {mean(rows, 'accuracy_all'):.2f} | "
                         f"{mean(rows, 'accuracy_profile_texts'):.2f} ({cell}) | "
                         f"{mean(rows, 'accuracy_other_texts'):.2f} | {same} of {len(rows)} |")
    splits = ("accuracy_all", "accuracy_profile_texts", "accuracy_other_texts")
    lines += ["", "| dataset | difference (points, per seed) | all test texts | the profile's texts | "
              "the other texts |", "|---|---|---|---|---|"]
    for dataset in dict.fromkeys(r["dataset"] for r in paired):
        for variant in dict.fromkeys(r["variant"] for r in paired if r["dataset"] == dataset):
            by = {r["split"]: r for r in paired if r["dataset"] == dataset and r["variant"] == variant}
            against = by[splits[0]]["against"]
            lines.append(f"| {dataset} | `{variant}` − `{against}` | " + " | ".join(
                f"{by[s]['mean']:+.2f} ({', '.join(f'{d:+.1f}' for d in by[s]['per_seed'])})" for s in splits) + " |")
    return lines


def label_noise(data):
    cells, paired = data["cells"], data["paired"]
    fitted = [c for c in cells if "source" not in c]
    m = fitted[0]["machine"]
    commits = sorted({c["machine"]["git_commit"] for c in fitted})
    variants = list(dict.fromkeys(c["variant"] for c in cells))
    others = [v for v in variants if any(r["variant"] == v for r in paired)]
    against = paired[0]["against"]
    lines = ["The `cpu` profile's fits (its training subsets, settings and seeds) with a share of their training "
             "labels replaced by another class drawn uniformly, validation rows included; scored on the profile's "
             f"1,000 clean test texts (`{data['command']}`; commit {', '.join(commits)}; {m['cpu_count']} CPU cores, "
             f"{'bfloat16' if m['cpu_native_bf16'] else 'float32'}, {m['torch_threads']} torch thread per fit). "
             "At 0 % the profile's own cells stand in where they exist. Test accuracy, %, mean ± std over seeds "
             "(n); paired differences per seed.", "",
             "| dataset | labels wrong | " + " | ".join(f"`{v}`" for v in variants) + " | "
             + " | ".join(f"`{v}` − `{against}` (per seed)" for v in others) + " |",
             "|---|---|" + "---|" * (len(variants) + len(others))]
    for dataset, rate in sorted(dict.fromkeys((c["dataset"], c["noise"]) for c in cells)):
        row = []
        for variant in variants:
            a = [100 * c["test_accuracy"] for c in cells
                 if (c["dataset"], c["noise"], c["variant"]) == (dataset, rate, variant)]
            spread = f" ± {statistics.stdev(a):.2f}" if len(a) > 1 else ""
            row.append(f"{statistics.mean(a):.2f}{spread} (n={len(a)})" if a else "–")
        for variant in others:
            d = [r for r in paired if (r["dataset"], r["noise"], r["variant"]) == (dataset, rate, variant)]
            row.append(f"{d[0]['mean']:+.2f} ({', '.join(f'{x:+.1f}' for x in d[0]['per_seed'])})" if d else "–")
        lines.append(f"| {dataset} | {100 * rate:.0f} % | " + " | ".join(row) + " |")
    return lines


def mr_semi_supervised(data):
    a = data["args"]
    lines = [f"MR, training pool of {data['n_train_pool']} texts with {100 * a['label_fraction']:.0f} % of the labels "
             f"kept (the rest -1), test on {data['n_test']} texts, all-MiniLM-L6-v2, max_length 64, at most "
             f"{a['max_epochs']} epochs, seeds {a['seeds']} (`python benchmarks/mr_semi_supervised.py --seeds "
             + " ".join(map(str, a["seeds"])) + (" --with-kl" if a.get("with_kl") else "") + "`):", "",
             "| method | test accuracy (%) |", "|---|---|"]
    names = {"ce-labeled": "`loss=\"ce\"` on the labeled rows only",
             "gloss-graph": "`loss=\"gloss\"` with the corpus graph (head inference)",
             "gloss-graph/graph-inference": "same fit, `inference=\"graph\"`",
             "gloss-graph/blend-inference": "same fit, `inference=\"blend\"`",
             "kl-graph": "`loss=\"kl\"` with the corpus graph",
             "kl-graph/graph-inference": "same fit, `inference=\"graph\"`",
             "kl-graph/blend-inference": "same fit, `inference=\"blend\"`",
             "labelspreading-frozen": "scikit-learn `LabelSpreading` (kNN, k=10) on frozen MiniLM embeddings"}
    for k, v in data["summary"].items():
        cell = f"{100 * v['mean']:.2f}" + (f" ± {100 * v['std']:.2f}" if len(v["per_seed"]) > 1 else "")
        lines.append(f"| {names.get(k, k)} | {cell} |")
    secs = {r["method"]: r["seconds"] for r in data["runs"] if r["seed"] == a["seeds"][0]}
    if "ce-labeled" in secs and "gloss-graph" in secs:
        lines += ["", f"The semi-supervised fits train on the whole pool, 10x more text than `ce` on the labeled rows: "
                      f"{secs['gloss-graph']:.0f} s against {secs['ce-labeled']:.0f} s of fitting (seed "
                      f"{a['seeds'][0]})."]
    fr = [f for r in data["runs"] for f in (r.get("refresh_fraction_of_epoch") or [])]
    if fr:
        lines += ["", f"One corpus-graph refresh (kNN graph + label spreading over the pool) took "
                      f"{100 * min(fr):.2f}-{100 * max(fr):.2f} % of an epoch's time in these fits."]
    return lines


def corpus_graph_speed(data):
    a, k, s = data["args"], data["knn_graph"], data["label_spreading"]
    lines = [f"Corpus-graph pieces on {a['n']} synthetic clustered vectors, d = {a['d']}, k = {a['k']} "
             "(`python benchmarks/corpus_graph_speed.py`):", "",
             "| step | skgloss | scikit-learn | ratio |", "|---|---|---|---|",
             f"| kNN graph, exact blocked search | {k['exact_s']:.2f} s | {k['sklearn_brute_s']:.2f} s "
             f"(`NearestNeighbors`, brute, cosine) | {k['sklearn_brute_s'] / k['exact_s']:.1f}x |",
             f"| kNN graph, PyNNDescent (recall {k['pynndescent_recall_vs_exact']:.3f} vs exact) | "
             f"{k['pynndescent_s']:.2f} s (first call in a process {k['pynndescent_first_call_s']:.0f} s) | | |"]
    for name, r in s.items():
        lines.append(f"| label spreading, {name.replace('_', ' ')} (max abs difference "
                     f"{r['max_abs_difference']:.0e}) | {1e3 * r['skgloss_median_s']:.1f} ms | "
                     f"{1e3 * r['sklearn_median_s']:.1f} ms (`LabelSpreading`, same graph) | "
                     f"{r['speedup_of_medians']:.1f}x |")
    return lines


def batching(data):
    a, s = data["args"], data["summary"]
    lines = [f"{a['dataset'].upper()}, {a['n_train']} random training texts (all labeled), {a['n_test']} test texts, "
             f"`loss=\"gloss\"`, max_length 64, at most {a['max_epochs']} epochs, seeds {a['seeds']} "
             "(`python benchmarks/batching.py`):", "", "| batching | test accuracy (%), mean ± std | per seed |",
             "|---|---|---|"]
    for b in ("random", "graph"):
        lines.append(f"| `{b}` | {100 * s[b]['mean']:.2f} ± {100 * s[b]['std']:.2f} | "
                     + ", ".join(f"{100 * v:.1f}" for v in s[b]["per_seed"]) + " |")
    return lines


def predict_throughput(data):
    a, r = data["args"], data["results"]
    lines = [f"`predict` on {a['n']} MR test texts, batch {a['batch_size']}, max_length {a['max_length']}, "
             f"{a['repeats']} interleaved rounds (`python benchmarks/predict_throughput.py`):", "",
             "| variant | texts / s | skgloss `predict` is faster by |", "|---|---|---|"]
    labels = {"skgloss": "`GLossTextClassifier.predict` (length-sorted batches, head included)",
              "bare-dynamic": "bare `AutoModel` forward, batches in input order padded to their longest text",
              "bare-max-length": "bare `AutoModel` forward, every batch padded to max_length"}
    for k, v in r.items():
        lines.append(f"| {labels.get(k, k)} | {v['texts_per_s']:.0f} | "
                     + ("" if k == "skgloss" else f"{v['speedup_of_skgloss']:.2f}x") + " |")
    return lines


def knn_scaling(data):
    rows = data["results"]
    lines = [f"`knn_graph` on synthetic clustered vectors, d = {rows[0]['d']}, k = {rows[0]['k']}; "
             f"recall@{rows[0]['k']} against brute force on {data['args']['n_queries']} sampled rows; "
             "median of "
             f"{data['args']['repeats']} runs below {data['args']['repeat_below']:,} rows, one run above; "
             f"PyNNDescent's numba compilation ({data['pynndescent_warmup_s']:.0f} s) paid before timing; "
             f"{data.get('torch_threads', '?')} torch / {data.get('numba_threads', '?')} numba threads "
             "(`python benchmarks/knn_scaling.py`):", "",
             "| n | exact (s) | PyNNDescent (s) | scikit-learn brute (s) | exact / PyNNDescent | "
             "scikit-learn / exact | PyNNDescent recall | exact recall |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        def cell(key, fmt="{:.2f}"):
            return fmt.format(r[key]) if key in r else "not run"
        lines.append(f"| {r['n']:,} | {cell('exact_s')} | {cell('pynndescent_s')} | {cell('sklearn_brute_s')} | "
                     f"{cell('exact_over_pynndescent', '{:.1f}x')} | {cell('sklearn_over_exact', '{:.1f}x')} | "
                     f"{cell('pynndescent_recall', '{:.3f}')} | {cell('exact_recall', '{:.3f}')} |")
    return lines


def exact_search(data):
    a = data["args"]
    return [f"`knn_graph(backend=\"exact\")` on {a['n']:,} synthetic clustered vectors, d = {a['d']}, k = {a['k']}: "
            "the symmetric blocked search (each pair's similarity computed once, numba top-k folding) against the "
            "one-sided search it replaced (row blocks against all rows, `np.argpartition`), interleaved, "
            f"{a['repeats']} runs each after a warm-up, {data['machine']['cpu_count']} CPU cores "
            "(`python benchmarks/exact_search.py`):", "",
            "| search | median (s) |", "|---|---|",
            f"| symmetric (now) | {data['symmetric_median_s']:.2f} |",
            f"| one-sided (before) | {data['one_sided_median_s']:.2f} |",
            "", f"Median per-run ratio now / before: {data['median_ratio_symmetric_over_one_sided']:.2f}; "
            f"the two graphs differ in {data['edges_differing']} of {data['edges']:,} edges."]


def knn_real(data):
    r0 = data["rows"]
    lines = [f"`knn_graph` on all-MiniLM-L6-v2 embeddings (mean pooling, max_length {r0['max_length']}, "
             f"{r0['precision']}) of the five corpora's documents and their sentences cut into windows of at most "
             f"{r0['window_words']} words ({r0['pool_size']:,} distinct rows; seed {r0['seed']} picks "
             f"{r0['n_rows']:,}, the first 100,000 of them the 100k set); k = 10; recall@10 of every node's "
             f"neighbour list against exact search for {data['args']['n_queries']} sampled rows (a neighbour as "
             "similar as the 10th true one counts); a refresh = unit rows + search + symmetric graph + label "
             "spreading (5 classes: the source corpus, 10 % of rows labeled); each cell in a fresh process, "
             "numba compilation paid before timing; peak memory = the process's peak resident set above what it "
             f"held before the refresh; {data['machine']['cpu_count']} CPU cores "
             "(`python benchmarks/knn_real.py embed`, then `measure`):", "",
             "| rows | search | recall@10 | refresh (s) | of which search (s) | peak memory (GB) |",
             "|---|---|---|---|---|---|"]
    for r in data["results"]:
        lines.append(f"| {r['n']:,} | {_knn_setting(r)} | {r['recall_ties']:.3f} | {r['refresh_s']:.1f} | "
                     f"{r['search_s']:.1f} | {r['peak_extra_gb']:.2f} |")
    return lines


def _knn_setting(r):
    from skgloss.graph import _BUILD_FACTOR

    if r["backend"] == "exact":
        return "exact (symmetric blocked)"
    name = f"PyNNDescent, lists of {r['build_k']}"
    if "max_candidates" in r:
        name += f", max_candidates {r['max_candidates']}"
    elif r["build_k"] == _BUILD_FACTOR * r["k"]:
        name += " (the default)"
    return name


def memory(data):
    m = data["machine"]
    lines = [f"`skgloss predict` on generated texts, each case in a fresh process (peak RSS of that process), "
             f"all-MiniLM-L6-v2 fitted on 200 MR texts, max_length {data['max_length']}, "
             f"{m['cpu_count']} CPU cores, {m['torch_threads']} torch threads "
             "(`python benchmarks/memory.py`):", "",
             "| case | rows | input (MiB) | peak RSS (MiB) | seconds |", "|---|---|---|---|---|"]
    for r in sorted(data["cases"], key=lambda r: (r["case"].split("-")[0] != "short", r["rows"], r["input_mib"])):
        lines.append(f"| {r['case']} | {r['rows']:,} | {r['input_mib']:.1f} | {r['peak_rss_mib']:.0f} | "
                     f"{r['seconds']:.0f} |")
    return lines


def resume_after_kill(data):
    ok = "identical" if data["identical_probabilities"] else (
        f"not identical (max difference {data['max_abs_probability_difference']:.2g})")
    return [f"A checkpointed fit of all-MiniLM-L6-v2 on {data['n_train']} MR texts (max_length "
            f"{data['max_length']}, {data['max_epochs']} epochs, seed 0, CPU) killed with SIGKILL "
            f"{data['kill_after_s']:.0f} s after its first checkpoint (exit {data['kill_exit_status']}, the checkpoint "
            f"of epoch {data['checkpoint_epoch_at_kill']} on disk), then resumed with `resume=True` (it trained epochs "
            f"{', '.join(map(str, data['epochs_trained_after_resume']))}): its probabilities on {data['n_test']} MR "
            f"test texts are {ok} to those of the same fit run without interruption "
            f"({data['same_predictions']}/{data['n_test']} same labels; "
            "`python benchmarks/resume_after_kill.py`)."]


def cli_startup(data):
    m = data["machine"]
    lines = [f"Median wall time of each command in a fresh process, {data['repeats']} interleaved rounds, "
             f"{m['cpu_count']} CPU cores{', ' + data['note'] if data.get('note') else ''} "
             "(`python benchmarks/cli_startup.py`):", "",
             "| command | median (s) | against importing the estimator |", "|---|---|---|"]
    for r in data["results"]:
        lines.append(f"| `{r['command']}` | {r['median_s']:.2f} | {r['ratio_to_estimator_import']:.2f}× |")
    return lines


def _markdown_sections(name, keep):
    """Sections of ``benchmarks/results/NAME.md`` whose heading starts with one of ``keep`` (None: all)."""
    path = RESULTS / f"{name}.md"
    if not path.is_file():
        return None
    out, on = [], False
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip()
            on = line.startswith("## ") and (keep is None or any(title.startswith(k) for k in keep))
            if on:
                out += ["", f"**{title}**"] if out else [f"**{title}**"]
            continue
        if on:
            out.append(line)
    return out


MARKDOWN = {
    "accuracy_cpu": ("`python benchmarks/harness.py --profile cpu` then `python benchmarks/render_tables.py "
                     "--profile cpu`; full tables (macro-F1, paired differences, cost) in "
                     "`benchmarks/results/accuracy_cpu.md`.",
                     ("Test accuracy", "`ce` against the best")),
    "label_scarcity": ("`python benchmarks/label_scarcity.py` then `python benchmarks/render_scarcity.py`; "
                       "plot in `benchmarks/results/label_scarcity.png`.", None),
    "few_shot": ("`python benchmarks/few_shot.py` (then `--render`); one JSON per run in "
                 "`benchmarks/results/runs/few_shot/`.", None),
    "extra_seeds": ("`python benchmarks/extra_seeds.py` from the cells of seeds 0-2 and those of seeds 3-9 in "
                    "`benchmarks/results/runs/extra_seeds/` and `benchmarks/results/runs/few_shot_extra_seeds/`.",
                    None),
    "step_budget": ("`python benchmarks/step_budget.py` from the sweep's development cells in "
                    "`benchmarks/results/runs/sweep/`.", None),
    "class_separation": ("`python benchmarks/class_separation.py` from "
                         "`benchmarks/results/class_separation.json`.", None),
    "sweep": ("`python benchmarks/sweep.py` (then `--render`); development texts only, one JSON per cell in "
              "`benchmarks/results/runs/sweep/`.", None),
    "data_parallel": ("`python benchmarks/data_parallel.py` (then `--render`); one JSON per fit in "
                      "`benchmarks/results/runs/data_parallel/`.", None),
}


RENDERERS = {"step_time": step_time, "fit_throughput": fit_throughput, "fit_throughput_bf16_cpu": fit_throughput,
             "mr_short_fit": mr_short_fit, "full_test": full_test, "label_noise": label_noise,
             "mr_semi_supervised": mr_semi_supervised,
             "corpus_graph_speed": corpus_graph_speed, "batching": batching, "predict_throughput": predict_throughput,
             "knn_scaling": knn_scaling, "knn_real": knn_real, "exact_search": exact_search, "memory": memory,
             "resume_after_kill": resume_after_kill,
             "cli_startup": cli_startup}

SECTIONS = [
    ("accuracy_cpu", "Five datasets, every loss (cpu profile)"),
    ("label_scarcity", "Label scarcity"),
    ("few_shot", "Few shots"),
    ("extra_seeds", "The accuracy bars with ten seeds"),
    ("full_test", "The `cpu` profile's fits on every test text"),
    ("label_noise", "The `cpu` profile's fits with wrong training labels"),
    ("step_budget", "Few shots: a fixed budget of 128 optimizer steps"),
    ("class_separation", "Few shots: class separation on the pre-trained encoder"),
    ("sweep", "Settings swept on development texts"),
    ("data_parallel", "Data-parallel fits: 2 processes against 1"),
    ("step_time", "Training-step time over cross-entropy"),
    ("fit_throughput", "Fit throughput against the Hugging Face Trainer"),
    ("fit_throughput_bf16_cpu", "bfloat16 on a CPU without bf16 instructions"),
    ("predict_throughput", "Prediction throughput"),
    ("mr_short_fit", "A short MR fit, three seeds"),
    ("mr_semi_supervised", "MR with 10 % of the labels"),
    ("batching", "Graph-aware batches"),
    ("corpus_graph_speed", "Corpus-graph pieces at 20,000 rows"),
    ("exact_search", "Exact kNN search at 20,000 rows"),
    ("knn_scaling", "kNN graph at 10k, 100k and 1M rows"),
    ("knn_real", "kNN graph on real embeddings, 100k and 1M rows"),
    ("memory", "Memory of predict as rows and text length grow"),
    ("resume_after_kill", "Resuming after kill -9"),
    ("cli_startup", "Command-line start-up"),
]


def render_block(name):
    """The lines of one results block, or None when its results file is absent."""
    if name in MARKDOWN:
        source, keep = MARKDOWN[name]
        body = _markdown_sections(name, keep)
        if body is None:
            return None
        return [f"Rendered from {source}", ""] + body
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        return None
    return RENDERERS[name](json.loads(path.read_text()))


def main():
    readme = ROOT / "README.md"
    text = readme.read_text()
    for name, _ in SECTIONS:
        lines = render_block(name)
        if lines is None:
            continue
        block = "\n".join(lines)
        pattern = re.compile(rf"(<!-- results:{name} -->\n)(?:.*?\n)?(<!-- /results:{name} -->)", re.S)
        text, n = pattern.subn(lambda m: m.group(1) + block + "\n" + m.group(2), text)
        if n != 1:
            raise SystemExit(f"README.md has no block for {name}")
    readme.write_text(text)
    print("README.md updated")


if __name__ == "__main__":
    main()
