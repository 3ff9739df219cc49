"""build_module against the independent torch.nn oracle: same weights in, same values out.

The oracle (:mod:`helpers_torch`) makes one ``torch.nn`` layer per node from its parameters
and runs the graph in its own topological order. Its layers get random weights and
BatchNorm statistics; these are copied into the built module's submodules, and every
node's output must then agree value for value.
"""

from __future__ import annotations

import pytest
import torch
from helpers_torch import run_graph
from random_graphs import seeded_graph
from small_graphs import conv_chain, input_of, small_template
from torch import nn

from engine import analyze
from engine.codegen.targets import module_targets
from engine.runtime.build import build_module

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def randomizer(seed: int):
    """An oracle ``init`` hook: seeded random weights, biases and BatchNorm running statistics."""
    gen = torch.Generator().manual_seed(seed)

    def init(node: str, module: nn.Module) -> None:
        with torch.no_grad():
            for prm in module.parameters():
                prm.copy_(torch.randn(prm.shape, generator=gen) * 0.5)
            if isinstance(module, nn.BatchNorm2d) and module.running_mean is not None:
                module.running_mean.copy_(torch.randn(module.num_features, generator=gen) * 0.3)
                module.running_var.copy_(torch.rand(module.num_features, generator=gen) + 0.5)

    return init


def assert_matches_oracle(g, seed: int = 0) -> None:
    """Copy the oracle's layers into build_module(g) and compare every node's output."""
    a = analyze(g)
    x = torch.randn(2, *a.nodes[input_of(g)].shape, generator=torch.Generator().manual_seed(seed))
    results, tensors, modules = run_graph(g, x=x, keep_modules=True, init=randomizer(seed))
    assert all(r.error is None and not r.waiting for r in results.values())
    built = build_module(g, seed=seed + 1, capture=True)
    names = module_targets(g)
    loaded = set()
    for n, module in modules.items():
        state = module.state_dict()
        if not state:
            continue  # stateless (ReLU, pools, flatten, dropout): nothing to copy
        built.get_submodule(names[n]).load_state_dict(state)
        loaded |= {f"{names[n]}.{k}" for k in state}
    assert loaded == set(built.state_dict())  # every weight and statistic came from the oracle
    with torch.inference_mode():
        out = built(x)
    assert list(out) == a.order
    for n in a.order:
        torch.testing.assert_close(out[n], tensors[n], rtol=1e-5, atol=1e-5, msg=n)


def test_conv_chain_matches_the_oracle():
    """conv → batchnorm → global pool → flatten → linear: the same values as torch.nn layers."""
    assert_matches_oracle(conv_chain())


@pytest.mark.parametrize("key", ["inception3a_reduced", "resnet_bottleneck", "resnet18"])
def test_template_matches_the_oracle(key):
    """A template (reduced size) gives the oracle's values at every node."""
    assert_matches_oracle(small_template(key))


@pytest.mark.parametrize("seed", range(12))
def test_random_graph_matches_the_oracle(seed):
    """Seeded random graphs (concat, add, pools, dropout, linear) give the oracle's values."""
    assert_matches_oracle(seeded_graph(seed), seed)


def test_a_wrong_weight_is_caught():
    """The check has teeth: one changed weight in the built module changes its output."""
    g = conv_chain()
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    _, tensors, modules = run_graph(g, x=x, keep_modules=True, init=randomizer(0))
    built = build_module(g, capture=True)
    for n, module in modules.items():
        if module.state_dict():
            getattr(built, n).load_state_dict(module.state_dict())
    with torch.no_grad():
        built.c.weight[0, 0, 0, 0] += 1.0
        out = built(x)
    assert not torch.allclose(out["c"], tensors["c"])
