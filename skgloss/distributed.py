"""Data-parallel fits: one ``fit`` call shared by several processes.

Run the script that calls ``fit`` under ``torchrun --nproc_per_node N`` (or
``accelerate launch``, or any launcher that sets ``RANK``, ``WORLD_SIZE``,
``MASTER_ADDR`` and ``MASTER_PORT``): every process runs the same call on the
same ``X`` and ``y``, and together they train one model (:doc:`scaling`).

How the work is shared
----------------------
- **Training steps.** ``batch_size`` stays the *global* batch: each of the N
  processes embeds its contiguous share of every batch (about
  ``batch_size / N`` rows), and the pooled embeddings ``h`` are gathered
  across processes (:func:`gather_rows`, gradients flowing back to the
  process that embedded each row). Every process then computes the whole
  batch's loss, CE and the G-Loss graph over all ``batch_size`` rows, so
  that the graph of a step spans the global batch and the loss is the one a
  single process would compute on it; gradients are averaged across
  processes (:meth:`DataParallel.average_gradients`). With the same rows,
  masks and no dropout, the gradients equal a single process's to float
  rounding; a fit differs from a one-process fit only by its dropout draws.
- **Passes without gradients** (the corpus memory bank, validation rows, the
  closed-form head's rows): each process embeds a contiguous share and the
  embeddings are gathered (:meth:`DataParallel.embed_sharded`), so every
  process holds the same memory bank and validation scores.
- **Decisions** agree by construction: the same seed (rank 0's, broadcast),
  the same batches, the same validation scores; the corpus graph is built by
  rank 0 and broadcast, since an approximate neighbour search need not give
  the same graph twice.
- **Files and logs**: only rank 0 logs and writes checkpoints; every process
  ends with the same fitted estimator, whose ``world_size_`` says how many
  processes trained it.

A fit outside such a launch (no ``WORLD_SIZE`` above 1 and no process group)
runs exactly as before, with ``world_size_ == 1``.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import hashlib
import logging
import os
import time

import numpy as np
import torch

__all__ = ["DataParallel", "current", "gather_rows", "environment_world_size", "launched_rank"]

#: How long a collective waits for the other processes before it fails (a process that died).
TIMEOUT = datetime.timedelta(minutes=10)

_ACTIVE: list = []

#: How long the process waits, without the GIL, after leaving the group at exit. A gloo worker thread can
#: still hold a finished collective (its work object) after the call returned, and freeing that work frees
#: the Python objects of its tensors, for which the thread needs the GIL; a thread that asks for the GIL while
#: the interpreter shuts down aborts the whole process ("terminate called without an active exception", a
#: SIGABRT after the script's work was done). Waiting lets such a thread take the GIL and finish first. With
#: torch 2.13 on 2 CPU cores, the data-parallel test scenario tests/distributed_worker.py "fits" aborted at
#: exit in 7 of 37 runs without the wait and in none of 30 with it (nor its -1 and few-row fits alone, which
#: had aborted in 2 of 12, in 40 runs).
_EXIT_GRACE_SECONDS = 0.1


def environment_world_size() -> int:
    """``WORLD_SIZE`` as a launcher set it (1 without one)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError as exc:
        raise ValueError(f"the environment variable WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not an "
                         "integer") from exc


def launched_rank() -> int:
    """This process's ``RANK`` as a launcher set it (0 without one): whether it is the one that writes."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def _leave_group():
    """At exit: leave the process group skgloss joined (if the script has not already), then give the
    group's worker threads :data:`_EXIT_GRACE_SECONDS` to finish with the interpreter still running."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    time.sleep(_EXIT_GRACE_SECONDS)


def current():
    """The :class:`DataParallel` of the fit running in this process, or None."""
    return _ACTIVE[-1] if _ACTIVE else None


def _all_gather_rows(local, sizes, group=None):
    """Every process's rows (``sizes[r]`` of them on rank r), in rank order; no gradient.

    Collectives need one shape on every process: each pads its rows to the
    largest share, and the padding is cut off again.
    """
    import torch.distributed as dist

    padded = local.new_zeros((max(sizes), *local.shape[1:]))
    padded[:local.shape[0]] = local
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded, group=group)
    return torch.cat([p[:s] for p, s in zip(parts, sizes)])


