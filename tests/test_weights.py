"""engine.runtime.weights: state-dict files load all-or-nothing with per-layer errors; saves are atomic."""

from __future__ import annotations

import os

import pytest
import torch
from small_graphs import conv_chain
from torch import nn

from engine.runtime import weights as weights_mod
from engine.runtime.build import WeightsError, build_module, load_weights, save_weights

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def snapshot(m: nn.Module) -> dict:
    return {k: v.clone() for k, v in m.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_round_trip_restores_every_tensor(tmp_path):
    """save_weights then load_weights into a differently seeded model copies every tensor."""
    src = build_module(conv_chain(), seed=1)
    src.bn.running_mean.fill_(0.25)
    save_weights(src, tmp_path / "w.pt")
    dst = build_module(conv_chain(), seed=2)
    load_weights(dst, tmp_path / "w.pt")
    assert same(dst.state_dict(), src.state_dict())
    assert [p.name for p in tmp_path.iterdir()] == ["w.pt"]


def test_keys_follow_the_exported_attribute_names(tmp_path):
    """The file's keys are the attribute names of the exported code (node ids here)."""
    m = build_module(conv_chain())
    save_weights(m, tmp_path / "w.pth")
    keys = set(torch.load(tmp_path / "w.pth", weights_only=True))
    assert keys == {
        "c.weight",
        "c.bias",
        "bn.weight",
        "bn.bias",
        "bn.running_mean",
        "bn.running_var",
        "bn.num_batches_tracked",
        "fc.weight",
        "fc.bias",
    }


def test_mismatch_listed_with_shapes_and_model_unchanged(tmp_path):
    """Missing, unexpected and wrong-shaped keys appear with shapes, one per line; nothing loads."""
    donor = build_module(conv_chain(), seed=5)
    sd = donor.state_dict()
    del sd["fc.bias"]
    sd["extra.weight"] = torch.zeros(2)
    sd["c.weight"] = torch.zeros(4, 3, 5, 5)
    torch.save(sd, tmp_path / "w.pt")
    m = build_module(conv_chain(), seed=9)
    before = snapshot(m)
    with pytest.raises(WeightsError) as info:
        load_weights(m, tmp_path / "w.pt")
    err = info.value
    assert err.missing == ["fc.bias"]
    assert err.unexpected == ["extra.weight"]
    assert err.mismatched == [("c.weight", (4, 3, 3, 3), (4, 3, 5, 5))]
    assert err.lines == [
        "w.pt: the weights do not fit this model (1 missing, 1 unexpected, 1 of the wrong "
        "shape); nothing was loaded",
        "missing from the file (1):",
        "  fc.bias  5",
        "in the file, not in the model (1):",
        "  extra.weight  2",
        "of the wrong shape (1):",
        "  c.weight: 4x3x5x5 in the file, the model needs 4x3x3x3",
    ]
    assert str(err) == "\n".join(err.lines)
    assert same(m.state_dict(), before)


def test_non_tensor_value_is_a_mismatch(tmp_path):
    """A key holding a number instead of a tensor is reported, the model unchanged."""
    m = build_module(conv_chain())
    sd = m.state_dict()
    sd["fc.bias"] = 3
    torch.save(sd, tmp_path / "w.pt")
    before = snapshot(m)
    with pytest.raises(WeightsError, match="fc.bias: not a tensor in the file"):
        load_weights(m, tmp_path / "w.pt")
    assert same(m.state_dict(), before)


def test_failure_inside_load_restores_the_model(tmp_path, monkeypatch):
    """If torch fails half-way through copying, the earlier tensors are put back."""
    m = build_module(conv_chain(), seed=1)
    save_weights(build_module(conv_chain(), seed=2), tmp_path / "w.pt")
    before = snapshot(m)
    real = nn.Module.load_state_dict

    def half_then_fail(self, state, strict=True):
        real(self, {k: v for k, v in state.items() if k.startswith("c.")}, strict=False)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(nn.Module, "load_state_dict", half_then_fail)
    with pytest.raises(WeightsError, match="disk on fire"):
        load_weights(m, tmp_path / "w.pt")
    monkeypatch.setattr(nn.Module, "load_state_dict", real)
    assert same(m.state_dict(), before)


def test_missing_batchnorm_counter_is_accepted(tmp_path):
    """A file without num_batches_tracked (older torch) still loads."""
    src = build_module(conv_chain(), seed=3)
    sd = src.state_dict()
    del sd["bn.num_batches_tracked"]
    torch.save(sd, tmp_path / "w.pt")
    m = build_module(conv_chain(), seed=4)
    load_weights(m, tmp_path / "w.pt")
    assert torch.equal(m.c.weight, src.c.weight)


def test_checkpoint_wrapper_is_unwrapped(tmp_path):
    """A {"state_dict": ...} checkpoint loads like the bare state dict."""
    src = build_module(conv_chain(), seed=3)
    torch.save({"state_dict": src.state_dict(), "epoch": 7}, tmp_path / "ckpt.pt")
    m = build_module(conv_chain(), seed=4)
    load_weights(m, tmp_path / "ckpt.pt")
    assert same(m.state_dict(), src.state_dict())


def test_pickled_model_is_refused_without_unpickling(tmp_path):
    """A whole pickled module (needs more than weights_only) gets a clear message."""
    torch.save(nn.Linear(2, 2), tmp_path / "model.pt")
    with pytest.raises(
        WeightsError, match="model.pt: cannot load weights: it holds Python objects besides tensors"
    ):
        load_weights(build_module(conv_chain()), tmp_path / "model.pt")


class _Trap:
    """Unpickling this calls ``os.makedirs(path)``: proof that the file was unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.makedirs, (self.path,))


def test_hostile_pickle_is_never_executed(tmp_path):
    """A torch file whose pickle would run code is refused and the code never runs."""
    marker = tmp_path / "ran"
    torch.save({"conv.weight": _Trap(str(marker))}, tmp_path / "evil.pt")
    m = build_module(conv_chain())
    before = snapshot(m)
    with pytest.raises(
        WeightsError, match="evil.pt: cannot load weights: it holds Python objects besides tensors"
    ):
        load_weights(m, tmp_path / "evil.pt")
    assert not marker.exists()
    assert same(m.state_dict(), before)


@pytest.mark.parametrize("content", [b"hello, not a torch file", b""])
def test_garbage_file_is_refused(tmp_path, content):
    """A file that torch.save did not write is refused, naming the file."""
    (tmp_path / "junk.pt").write_bytes(content)
    with pytest.raises(
        WeightsError, match="junk.pt: cannot load weights: it is not a file written by torch.save"
    ):
        load_weights(build_module(conv_chain()), tmp_path / "junk.pt")


def test_truncated_torch_file_is_refused(tmp_path):
    """Half of a real weights file is reported as damaged, not as a traceback."""
    save_weights(build_module(conv_chain()), tmp_path / "w.pt")
    data = (tmp_path / "w.pt").read_bytes()
    (tmp_path / "w.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(
        WeightsError,
        match="w.pt: cannot load weights: it is not a file written by torch.save, or it is damaged",
    ):
        load_weights(build_module(conv_chain()), tmp_path / "w.pt")


def test_plain_pickle_is_refused_without_warning(tmp_path):
    """A plain pickle (protocol 4) is refused unread (it could declare any memory), no warning."""
    import pickle

    (tmp_path / "p.pt").write_bytes(pickle.dumps({"a": 1}, protocol=4))
    with pytest.raises(WeightsError, match="p.pt: cannot load weights: a plain pickle or torch's"):
        load_weights(build_module(conv_chain()), tmp_path / "p.pt")


def test_not_a_dict_is_refused(tmp_path):
    """A torch file holding a list is not a state dict."""
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with pytest.raises(
        WeightsError,
        match="list.pt: not a state dict: expected a dictionary of named tensors, found list",
    ):
        load_weights(build_module(conv_chain()), tmp_path / "list.pt")


def test_missing_file_is_refused(tmp_path):
    """A path that does not exist gives 'no such file'."""
    with pytest.raises(WeightsError, match="nothing.pt: no such file"):
        load_weights(build_module(conv_chain()), tmp_path / "nothing.pt")


def test_save_failure_keeps_old_file(tmp_path, monkeypatch):
    """A save that fails half-way leaves the previous file intact and no temporary file."""
    m = build_module(conv_chain(), seed=1)
    save_weights(m, tmp_path / "w.pt")
    old = (tmp_path / "w.pt").read_bytes()

    def broken(obj, fh):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(weights_mod.torch, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        save_weights(build_module(conv_chain(), seed=2), tmp_path / "w.pt")
    assert (tmp_path / "w.pt").read_bytes() == old
    assert os.listdir(tmp_path) == ["w.pt"]
