"""Export → Training script: train.py trains like the app, alone and under torchrun (2 CPU ranks)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.codegen.emit import export_code
from engine.recipes.script import model_module_name, training_script
from engine.runtime.build import build_module
from engine.runtime.weights import load_weights, read_state_dict
from engine.templates.tiny import tiny_cnn
from engine.training.loop import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ARGS = ["--steps", "3", "--batch", "8", "--count", "48", "--held-out-count", "8"]


def write_scripts(folder: Path, graph) -> Path:
    (folder / f"{model_module_name(graph)}.py").write_text(export_code(graph))
    script = folder / "train.py"
    script.write_text(training_script(graph))
    return script


def env_one_thread() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)  # the script needs nothing from the project
    return env


def test_single_process_script_gives_the_apps_weights(tmp_path):
    """`python train.py shapes` (3 steps, 1 thread) writes exactly the weights the app trains."""
    g = tiny_cnn(size=32)
    script = write_scripts(tmp_path, g)
    out = subprocess.run(
        [sys.executable, str(script), "shapes", *ARGS, "-o", "w.safetensors"],
        cwd=tmp_path,
        env=env_one_thread(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "held-out accuracy: " in out.stdout.splitlines()[-1]
    app = train(g, TrainConfig(steps=3, batch=8, shapes_train=48, shapes_held_out=8, evals=1))
    theirs = read_state_dict(tmp_path / "w.safetensors")
    assert set(theirs) == set(app.state)
    for k, v in app.state.items():
        np.testing.assert_array_equal(theirs[k].numpy(), v, err_msg=k)
    load_weights(build_module(g), tmp_path / "w.safetensors")  # and ConvCanvas loads them


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_with_two_cpu_ranks_ends_with_identical_weights(tmp_path):
    """torchrun --nproc_per_node 2 (gloo, DDP + DistributedSampler): both ranks hold the same weights."""
    g = tiny_cnn(size=16)
    script = write_scripts(tmp_path, g)
    torchrun = Path(sys.executable).with_name("torchrun")
    out = subprocess.run(
        [
            str(torchrun),
            "--nproc_per_node",
            "2",
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(_free_port()),
            str(script),
            "shapes",
            *ARGS,
            "--every-rank",
            "-o",
            "w.safetensors",
        ],
        cwd=tmp_path,
        env=env_one_thread(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    a = read_state_dict(tmp_path / "w.safetensors")
    b = read_state_dict(tmp_path / "w.rank1.safetensors")
    assert set(a) == set(b)
    assert all(torch.equal(a[k], b[k]) for k in a)
    fresh = build_module(g).state_dict()
    assert not torch.equal(a["conv1.weight"], fresh["conv1.weight"])  # it did train
    load_weights(build_module(g), tmp_path / "w.safetensors")
