"""Input validation for the estimator: texts, labels with ``-1``, parameters.

Every error names the argument and what was wrong with it.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_scalar

UNLABELED = -1


def is_text_stream(X) -> bool:
    """Whether ``X`` is an iterable of texts without a length (a generator, an open file, ...)."""
    return (hasattr(X, "__iter__") and not hasattr(X, "__len__") and not isinstance(X, (str, bytes))
            and not hasattr(X, "to_numpy"))


def check_texts(X, name="X", start=0) -> list:
    """``X`` as a list of ``str``.

    Accepts a list, tuple, 1-D array, pandas Series/Index, or a 2-D array or
    DataFrame with exactly one column. Empty strings are valid texts.
    ``start``: the position of ``X[0]`` in a longer input, for the messages.
    """
    if isinstance(X, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of strings, not a single {type(X).__name__}")
    if is_text_stream(X):
        raise TypeError(f"{name} must be a sequence of strings (a list, array or Series), not a "
                        f"{type(X).__name__}: fit reads its texts more than once (predict, predict_proba and "
                        "transform take any iterable)")
    if hasattr(X, "to_numpy"):  # pandas
        X = X.to_numpy()
    try:
        arr = np.asarray(X, dtype=object)
    except Exception as exc:  # ragged nested input and the like
        raise TypeError(f"{name} must be a sequence of strings: {exc}") from exc
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one text per row), got an array of shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: at least one text is needed")
    for i, t in enumerate(arr, start):
        if not isinstance(t, str):
            raise TypeError(f"{name}[{i}] is {type(t).__name__} {t!r}; every element of {name} must be a str")
        exc = unicode_error(t)
        if exc is not None:
            raise ValueError(f"{name}[{i}] is not valid Unicode: {exc.reason} at character {exc.start} "
                             f"({t[exc.start]!r})")
    return arr.tolist()


def unicode_error(text: str):
    """The ``UnicodeEncodeError`` of a text no tokenizer can read (a lone surrogate), or None."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc
    return None


def is_unlabeled(v) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return False
    if isinstance(v, (Integral, Real)):
        return v == UNLABELED
    return isinstance(v, str) and v == str(UNLABELED)


def _typed(y):
    """A 1-D object array as bool, int64, float64 or str when all its entries are of that kind; else as it is."""
    if y.dtype != object or y.ndim != 1 or not len(y):
        return y
    if all(isinstance(v, (bool, np.bool_)) for v in y):
        return y.astype(bool)
    if all(isinstance(v, (Integral, np.integer)) and not isinstance(v, bool) for v in y):
        return y.astype(np.int64)
    if all(isinstance(v, (Real, np.number)) and not isinstance(v, (bool, np.bool_)) for v in y):
        return y.astype(np.float64)
    if all(isinstance(v, str) for v in y):
        return y.astype(str)
    return y


def label_array(y) -> np.ndarray:
    """Labels (list, tuple, array, pandas) as an array that scikit-learn's metrics take.

    An object array whose entries are all bools, all integers, all real
    numbers or all strings gets that dtype (scikit-learn calls an object
    array of numbers an "unknown" target). Nothing is cast to a narrower
    type: a string array keeps its strings whole.
    """
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    y = np.asarray(y, dtype=object) if isinstance(y, (list, tuple)) else np.asarray(y)
    return _typed(y)


def _from_text(values, kind):
    """Strings as numbers (``kind`` "i", "u", "f") or bools ("b") when each reads back as itself, else None."""
    out = []
    for v in values:
        try:
            if kind == "f":
                out.append(float(v))
            elif kind == "b":
                out.append({"True": True, "False": False}[v])
            else:
                n = int(v)
                if str(n) != v:  # "01" or " 1" is not the label 1
                    return None
                out.append(n)
        except (ValueError, KeyError, TypeError):
            return None
    return out


