"""Hostile weights files: refused from what they declare, before anything is read.

Zip records and safetensors headers are checked against a limit (four times the design's
float32 parameter bytes, at least 16 MiB); FIFOs, devices and loops of links are named;
integer tensors are refused and non-finite ones warned about. Files are generated here.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from cli import main
from engine.core.fileformat import save
from engine.core.filesafety import FileWarning, guard_weights_file
from engine.core.graph import GraphModel
from engine.runtime.build import build_module
from engine.runtime.weights import WeightsError, load_weights, save_weights

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "resources" / "sample.png"
GIB3 = 3 << 30


def design(path: Path) -> Path:
    """input 1×8×8 → conv 3×3 (2) → batchnorm, saved to ``path``."""
    m = GraphModel("w")
    m.add_node("input", {"channels": 1, "height": 8, "width": 8}, "in")
    m.add_node("conv", {"out_channels": 2, "kernel_size": 3}, "conv")
    m.add_node("batchnorm", {}, "bn")
    m.connect("in", "conv")
    m.connect("conv", "bn")
    save(m, path)
    return path


def module_of(path: Path):
    """The torch module of the design file ``path``."""
    from engine.core.fileformat import load

    return build_module(load(path), seed=0)


def declare(path: Path, suffix: str, size: int) -> Path:
    """Patch the zip central directory of ``path``: record ``*suffix`` declares ``size`` bytes."""
    data = bytearray(path.read_bytes())
    i = data.find(b"PK\x01\x02")
    patched = 0
    while i >= 0:
        n = struct.unpack_from("<H", data, i + 28)[0]
        if bytes(data[i + 46 : i + 46 + n]).decode().endswith(suffix):
            struct.pack_into("<II", data, i + 20, size, size)
            patched += 1
        i = data.find(b"PK\x01\x02", i + 4)
    assert patched == 1
    path.write_bytes(bytes(data))
    return path


def features_in_child(tmp_path: Path, *args: str) -> tuple[int, str, float, int]:
    """Run ``main.py ARGS`` in a child; return (status, stderr, seconds, peak RSS in MiB)."""
    code = (
        "import resource, sys\n"
        "from cli import main\n"
        f"rc = main({list(args)!r})\n"
        "sys.stdout.write('RSS %d\\n' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        "sys.exit(rc)\n"
    )
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    rss = int(proc.stdout.rsplit("RSS ", 1)[1]) // 1024
    return proc.returncode, proc.stderr, time.perf_counter() - t0, rss


def header_file(path: Path, header: object, body: bytes = b"", length: int | None = None) -> Path:
    """A safetensors-like file: 8-byte length, the JSON ``header``, then ``body``."""
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text) if length is None else length) + text + body)
    return path


# --------------------------------------------------------------------------- zip bombs
def test_zip_declaring_3_gib_is_refused_before_reading(tmp_path):
    """A small .pt whose tensor record declares 3 GiB: refused by name, the module unchanged."""
    g = design(tmp_path / "g.json")
    m = module_of(g)
    save_weights(m, tmp_path / "w.pt")
    declare(tmp_path / "w.pt", "data/0", GIB3)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    with pytest.raises(WeightsError) as info:
        load_weights(m, tmp_path / "w.pt")
    assert info.value.message == (
        "w.pt: refused before reading: it declares 3.00 GiB of data (largest record "
        "'archive/data/0', 3.00 GiB), more than the limit of 16.0 MiB for this design"
    )
    assert all(torch.equal(v, before[k]) for k, v in m.state_dict().items())


def test_features_with_a_zip_bomb_stays_small(tmp_path):
    """``features --weights`` on a 3 GiB declaration: exit 2, one line, and peak RSS within
    200 MiB of the same run on the sound file (it peaked at 6.5 GB)."""
    g = design(tmp_path / "g.json")
    save_weights(module_of(g), tmp_path / "ok.pt")
    save_weights(module_of(g), tmp_path / "w.pt")
    declare(tmp_path / "w.pt", "data/0", GIB3)
    args = ["features", str(g), "--image", str(SAMPLE), "--weights"]
    rc0, _, _, base = features_in_child(
        tmp_path, *args, str(tmp_path / "ok.pt"), "--out", str(tmp_path / "o0")
    )
    out = tmp_path / "out"
    rc, err, _, rss = features_in_child(tmp_path, *args, str(tmp_path / "w.pt"), "--out", str(out))
    assert rc0 == 0 and rc == 2
    assert err.startswith("features: w.pt: refused before reading: it declares 3.00 GiB")
    assert err.count("\n") == 1
    assert rss < base + 200
    assert not out.exists()


def test_import_of_a_pickle_bomb_stays_small(tmp_path):
    """``import bomb.pt`` whose pickle record declares 3 GiB: exit 2, peak RSS as for a sound file."""
    torch.save({"a": torch.zeros(2)}, tmp_path / "bomb.pt")
    declare(tmp_path / "bomb.pt", "data.pkl", GIB3)
    before = (tmp_path / "bomb.pt").read_bytes()
    rc, err, _, rss = features_in_child(
        tmp_path, "import", str(tmp_path / "bomb.pt"), "-o", str(tmp_path / "d.json")
    )
    torch.save({"a": torch.zeros(2)}, tmp_path / "plain.pt")
    _, _, _, base = features_in_child(
        tmp_path, "import", str(tmp_path / "plain.pt"), "-o", str(tmp_path / "e.json")
    )
    assert rc == 2
    assert "bomb.pt holds pickled data. ConvCanvas never unpickles a model" in err
    assert rss < base + 200  # it peaked at 6.5 GB
    assert (tmp_path / "bomb.pt").read_bytes() == before
    assert not (tmp_path / "d.json").exists()


# --------------------------------------------------------------------------- malformed safetensors
MALFORMED = {
    "empty": (b"", "not a valid safetensors file: the file is empty"),
    "seven": (b"\x01" * 7, "not a valid safetensors file: only 7 bytes long"),
    "huge-length": (
        struct.pack("<Q", 1 << 63) + b"{}",
        "not a valid safetensors file: its header length 9,223,372,036,854,775,808 is over",
    ),
    "list": (None, "not a valid safetensors file: its header is a list, not a table of tensors"),
    "pickle": (
        pickle.dumps({"conv.weight": 1}, protocol=2),
        "cannot load weights: a plain pickle or torch's legacy format",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_safetensors_exit_2(tmp_path, capsys, case):
    """Empty, 7 bytes, 2**63 header, list header, pickle: exit 2 naming the problem."""
    g = design(tmp_path / "g.json")
    content, says = MALFORMED[case]
    w = tmp_path / "w.safetensors"
    if content is None:
        header_file(w, [1, 2])
    else:
        w.write_bytes(content)
    before = w.read_bytes()
    assert main(["features", str(g), "--image", str(SAMPLE), "--out", str(tmp_path / "o"),
                 "--weights", str(w)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert err.startswith(f"features: w.safetensors: {says}")
    assert "Traceback" not in err and err.count("\n") == 1
    assert w.read_bytes() == before and not (tmp_path / "o").exists()


def test_sparse_10_gb_safetensors_refused_quickly(tmp_path, capsys):
    """A 10 GB sparse file declaring one 10 GB tensor: refused from its header in < 5 s."""
    g = design(tmp_path / "g.json")
    w = tmp_path / "w.safetensors"
    n = 10 * 10**9
    header_file(w, {"conv.weight": {"dtype": "F32", "shape": [n // 4], "data_offsets": [0, n]}})
    with open(w, "r+b") as fh:
        fh.truncate(w.stat().st_size + n)
    t0 = time.perf_counter()
    with pytest.raises(WeightsError) as info:
        load_weights(module_of(g), w)
    assert time.perf_counter() - t0 < 5
    assert info.value.message.startswith(
        "w.safetensors: refused before reading: it declares 9.31 GiB of tensors, more than the "
        "limit of 16.0 MiB"
    )


def test_trailing_bytes_after_the_tensors_refused(tmp_path):
    """A valid header followed by 1 GB of sparse zeros: refused as padded or damaged."""
    g = design(tmp_path / "g.json")
    m = module_of(g)
    save_weights(m, tmp_path / "w.safetensors")
    with open(tmp_path / "w.safetensors", "r+b") as fh:
        fh.seek(0, 2)
        fh.truncate(fh.tell() + 10**9)
    with pytest.raises(WeightsError, match="1,000,000,000 bytes after the last tensor"):
        load_weights(m, tmp_path / "w.safetensors")


# --------------------------------------------------------------------------- not regular files
def test_fifo_as_weights_does_not_hang(tmp_path, capsys):
    """A FIFO as ``--weights``: exit 2 within 20 s saying it is a FIFO."""
    g = design(tmp_path / "g.json")
    fifo = tmp_path / "w.safetensors"
    os.mkfifo(fifo)
    done = []
    t = threading.Thread(
        target=lambda: done.append(
            main(
                [
                    "features",
                    str(g),
                    "--image",
                    str(SAMPLE),
                    "--out",
                    str(tmp_path / "o"),
                    "--weights",
                    str(fifo),
                ]
            )  # fmt: skip
        ),
        daemon=True,
    )
    t.start()
    t.join(20)
    assert done == [2]
    assert capsys.readouterr().err == (
        "features: w.safetensors: is a FIFO (named pipe), not a weights file; only regular "
        "files are read\n"
    )


def test_symlink_loop_is_named(tmp_path):
    """Two links pointing at each other: 'a loop of symbolic links', not 'no such file'."""
    os.symlink(tmp_path / "b.pt", tmp_path / "a.pt")
    os.symlink(tmp_path / "a.pt", tmp_path / "b.pt")
    g = design(tmp_path / "g.json")
    with pytest.raises(WeightsError) as info:
        load_weights(module_of(g), tmp_path / "a.pt")
    assert info.value.message == "a.pt: a loop of symbolic links (it never reaches a file)"


def test_dev_zero_is_a_device(tmp_path):
    """``/dev/zero`` as weights: refused as a device without reading."""
    g = design(tmp_path / "g.json")
    with pytest.raises(WeightsError) as info:
        load_weights(module_of(g), "/dev/zero")
    assert info.value.message == (
        "zero: is a device, not a weights file; only regular files are read"
    )


# --------------------------------------------------------------------------- values
@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_integer_weights_refused(tmp_path, suffix):
    """An int64 ``conv.weight`` (would truncate to 0) is refused naming it; bn's counter is fine."""
    g = design(tmp_path / "g.json")
    m = module_of(g)
    state = {k: v.clone() for k, v in m.state_dict().items()}
    state["conv.weight"] = state["conv.weight"].to(torch.int64)
    from engine.runtime.weights import save_state

    save_state(state, tmp_path / f"w{suffix}")
    with pytest.raises(WeightsError) as info:
        load_weights(m, tmp_path / f"w{suffix}")
    dtype = "int64" if suffix == ".pt" else "I64"
    assert info.value.message == (
        f"w{suffix}: 1 tensor(s) hold {dtype} values; weights must be real numbers (float), "
        f"nothing was loaded:\n  'conv.weight' is {dtype}"
    )


