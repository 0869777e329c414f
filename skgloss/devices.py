"""Devices and numeric precision: where a fit runs and in which float format.

Everything that depends on the kind of machine lives here, so that it can be
tested on any machine:

- :func:`resolve_device`: ``"auto"`` picks CUDA, then MPS, then the CPU;
- :func:`resolve_precision`: ``"auto"`` picks bfloat16 where the device does
  bfloat16 arithmetic natively (CUDA GPUs with bf16 support; CPUs with
  AVX512-BF16 or AMX) and float32 elsewhere. On a CPU without those
  instructions bfloat16 is emulated: on this project's AVX2 machine a MiniLM
  epoch took 16 times as long in bf16 as in fp32 (``benchmarks/fit_throughput.py``);
- :func:`autocast`: the mixed-precision context around the encoder and the
  head (the kernel and the harmonic solve of G-Loss always run in float64);
- :func:`grad_scaler`: a gradient scaler for float16 (whose small exponent
  range needs one), a no-op otherwise;
- :func:`transfer_options`: pinned host memory and non-blocking copies for
  batches bound for a CUDA device;
- :func:`solve_dtype`: float64 for the harmonic solve, except on MPS, which
  has no float64 (float32 there);
- :class:`DeviceCounts`: counters summed on the device and read on demand,
  so that counting never makes the host wait.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import torch

__all__ = ["PRECISIONS", "resolve_device", "resolve_precision", "autocast", "grad_scaler", "transfer_options",
           "solve_dtype", "cpu_has_native_bf16", "DeviceCounts"]

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(device="auto") -> torch.device:
    """``"auto"``: CUDA, then MPS, then CPU; anything else goes to ``torch.device``.

    Raises
    ------
    ValueError
        If ``device`` is not a device torch knows, or names an accelerator
        that this torch build or machine does not have.
    """
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device: {exc}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r}: this torch build or machine has no CUDA device")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device={device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device={device!r}: MPS is not available here")
    if dev.type not in ("cpu", "cuda", "mps"):  # xpu, hpu, ...: only where torch says the backend is there
        backend = getattr(torch, dev.type, None)
        available = getattr(backend, "is_available", None)
        if dev.type == "meta" or not callable(available) or not available():
            raise ValueError(f"device={device!r}: this torch build or machine has no {dev.type} device "
                             "(skgloss runs on cpu, cuda and mps, or an accelerator torch reports as available)")
    return dev


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16(cpuinfo_path="/proc/cpuinfo") -> bool:
    """Whether the CPU has bfloat16 instructions (AVX512-BF16 or AMX-BF16).

    Read from the Linux CPU flags; False where they cannot be read.
    """
    try:
        with open(cpuinfo_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def _native_bf16(device: torch.device) -> bool:
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return cpu_has_native_bf16()
    return False


def resolve_precision(precision, device: torch.device) -> str:
    """The precision a fit on ``device`` uses: ``"fp32"``, ``"bf16"`` or ``"fp16"``.

    Parameters
    ----------
    precision : {"auto", "fp32", "bf16", "fp16"}
        ``"auto"``: ``"bf16"`` where ``device`` computes in bfloat16 natively,
        else ``"fp32"``.
    device : torch.device

    Raises
    ------
    ValueError
        For an unknown value, or ``"fp16"``/``"bf16"`` on a device whose
        autocast does not support it.
    """
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bf16" if _native_bf16(device) else "fp32"
    if precision != "fp32" and not torch.amp.is_autocast_available(device.type):
        raise ValueError(f"precision={precision!r}: torch has no autocast for {device.type} devices")
    return precision


def autocast(device: torch.device, precision: str):
    """Autocast context for the encoder and the head (a no-op for ``"fp32"``)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=_DTYPES[precision])


class _NoScaler:
    """The interface of ``torch.amp.GradScaler`` for precisions that need no scaling."""

    def scale(self, loss):
        return loss

    def unscale_(self, optimizer):
        pass

    def step(self, optimizer):
        optimizer.step()

    def update(self):
        pass

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def grad_scaler(device: torch.device, precision: str):
    """``torch.amp.GradScaler`` for ``"fp16"``, else an object with the same methods that does nothing.

    The scaler's ``step`` reads whether gradients overflowed, a host sync
    per step: the price of float16 training; bf16 needs none.
    """
    if precision == "fp16":
        return torch.amp.GradScaler(device.type)
    return _NoScaler()


@dataclass(frozen=True)
class TransferOptions:
    """How batches travel from host to device.

    pin_memory : bool
        Page-locked host buffers, from which copies can run asynchronously.
    non_blocking : bool
        Copies that do not wait for the device (the host prepares the next
        batch meanwhile).
    """

    pin_memory: bool
    non_blocking: bool


def transfer_options(device: torch.device) -> TransferOptions:
    """Pinned memory and non-blocking copies for CUDA devices; plain copies elsewhere.

    On the CPU a "copy" to the device is no copy at all, and MPS shares
    memory with the host.
    """
    cuda = device.type == "cuda"
    return TransferOptions(pin_memory=cuda, non_blocking=cuda)


def solve_dtype(device: torch.device) -> torch.dtype:
    """float64 for the harmonic solve; float32 on MPS, which has no float64."""
    return torch.float32 if device.type == "mps" else torch.float64


class DeviceCounts:
    """Integer counters summed where their values live, read (one wait for the device) when asked.

    Parameters
    ----------
    *names : str
        The counters.
    """

    def __init__(self, *names):
        self._host = dict.fromkeys(names, 0)
        self._device = {}

    def add(self, **values):
        """Add 0-d tensors (or ints) to the counters of the same names."""
        for name, value in values.items():
            value = torch.as_tensor(value).detach().long()
            pending = self._device.get(name)
            if pending is not None and pending.device != value.device:
                self._host[name] += int(pending)
                pending = None
            self._device[name] = value if pending is None else pending + value

    def get(self, name) -> int:
        """The current total of ``name``."""
        pending = self._device.pop(name, None)
        if pending is not None:
            self._host[name] += int(pending)
        return self._host[name]
