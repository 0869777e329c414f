import pytest
import torch

import skgloss.devices as devices
from skgloss.devices import (
    DeviceCounts,
    autocast,
    cpu_has_native_bf16,
    grad_scaler,
    resolve_device,
    resolve_precision,
    solve_dtype,
    transfer_options,
)


def test_cpu_flags_decide_native_bf16(tmp_path):
    with_bf16 = tmp_path / "a"
    with_bf16.write_text("processor : 0\nflags : fpu sse avx2 avx512f avx512_bf16\n")
    with_amx = tmp_path / "b"
    with_amx.write_text("flags : fpu amx_bf16 amx_tile\n")
    without = tmp_path / "c"
    without.write_text("flags : fpu sse avx2 fma\n")
    assert cpu_has_native_bf16(str(with_bf16)) and cpu_has_native_bf16(str(with_amx))
    assert not cpu_has_native_bf16(str(without))
    assert not cpu_has_native_bf16(str(tmp_path / "missing"))


@pytest.mark.parametrize("native, expected", [(True, "bf16"), (False, "fp32")])
def test_auto_precision_on_cpu_follows_the_instructions(monkeypatch, native, expected):
    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda: native)
    assert resolve_precision("auto", torch.device("cpu")) == expected


def test_explicit_precisions_and_errors():
    cpu = torch.device("cpu")
    assert [resolve_precision(p, cpu) for p in ("fp32", "bf16", "fp16")] == ["fp32", "bf16", "fp16"]
    assert resolve_precision("auto", torch.device("mps")) == "fp32"  # no native-bf16 rule for MPS
    for bad in ("float16", None, 16):
        with pytest.raises(ValueError, match="precision"):
            resolve_precision(bad, cpu)


def test_autocast_runs_linear_layers_in_the_chosen_precision():
    layer = torch.nn.Linear(4, 3)
    x = torch.randn(2, 4)
    for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        with autocast(torch.device("cpu"), precision):
            assert layer(x).dtype == dtype


def test_grad_scaler_only_for_fp16():
    cpu = torch.device("cpu")
    assert isinstance(grad_scaler(cpu, "fp16"), torch.amp.GradScaler)
    noop = grad_scaler(cpu, "bf16")
    loss = torch.tensor(2.0)
    assert noop.scale(loss) is loss
    p = torch.nn.Parameter(torch.ones(1))
    opt = torch.optim.SGD([p], lr=0.5)
    p.grad = torch.ones(1)
    noop.unscale_(opt)
    noop.step(opt)
    noop.update()
    assert p.item() == 0.5


def test_transfer_options_and_solve_dtype_by_device_kind():
    # torch.device objects of any kind can be made on any machine
    assert transfer_options(torch.device("cuda", 0)) == devices.TransferOptions(True, True)
    assert transfer_options(torch.device("cpu")) == devices.TransferOptions(False, False)
    assert transfer_options(torch.device("mps")) == devices.TransferOptions(False, False)
    assert solve_dtype(torch.device("cpu")) == torch.float64
    assert solve_dtype(torch.device("cuda")) == torch.float64
    assert solve_dtype(torch.device("mps")) == torch.float32


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="not a torch device"):
        resolve_device("gpu:banana")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="no meta device"):
        resolve_device("meta")  # no data: a fit would fail deep inside


def test_other_accelerators_are_taken_only_where_torch_reports_them(monkeypatch):
    """xpu, hpu: torch.device accepts the names on any build; a fit on one that is not there failed deep inside
    torch (an AssertionError, a missing module)."""
    monkeypatch.setattr(torch, "xpu", type("FakeBackend", (), {"is_available": staticmethod(lambda: False)}),
                        raising=False)
    with pytest.raises(ValueError, match="device='xpu'.*no xpu device"):
        resolve_device("xpu")
    monkeypatch.setattr(torch.xpu, "is_available", staticmethod(lambda: True))
    assert resolve_device("xpu:0") == torch.device("xpu:0")
    monkeypatch.delattr(torch, "hpu", raising=False)
    with pytest.raises(ValueError, match="no hpu device"):
        resolve_device("hpu")


def test_device_counts_sum_and_read_on_demand():
    counts = DeviceCounts("a", "b")
    counts.add(a=torch.tensor(2), b=torch.tensor(True))
    counts.add(a=torch.tensor(3))
    assert counts.get("a") == 5 and counts.get("b") == 1
    counts.add(a=1)
    assert counts.get("a") == 6 and counts.get("b") == 1