def comparable_labels(y_true, y_pred):
    """True and predicted labels (1-D) as two arrays of one kind, for a metric; nothing is cut short.

    Labels read from a file are strings where a model's classes may be
    numbers or bools, and the other way round. Where one side holds
    strings and the other numbers (or bools), the strings become that
    type when every one of them reads back as itself (``"1"`` → ``1``,
    ``"0.5"`` → ``0.5``, ``"True"`` → ``True``); otherwise both sides are
    compared as text. Same kinds stay as they are (no string is ever cast
    to a narrower string type).
    """
    t, p = label_array(y_true), label_array(y_pred)
    kinds = {t.dtype.kind, p.dtype.kind}
    if len(kinds) == 1 or not ("U" in kinds or "O" in kinds):
        return t, p
    text, other = (t, p) if t.dtype.kind in "UO" else (p, t)
    typed = _from_text(text.tolist(), other.dtype.kind) if other.dtype.kind in "iufb" else None
    if typed is not None:
        typed = np.asarray(typed, dtype=other.dtype)
        return (typed, p) if text is t else (t, typed)
    return (np.array([str(v) for v in t.tolist()], dtype=object),
            np.array([str(v) for v in p.tolist()], dtype=object))


def encode_labels(y, n_samples, name="y"):
    """Split ``y`` into classes and class ids, with ``-1`` for unlabeled rows.

    An entry is unlabeled when it is the number -1 (or, in an array of
    strings, the string ``"-1"``, which is what numpy makes of ``-1`` in a
    list of strings).

    Returns
    -------
    classes : ndarray
        Sorted distinct labels (``np.unique``), without the unlabeled marker.
    y_idx : ndarray of int64
        Index into ``classes`` per row, ``-1`` for unlabeled rows.
    """
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    if isinstance(y, (list, tuple)):  # a list of bools, ints or floats gets that dtype; of strings, object
        y = np.asarray(y, dtype=object)
        typed = _typed(y)
        y = y if typed.dtype.kind == "U" else typed
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {y.shape}")
    if y.shape[0] != n_samples:
        raise ValueError(f"X and {name} have different lengths: {n_samples} texts but {y.shape[0]} labels")
    for i, v in enumerate(y):
        if v is None or (isinstance(v, (float, np.floating)) and math.isnan(v)):
            raise ValueError(f"{name}[{i}] is {v!r}; mark unlabeled rows with -1, not NaN or None")
    unlabeled = np.fromiter((is_unlabeled(v) for v in y), dtype=bool, count=y.shape[0])
    if unlabeled.all():
        raise ValueError(f"every entry of {name} is -1 (unlabeled): at least two labeled classes are needed")
    labeled_values = y[~unlabeled]
    if labeled_values.dtype.kind == "f" and (labeled_values != np.round(labeled_values)).any():
        bad = labeled_values[labeled_values != np.round(labeled_values)][0]
        raise ValueError(f"{name} holds the non-integer number {float(bad)!r}: class labels must be integers, strings "
                         "or bools (scikit-learn calls such a target continuous: a regression, not a classification)")
    try:
        classes, inverse = np.unique(labeled_values, return_inverse=True)
    except TypeError as exc:
        raise TypeError(f"the labels in {name} cannot be sorted (mixed types?): {exc}") from exc
    if classes.shape[0] < 2:
        hint = (f"; -1 marks unlabeled rows ({int(unlabeled.sum())} here): if -1 is one of your classes (labels "
                "-1/1, say), recode the labels") if unlabeled.any() else ""
        raise ValueError(
            f"{name} has {classes.shape[0]} class among its labeled rows ({classes.tolist()}); "
            f"a classifier needs at least two{hint}"
        )
    y_idx = np.full(y.shape[0], UNLABELED, dtype=np.int64)
    y_idx[~unlabeled] = inverse
    return classes, y_idx


def labeled_mask(y_idx) -> np.ndarray:
    """Which rows are labeled: ``y_idx >= 0`` for class ids (n,), a row not all ``-1`` for multi-label (n, L)."""
    y_idx = np.asarray(y_idx)
    return y_idx >= 0 if y_idx.ndim == 1 else y_idx[:, 0] >= 0  # an unlabeled multi-label row is -1 throughout