def test_non_finite_and_negative_variance_are_warned(tmp_path):
    """NaN in the conv and a negative running variance: one warning each, naming the tensors."""
    g = design(tmp_path / "g.json")
    m = module_of(g)
    state = {k: v.clone() for k, v in m.state_dict().items()}
    state["conv.weight"][0, 0, 0, 0] = float("nan")
    state["conv.bias"][0] = float("inf")
    state["bn.running_var"][1] = -1.0
    torch.save(state, tmp_path / "w.pt")
    with pytest.warns(FileWarning) as record:
        load_weights(m, tmp_path / "w.pt")
    assert [str(r.message) for r in record] == [
        "w.pt: 2 tensor(s) hold NaN or infinite values: 'conv.weight', 'conv.bias'",
        "w.pt: 1 BatchNorm running variance(s) below zero: 'bn.running_var'",
    ]


def test_features_renders_weights_of_1e38(tmp_path, capsys):
    """Weights of 1e38 overflow maps to infinity: every PNG is still written, exit 0."""
    from engine.runtime.weights import save_state

    g = design(tmp_path / "g.json")
    m = module_of(g)
    state = {k: torch.full_like(v, 1e38) if v.is_floating_point() else v
             for k, v in m.state_dict().items()}  # fmt: skip
    save_state(state, tmp_path / "w.safetensors")
    out = tmp_path / "o"
    assert main(["features", str(g), "--image", str(SAMPLE), "--out", str(out),
                 "--weights", str(tmp_path / "w.safetensors")]) == 0  # fmt: skip
    assert sorted(p.name for p in out.glob("0*.png")) == [
        "000_in.png",
        "001_conv.png",
        "002_bn.png",
    ]
    assert "Traceback" not in capsys.readouterr().err