class _GatherRows(torch.autograd.Function):
    """Concatenate every process's rows; the gradient of each row goes back to its process.

    Every process computes the same loss of the gathered rows, so the
    gradient of the local rows is that loss's gradient, times the number of
    processes: :meth:`DataParallel.average_gradients` then divides the sum
    of all processes' parameter gradients by that number, which gives the
    gradient of the one loss (the head's, computed whole on every process,
    is averaged to itself).
    """

    @staticmethod
    def forward(ctx, local, sizes, rank, group):

        ctx.start, ctx.size, ctx.world = sum(sizes[:rank]), sizes[rank], len(sizes)
        return _all_gather_rows(local, sizes, group)

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.start:ctx.start + ctx.size] * ctx.world, None, None, None


def gather_rows(local, sizes, rank, group=None):
    """The rows of every process, in rank order, as one tensor that gradients flow through.

    Parameters
    ----------
    local : torch.Tensor of shape (sizes[rank], ...)
        This process's rows.
    sizes : list of int
        How many rows each process holds (0 is allowed).
    rank : int
    group : torch.distributed.ProcessGroup, optional

    Returns
    -------
    torch.Tensor of shape (sum(sizes), ...)
    """
    return _GatherRows.apply(local, list(sizes), rank, group)


def _split(rows, world_size):
    """Contiguous shares of ``rows``, one per process (the first ones one row longer where it does not divide)."""
    return np.array_split(np.asarray(rows), world_size)