def is_multilabel(y) -> bool:
    """Whether ``y`` is multi-label: a 2-D indicator with two or more columns, or label sets (lists, tuples, sets)."""
    if hasattr(y, "to_numpy"):  # a DataFrame or Series: its values, a one-column frame of label sets as a column
        if getattr(y, "ndim", 1) == 2 and y.shape[1] >= 2:
            return True
        y = y.to_numpy()
        y = y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
    if isinstance(y, np.ndarray):
        return (y.ndim == 2 and y.shape[1] >= 2) or (y.dtype == object and y.ndim == 1 and any(
            isinstance(v, (list, tuple, set, frozenset, np.ndarray)) for v in y))
    if isinstance(y, (list, tuple)):
        return any(isinstance(v, (list, tuple, set, frozenset, np.ndarray)) for v in y)
    return hasattr(y, "toarray") and len(y.shape) == 2  # a scipy sparse indicator matrix


def encode_multilabel(y, n_samples, name="y", classes=None):
    """Multi-label targets as a 0/1 matrix, with ``-1`` rows for unlabeled texts.

    ``y`` is either a 2-D indicator (array, DataFrame or scipy sparse, shape
    (n, L), entries 0 or 1; a row of ``-1`` is unlabeled) or a sequence of
    label sets, one per text (lists, tuples or sets of labels; scikit-learn's
    ``MultiLabelBinarizer`` semantics: an empty set is a text with no label;
    the number ``-1`` or string ``"-1"`` instead of a set is unlabeled).

    Parameters
    ----------
    classes : array, optional
        The label of each column (a fitted model's ``classes_``); by default
        the columns of an indicator (``0..L-1``) or the sorted labels of the
        sets.

    Returns
    -------
    classes : ndarray of shape (L,)
    Y : ndarray of int8, shape (n, L)
        0/1 for labeled rows, ``-1`` on every column of an unlabeled row.
    """
    if hasattr(y, "toarray"):
        y = y.toarray()
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    if isinstance(y, (list, tuple)):  # nested lists of numbers are an indicator, as for scikit-learn
        try:
            arr = np.asarray(y)
        except ValueError:  # ragged: label sets
            arr = None
        if arr is not None and arr.ndim == 2 and arr.dtype.kind in "biuf":
            y = arr
    sets = not (isinstance(y, np.ndarray) and y.ndim == 2)
    if sets:
        rows = list(y)
        if len(rows) != n_samples:
            raise ValueError(f"X and {name} have different lengths: {n_samples} texts but {len(rows)} label sets")
        unlabeled = np.array([not isinstance(v, (list, tuple, set, frozenset, np.ndarray)) and is_unlabeled(v)
                              for v in rows], dtype=bool)
        for i, v in enumerate(rows):
            if not unlabeled[i] and (not isinstance(v, (list, tuple, set, frozenset, np.ndarray))):
                raise TypeError(f"{name}[{i}] is {v!r}; in multi-label y every entry is a list, tuple or set of "
                                "labels (or -1 for an unlabeled text)")
        labels = [list(v) for v, u in zip(rows, unlabeled) if not u]
        if classes is None:
            try:
                classes = np.array(sorted({lab for v in labels for lab in v}))
            except TypeError as exc:
                raise TypeError(f"the labels in {name} cannot be sorted (mixed types?): {exc}") from exc
        column = {c: j for j, c in enumerate(np.asarray(classes).tolist())}
        Y = np.zeros((n_samples, len(column)), dtype=np.int8)
        for i, v in enumerate(rows):
            if unlabeled[i]:
                continue
            for lab in v:
                key = lab.item() if isinstance(lab, np.generic) else lab
                if key not in column:
                    raise ValueError(f"{name}[{i}] has the label {lab!r}, which is not one of the model's classes")
                Y[i, column[key]] = 1
    else:
        Y = np.asarray(y)
        if Y.shape[0] != n_samples:
            raise ValueError(f"X and {name} have different lengths: {n_samples} texts but {Y.shape[0]} rows")
        try:
            Yf = Y.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"a 2-D {name} is a multi-label indicator and must hold numbers 0 and 1: {exc}") from None
        unlabeled = (Yf == UNLABELED).all(axis=1)
        bad = ~unlabeled[:, None] & ~np.isin(Yf, (0.0, 1.0))
        if bad.any():
            i, j = np.argwhere(bad)[0]
            value = Y[i, j].item() if hasattr(Y[i, j], "item") else Y[i, j]
            raise ValueError(f"{name}[{i}, {j}] is {value!r}; a multi-label indicator holds 0 or 1 (a row of "
                             "-1 marks an unlabeled text)")
        if classes is None:
            classes = np.arange(Y.shape[1])
        elif len(classes) != Y.shape[1]:
            raise ValueError(f"{name} has {Y.shape[1]} columns but the model has {len(classes)} labels")
        Y = Yf.astype(np.int8)
    Y[unlabeled] = UNLABELED
    if unlabeled.all():
        raise ValueError(f"every row of {name} is unlabeled (-1): at least one labeled text is needed")
    if len(classes) < 2:
        raise ValueError(f"{name} has {len(classes)} label(s) ({list(classes)}); multi-label needs at least two "
                         "(for one label, pass it as a 1-D binary y)")
    return np.asarray(classes), Y


