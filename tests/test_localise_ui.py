"""Where the network looked, in the window: the method choice in the image view, the
effective box for a trained Tiny CNN whichever node is clicked, and the Train panel's table."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from engine.runtime.build import build_module
from engine.runtime.features import FeatureRunner
from engine.runtime.localise import localise
from engine.runtime.weights import apply_partial
from engine.templates.tiny import tiny_cnn

TIMEOUT = 120_000


def some_weights(size: int = 64, seed: int = 3) -> dict:
    """Weights other than the window's seed-0 random ones (stand-ins for trained ones)."""
    m = build_module(tiny_cnn(size=size), seed=seed)
    return {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}


def click_node(win, qtbot, node: str) -> None:
    """A left click on ``node``'s card on the canvas."""
    item = win.scene.node_item(node)
    win.view.centerOn(item)
    pt = item.mapToScene(item.rect().center() + QPointF(0, 8))
    qtbot.mouseClick(win.view.viewport(), Qt.MouseButton.LeftButton, pos=win.view.mapFromScene(pt))


def run_and_wait(qtbot, inside):
    with qtbot.waitSignal(inside.result_shown, timeout=TIMEOUT) as sig:
        inside.run_action.trigger()
    return sig.args[0]


@pytest.fixture
def trained_tiny(win):
    """The 64×64 Tiny CNN opened in a second tab, with non-random weights, its views built."""
    win.new_tab(tiny_cnn())
    state = some_weights()
    win.doc.set_weights(state, "trained", "trained on shapes, 97.3%")
    inside = win.inside_host.ensure_panel()
    yield win, inside, state
    inside.controller.close()


def test_effective_box_shows_for_a_trained_tiny_cnn_with_relu4_or_fc_clicked(trained_tiny, qtbot):
    """In a second tab, click relu4, run; click fc: the effective box and its heat are on the
    photo, and the box is the one the command line computes for that image and weights."""
    win, inside, state = trained_tiny
    click_node(win, qtbot, "relu4")
    assert win.scene.selected_nodes() == ["relu4"]
    result = run_and_wait(qtbot, inside)
    runner = FeatureRunner(tiny_cnn())
    apply_partial(runner.module, state)
    done, _ = localise(runner, runner.run(result.image))
    want = done["effective"].box
    rf = inside.rf
    assert rf.method == "effective"
    assert rf.effective_item.isVisible() and rf.heat.isVisible()
    assert rf.method_rect() == want
    click_node(win, qtbot, "fc")
    assert win.scene.selected_nodes() == ["fc"]
    qtbot.wait(20)
    assert rf.effective_item.isVisible() and rf.heat.isVisible()
    assert rf.method_rect() == want
    assert "relu4" in rf.method_caption.text()
    click_node(win, qtbot, "relu4")  # then a click on one channel's tile in the grid
    qtbot.wait(20)
    grid = inside.grid
    tx, ty = grid.tile_origin(5)
    pos = grid.plot.mapFromScene(grid.image.mapToScene(QPointF(tx + 1.5, ty + 1.5)))
    qtbot.mouseClick(grid.plot.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: grid.enlarged == 5, timeout=2000)
    assert rf.box.channel == 5
    assert rf.effective_item.isVisible() and rf.method_rect() == want


def test_choosing_a_method_draws_its_box_and_heat(trained_tiny, qtbot, tmp_path):
    """On a 64×64 shapes image, arrow keys in the method choice: class activation, then
    Grad-CAM; each draws the box the worker computed and a heat overlay over the whole
    input, and the image fills the view."""
    from PIL import Image

    from engine.recipes.shapes import shape_image

    win, inside, _ = trained_tiny
    Image.fromarray(shape_image(0, 7, (64, 64))[0]).save(tmp_path / "shape.png")
    inside.open_image(tmp_path / "shape.png")
    result = run_and_wait(qtbot, inside)
    assert result.image.shape[:2] == (64, 64)
    rf = inside.rf
    rf.method_box.setFocus()
    qtbot.keyClick(rf.method_box, Qt.Key.Key_Down)
    assert rf.method == "class_activation"
    loc = result.extra["localised"]["class_activation"]
    assert rf.method_rect() == tuple(loc.box)
    assert rf.heat.isVisible() and rf.heat.image.shape[:2] == (64, 64)
    assert np.allclose(rf.heat.image[..., 3], (210 * np.sqrt(loc.heat)).astype(np.uint8))
    assert "class activation map of the predicted" in rf.method_caption.text()
    qtbot.keyClick(rf.method_box, Qt.Key.Key_Down)
    assert rf.method == "grad_cam"
    assert rf.method_rect() == tuple(result.extra["localised"]["grad_cam"].box)
    (x0, x1), (y0, y1) = rf.view.viewRange()
    assert min(x1 - x0, y1 - y0) <= 64 * 1.1  # the image fills the view along one side


def test_train_panel_shows_the_hit_rate_table_after_training(win, qtbot):
    """A short run on shapes: the worker measures every method on 40 held-out images, random
    and trained, and the table shows 'hits/40 (rate)' for each."""
    win.set_model(tiny_cnn(size=32))
    panel = win.train_host.show_panel()
    panel.extra_config = {"shapes_train": 64, "shapes_held_out": 16, "evals": 2}
    panel.batch.setValue(8)
    panel.budget_kind.setCurrentIndex(1)
    panel.budget.setValue(5)
    with qtbot.waitSignal(panel.controller.finished, timeout=TIMEOUT) as sig:
        assert panel.start()
    report = sig.args[0].localisation
    assert report["images"] == 40
    for method in ("receptive_field", "effective", "class_activation", "grad_cam"):
        for column in ("random", "trained"):
            row = report[column]["methods"][method]
            text = panel.localisation.cell(method, column)
            assert text == f"{row['hits']}/40 ({row['rate']:.0%})"
            assert re.fullmatch(r"\d+/40 \(\d+%\)", text)