class DataParallel:
    """The processes of one data-parallel fit.

    Parameters
    ----------
    device : torch.device
        This process's training device (its collectives run there: NCCL for
        CUDA, gloo otherwise).
    group : torch.distributed.ProcessGroup, optional
        Default: the default process group.

    Attributes
    ----------
    rank, world_size : int
    is_main : bool
        ``rank == 0``: the process that logs and writes files.
    """

    def __init__(self, device, group=None):
        import torch.distributed as dist

        self.group = group
        self.rank = dist.get_rank(group)
        self.world_size = dist.get_world_size(group)
        self.is_main = self.rank == 0
        backend = dist.get_backend(group)
        # where tensors must be for this backend's collectives
        self.comm_device = device if str(backend) in ("nccl", "xccl") else torch.device("cpu")

    # ------------------------------------------------------------------ set-up
    @staticmethod
    @contextlib.contextmanager
    def launch(device):
        """The data-parallel context of one fit, or None outside a launch.

        Joins the process group that the launcher describes (``RANK``,
        ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``; NCCL for CUDA
        devices, gloo otherwise) when none exists yet; a group the caller
        made is used as it is. A group skgloss joined stays for the rest of
        the process and is left at its exit: the process was launched to be
        one of the group, and leaving and joining again for the next fit
        races against the launcher's store (a process can join the new
        group on the old group's records while another is still joining,
        and the two then wait for each other for ever).
        """
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            if environment_world_size() <= 1:
                yield None
                return
            if not dist.is_available():
                raise RuntimeError("WORLD_SIZE > 1 asks for a data-parallel fit, but this torch build has no "
                                   "torch.distributed")
            backend = "nccl" if device.type == "cuda" else "gloo"
            dist.init_process_group(backend, timeout=TIMEOUT, device_id=device if device.type == "cuda" else None)
            atexit.register(_leave_group)
        if dist.get_world_size() <= 1:
            yield None
            return
        dp = DataParallel(device)
        _ACTIVE.append(dp)
        quiet = logging.getLogger("skgloss")
        old_level = quiet.level
        if not dp.is_main:  # one process speaks; warnings still show everywhere
            quiet.setLevel(logging.WARNING)
        try:
            yield dp
        finally:
            quiet.setLevel(old_level)
            _ACTIVE.remove(dp)

    @staticmethod
    def local_device(device):
        """``device`` with this process's GPU index (``LOCAL_RANK``) where it names CUDA without one."""
        if device.type == "cuda" and device.index is None and environment_world_size() > 1:
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return device

    # ------------------------------------------------------------- collectives
    def broadcast(self, obj):
        """Rank 0's ``obj`` on every process (any picklable object)."""
        import torch.distributed as dist

        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0, group=self.group,
                                   device=self.comm_device if self.comm_device.type != "cpu" else None)
        return box[0]

    def run_on_main(self, fn):
        """``fn()`` run by rank 0 alone, its result (or the exception it raised) on every process.

        For what touches shared files (a checkpoint folder): one process
        does it, and an error stops all of them instead of leaving the
        others waiting in a collective.
        """
        outcome = None
        if self.is_main:
            try:
                outcome = ("ok", fn())
            except Exception as exc:  # noqa: BLE001 - re-raised on every process below
                outcome = ("error", exc)
        kind, value = self.broadcast(outcome)
        if kind == "error":
            raise value
        return value

    def all_objects(self, obj):
        """Every process's ``obj``, in rank order."""
        import torch.distributed as dist

        out = [None] * self.world_size
        dist.all_gather_object(out, obj, group=self.group)
        return out

    def check_same_data(self, texts, y, sample_weight=None):
        """Raise ``ValueError`` on every process unless all hold the same ``X``, ``y`` and ``sample_weight``."""
        digest = hashlib.sha256()
        digest.update(str(len(texts)).encode())
        for text in texts:
            digest.update(text.encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
        for part in (y, sample_weight):
            if part is not None:
                arr = np.ascontiguousarray(part)
                digest.update(str((arr.dtype.str, arr.shape)).encode())
                digest.update(arr.tobytes())
        digests = self.all_objects(digest.hexdigest())
        differ = [r for r, d in enumerate(digests) if d != digests[0]]
        if differ:
            raise ValueError(f"a data-parallel fit needs the same X, y and sample_weight on every process, but "
                             f"rank(s) {differ} hold different ones than rank 0: pass every process the whole "
                             "training set (each takes its share of every batch itself)")

    def average_gradients(self, params):
        """Replace each parameter's gradient by its mean over the processes.

        A parameter without a gradient (one the forward pass never uses,
        such as BERT's pooler) keeps none: every process runs the same
        graph, so the same parameters have one everywhere, and AdamW then
        leaves them alone as in a one-process fit (a zero gradient would
        still apply weight decay).
        """
        import torch.distributed as dist

        params = [p for p in params if p.grad is not None]
        if not params:
            return
        flat = torch.cat([p.grad.reshape(-1) for p in params]).to(self.comm_device)
        dist.all_reduce(flat, group=self.group)
        flat = flat.to(params[0].device) / self.world_size
        offset = 0
        for p in params:
            n = p.numel()
            p.grad = flat[offset:offset + n].view_as(p).to(p.dtype)
            offset += n

    def broadcast_parameters(self, modules):
        """Rank 0's parameters and buffers in every process (one starting point for all)."""
        import torch.distributed as dist

        for module in modules:
            for t in list(module.parameters()) + list(module.buffers()):
                buf = t.data.to(self.comm_device)
                dist.broadcast(buf, src=0, group=self.group)
                t.data.copy_(buf)

    # --------------------------------------------------------------- sharding
    def shares(self, rows):
        """Each process's contiguous share of one global batch (a list of int arrays)."""
        return _split(rows, self.world_size)

    def gather(self, local, sizes):
        """:func:`gather_rows` in this group."""
        return gather_rows(local, sizes, self.rank, self.group)

    def embed_sharded(self, embed, rows):
        """``embed(rows)`` computed by every process on its share, gathered on all.

        ``embed`` maps an int array of rows to an array ``(len(rows), d)``
        or a tuple of such arrays; the result is in the order of ``rows``.
        """

        shares = _split(rows, self.world_size)
        sizes = [len(s) for s in shares]
        out = embed(shares[self.rank])
        single = not isinstance(out, tuple)
        gathered = []
        for arr in ((out,) if single else out):
            local = torch.from_numpy(np.ascontiguousarray(arr)).to(self.comm_device)
            gathered.append(_all_gather_rows(local, sizes, self.group).cpu().numpy())
        return gathered[0] if single else tuple(gathered)