def check_sample_weight(sample_weight, y_idx, name="sample_weight", *, use="the fit would have nothing to learn from"):
    """``sample_weight`` as a float64 array of shape (n,), or None.

    Every weight must be a finite number >= 0, and the labeled rows (``y_idx
    >= 0``) must not all weigh 0 (``use`` says why in the message).
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got a {type(sample_weight).__name__}")
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers: {exc}") from None
    if w.ndim == 0:
        w = np.full(len(y_idx), float(w))
    if w.shape != (len(y_idx),):
        raise ValueError(f"{name} has shape {w.shape}; it needs one weight per text, shape ({len(y_idx)},)")
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if len(bad):
        raise ValueError(f"{name}[{bad[0]}] is {float(w[bad[0]])!r}; weights must be finite and >= 0")
    labeled = labeled_mask(y_idx)
    if not (w[labeled] > 0).any():
        raise ValueError(f"{name} is 0 on every labeled row: {use}")
    return w


def check_some_weight(y_idx, class_weight=None, sample_weight=None):
    """Refuse training rows whose labeled ones all weigh 0 (``class_weight[y] · sample_weight``, validation rows
    apart): CE, ``L_G`` and the closed-form head would have nothing to learn from."""
    rows = np.flatnonzero(np.asarray(y_idx) >= 0)
    w = np.ones(len(rows)) if class_weight is None else np.asarray(class_weight)[np.asarray(y_idx)[rows]]
    w = w if sample_weight is None else w * np.asarray(sample_weight)[rows]
    if len(rows) and not (w > 0).any():
        raise ValueError("class_weight and sample_weight give every labeled training row (validation rows apart) "
                         "the weight 0: the fit would have nothing to learn from")


def check_class_weight(class_weight, name="class_weight"):
    """``None``, ``"balanced"``, or a dict of finite weights >= 0 (its keys are checked against ``y`` in ``fit``)."""
    cw = class_weight
    if not (cw is None or isinstance(cw, dict) or (isinstance(cw, str) and cw == "balanced")):
        raise ValueError(f"{name} must be None, 'balanced' or a dict, got {cw!r}")
    for label, weight in (cw.items() if isinstance(cw, dict) else ()):
        if isinstance(weight, (bool, np.bool_)) or not isinstance(weight, (Real, np.number)) \
                or not math.isfinite(weight) or weight < 0:
            raise ValueError(f"{name}[{label!r}] is {weight!r}; class weights must be finite numbers >= 0")


def check_number(value, name, *, low=None, high=None, include_low=True, include_high=True, integer=False):
    """A scalar parameter in a range; ``check_scalar`` with NaN refused too."""
    bounds = {(True, True): "both", (True, False): "left", (False, True): "right", (False, False): "neither"}
    # check_scalar refuses an inclusive bound on a side that has no bound.
    include_low = include_low and low is not None
    include_high = include_high and high is not None
    target = Integral if integer else Real
    check_scalar(value, name, target, min_val=low, max_val=high,
                 include_boundaries=bounds[(include_low, include_high)])
    if isinstance(value, bool):
        raise TypeError(f"{name} must be {'an int' if integer else 'a number'}, got a bool")
    if not integer and not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value