def test_features_prints_one_warning_line_for_nan(tmp_path, capsys):
    """A NaN weight: ``features: warning: ...`` naming the tensor, then the maps, exit 0."""
    g = design(tmp_path / "g.json")
    m = module_of(g)
    state = {k: v.clone() for k, v in m.state_dict().items()}
    state["conv.weight"][0, 0, 0, 0] = float("nan")
    torch.save(state, tmp_path / "w.pt")
    assert main(["features", str(g), "--image", str(SAMPLE), "--out", str(tmp_path / "o"),
                 "--weights", str(tmp_path / "w.pt")]) == 0  # fmt: skip
    assert capsys.readouterr().err == (
        "features: warning: w.pt: 1 tensor(s) hold NaN or infinite values: 'conv.weight'\n"
    )


def test_guard_returns_the_kind(tmp_path):
    """A sound safetensors file passes the guard and is named as such."""
    g = design(tmp_path / "g.json")
    save_weights(module_of(g), tmp_path / "w.safetensors")
    assert guard_weights_file(tmp_path / "w.safetensors") == "safetensors"


# --------------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_during_import_exits_130_with_one_line(tmp_path):
    """SIGINT while the user's module runs: exit 130, one line, no traceback, nothing written."""
    import signal

    (tmp_path / "slow.py").write_text(
        "import sys, time\nprint('ready', flush=True)\ntime.sleep(60)\n", encoding="utf-8"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "import",
            f"{tmp_path / 'slow.py'}:Net",
            "-o",
            str(tmp_path / "d.json"),
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err == "import: interrupted; nothing more was written\n"
    assert not (tmp_path / "d.json").exists()


def test_ctrl_c_during_summary_exits_130(tmp_path, capsys, monkeypatch):
    """A KeyboardInterrupt inside ``summary``: status 130 and one line."""
    import cli.summary

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.summary, "run", interrupted)
    assert main(["summary", str(design(tmp_path / "g.json"))]) == 130
    assert capsys.readouterr().err == "summary: interrupted; nothing more was written\n"
