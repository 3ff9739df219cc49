"""Feature views on hand-built results: grid mosaic, sparsity points, RF boxes, histograms, tints."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QPointF
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel

from designer.document import Document
from designer.scene import GraphScene
from engine.analysis.analyzer import analyze
from engine.analysis.rf_boxes import rf_box
from engine.core.graph import GraphModel
from engine.runtime.feature_types import FeatureResult, NodeStats, Preprocess
from widgets.feature_grid import GAP, PAGE_SIZE, FeatureGrid, grid_shape, mosaic
from widgets.histograms import Histograms
from widgets.inside_panel import TINT_MAP, rf_tint, sparsity_tint
from widgets.rf_view import RFView, strongest_box
from widgets.sparsity_plot import MIN_DEPTH_SPAN, RELU_BRUSH, SparsityPlot


def model() -> GraphModel:
    """input 3×8×8 → conv 10 k3 → relu → flatten → linear 5."""
    m = GraphModel("views")
    m.add_node("input", {"channels": 3, "height": 8, "width": 8}, "input")
    m.add_node("conv", {"out_channels": 10, "kernel_size": 3}, "c1")
    m.add_node("relu", {}, "r1")
    m.add_node("flatten", {}, "flat")
    m.add_node("linear", {"out_features": 5}, "fc")
    for a, b in [("input", "c1"), ("c1", "r1"), ("r1", "flat"), ("flat", "fc")]:
        m.connect(a, b)
    return m


def stats_of(a: np.ndarray) -> NodeStats:
    flat = a.ravel()
    return NodeStats(
        sparsity=float(np.mean(flat == 0)),
        near_zero=float(np.mean(abs(flat) < 1e-3)),
        mean=float(flat.mean()),
        std=float(flat.std()),
        max=float(flat.max()),
        min=float(flat.min()),
        argmax=tuple(int(i) for i in np.unravel_index(flat.argmax(), a.shape)),
    )


@pytest.fixture
def graph():
    return model()


@pytest.fixture
def result(graph):
    """A result built by hand (no torch): known values for every node."""
    rng = np.random.default_rng(1)
    maps = {
        "input": rng.normal(size=(3, 8, 8)).astype(np.float32),
        "c1": rng.normal(size=(10, 6, 6)).astype(np.float32),
    }
    maps["r1"] = np.maximum(maps["c1"], 0)
    maps["flat"] = maps["r1"].reshape(-1)
    maps["fc"] = rng.normal(size=(5,)).astype(np.float32)
    a = analyze(graph)
    pre = Preprocess(
        mode="resize",
        normalize="unit",
        original_size=(16, 24),
        input_size=(8, 8),
        channels=3,
        scale=(2.0, 3.0),
        offset=(0.0, 0.0),
    )
    c, y, x = np.unravel_index(int(np.argmax(maps["r1"])), maps["r1"].shape)
    box = rf_box(a, "r1", int(y), int(x), pre, channel=int(c), value=float(maps["r1"][c, y, x]))
    image = rng.integers(0, 255, size=(16, 24, 3), dtype=np.uint8)
    r = FeatureResult(
        order=list(a.order),
        types={n: graph.node_type(n) for n in a.order},
        depth={n: a.nodes[n].depth for n in a.order},
        maps=maps,
        stats={n: stats_of(v) for n, v in maps.items()},
        image=image,
        input=maps["input"],
        preprocess=pre,
        box=box,
        seconds=0.01,
    )
    r.extra["analysis"] = a
    return r


# --------------------------------------------------------------------------- mosaic
def test_mosaic_places_each_channel_at_its_tile():
    """Channel k sits at row k//cols, column k%cols, with NaN gaps between tiles."""
    maps = np.arange(5 * 2 * 3, dtype=np.float32).reshape(5, 2, 3)
    img, rows, cols = mosaic(maps)
    assert (rows, cols) == grid_shape(5, 2, 3)
    assert img.shape == (rows * (2 + GAP) - GAP, cols * (3 + GAP) - GAP)
    for k in range(5):
        r, c = divmod(k, cols)
        tile = img[r * (2 + GAP) : r * (2 + GAP) + 2, c * (3 + GAP) : c * (3 + GAP) + 3]
        np.testing.assert_array_equal(tile, maps[k])
    assert np.isnan(img[2, 0]) and np.isnan(img[0, 3])


def test_mosaic_per_channel_scaling_spans_zero_to_one():
    """Per-channel scaling maps every (non-constant) channel to exactly [0, 1]."""
    maps = np.stack([np.linspace(-5, 3, 16).reshape(4, 4), np.linspace(10, 11, 16).reshape(4, 4)])
    img, rows, cols = mosaic(maps.astype(np.float32), per_channel=True)
    for k in range(2):
        r, c = divmod(k, cols)
        tile = img[r * 5 : r * 5 + 4, c * 5 : c * 5 + 4]
        assert tile.min() == 0.0 and tile.max() == pytest.approx(1.0)


# --------------------------------------------------------------------------- grid
@pytest.fixture
def grid(qtbot):
    g = FeatureGrid()
    qtbot.addWidget(g)
    g.resize(600, 500)
    g.show()
    qtbot.waitExposed(g)
    return g


def test_grid_shows_localised_node_with_its_value_range(grid, result):
    """A new result shows the box's node: all its channels, levels = its min and max."""
    grid.set_result(result)
    assert grid.node == "r1"
    assert grid.channel_count == 10 and grid.shown_channels == 10
    assert grid.levels == (float(result.maps["r1"].min()), float(result.maps["r1"].max()))


def test_grid_smaller_than_its_pixels_shows_their_mean(grid, result, qtbot):
    """A mosaic shown smaller than its pixels averages them (no aliasing into stripes)."""
    stripes = np.zeros((10, 120, 120), np.float32)
    stripes[:, :, ::2] = 1.0  # every other column: mid-level on average
    grid.set_result(dataclasses.replace(result, maps={**result.maps, "r1": stripes}))
    grid.resize(260, 260)  # each 120-pixel tile is ~40 screen pixels wide
    qtbot.wait(50)
    img = grid.plot.grab().toImage()
    centre = grid.plot.mapFromScene(grid.image.mapToScene(QPointF(60, 60)))  # tile 0's
    greens = [
        img.pixelColor(centre.x() + dx, centre.y() + dy).green()
        for dx in range(-5, 6)
        for dy in range(-5, 6)
    ]
    assert np.std(greens) < 60  # one column in two sampled: about 115


def test_grid_shown_small_keeps_every_gap_between_tiles(grid, result, qtbot):
    """128 tiles of 28×28 in a small grid (1366×768): every gap between columns shows."""
    ones = np.ones((128, 28, 28), np.float32)
    ones[0, 0, 0] = 0.0  # a level range: the tiles are yellow, the gaps background
    grid.set_result(dataclasses.replace(result, maps={**result.maps, "r1": ones}))
    grid.resize(180, 180)  # 11 columns of 29 pixels in ~150: a third of a pixel each
    qtbot.wait(50)
    img = grid.plot.grab().toImage()
    bg = grid.plot.backgroundBrush().color()
    row = grid.plot.mapFromScene(grid.image.mapToScene(QPointF(0, 14))).y()  # tile row 0
    left = grid.plot.mapFromScene(grid.image.mapToScene(QPointF(0, 0))).x()
    right = grid.plot.mapFromScene(grid.image.mapToScene(QPointF(grid._cols * 29 - 1, 0))).x()
    gap_runs, in_gap = 0, False
    for x in range(left + 1, right - 1):
        gap = img.pixelColor(x, row).rgb() == bg.rgb()
        gap_runs += gap and not in_gap
        in_gap = gap
    assert gap_runs == grid._cols - 1


def test_grid_per_channel_levels_are_unit(grid, result):
    """With per-channel scaling the colour scale runs 0 to 1."""
    grid.set_result(result)
    grid.per_channel.setChecked(True)
    assert grid.levels == (0.0, 1.0)


def test_grid_pages_thousand_channels(grid, result):
    """1,000 channels are shown PAGE_SIZE at a time; the last page holds the rest."""
    result.maps["c1"] = np.ones((1000, 2, 2), np.float32)
    grid.set_result(result)
    grid.set_node("c1")
    assert grid.channel_count == 1000 and grid.shown_channels == PAGE_SIZE
    pages = -(-1000 // PAGE_SIZE)
    assert grid.page_box.maximum() == pages
    grid.page_box.setValue(pages)
    assert grid.shown_channels == 1000 - (pages - 1) * PAGE_SIZE
    assert grid.channel_at(0.5, 0.5)[0] == (pages - 1) * PAGE_SIZE


def test_grid_channel_at_inverts_tile_origin(grid, result):
    """The pixel (y, x) of channel c's tile maps back to (c, y, x); a gap maps to None."""
    grid.set_result(result)
    for c in (0, 3, 9):
        ox, oy = grid.tile_origin(c)
        assert grid.channel_at(ox + 4.5, oy + 2.2) == (c, 2, 4)
    assert grid.channel_at(6.5, 0.5) is None  # the gap after tile 0's last column


def test_grid_hover_reads_out_value_and_emits(grid, result, qtbot):
    """Hovering a map pixel shows 'channel c, y, x = value' and emits the pixel."""
    grid.set_result(result)
    qtbot.wait(20)  # let the view take its final geometry
    ox, oy = grid.tile_origin(7)
    scene_pos = grid.image.mapToScene(QPointF(ox + 1.5, oy + 3.5))
    with qtbot.waitSignal(grid.pixel_hovered, timeout=1000) as sig:
        grid._on_move(scene_pos)
    value = float(result.maps["r1"][7, 3, 1])
    assert sig.args == ["r1", 7, 3, 1, pytest.approx(value)]
    assert grid.readout.text() == f"channel 7, y 3, x 1 = {value:.4g}"


def test_grid_enlarge_shows_one_channel_then_all(grid, result):
    """Enlarging shows the channel alone at the origin; All channels restores the page."""
    grid.set_result(result)
    grid.enlarge(4)
    assert grid.shown_channels == 1 and grid.channel_at(2.5, 1.5) == (4, 1, 2)
    grid.show_all()
    assert grid.shown_channels == 10


def test_grid_node_missing_from_run_shows_no_other_maps_and_says_so(grid, result):
    """Selecting a node the last run did not have: no other node's maps, a note to rerun."""
    grid.set_result(result)
    grid.set_node("new_conv")
    assert grid.node is None and grid.channel_count == 0 and grid.wanted == "new_conv"
    assert "'new_conv'" in grid.title.text() and "press Run" in grid.title.text()


def test_grid_vector_node_is_one_tile_per_feature(grid, result):
    """A (F,) output is shown as F one-pixel tiles."""
    grid.set_result(result)
    grid.set_node("fc")
    assert grid.channel_count == 5
    assert grid.levels == (float(result.maps["fc"].min()), float(result.maps["fc"].max()))


# --------------------------------------------------------------------------- sparsity
@pytest.fixture
def scene(qtbot, graph):
    doc = Document(graph)
    return GraphScene(doc)


def test_sparsity_has_one_point_per_node_with_engine_numbers(qtbot, result):
    """One point per node at (depth, 100 × sparsity); ReLU points are red."""
    plot = SparsityPlot()
    qtbot.addWidget(plot)
    plot.set_result(result)
    pts = plot.scatter.points()
    assert len(pts) == len(result.order)
    by_node = {p.data(): p for p in pts}
    for n in result.order:
        p = by_node[n]
        assert p.pos().x() == result.depth[n]
        assert p.pos().y() == pytest.approx(100 * result.stats[n].sparsity)
    assert by_node["r1"].brush().color() == RELU_BRUSH
    assert by_node["c1"].brush().color() != RELU_BRUSH
    assert plot.points() == [
        (n, result.depth[n], result.stats[n].sparsity, result.stats[n].mean) for n in result.order
    ]


def test_sparsity_click_selects_node_on_canvas(qtbot, result, scene):
    """Clicking a point selects its node on the canvas and emits node_clicked."""
    plot = SparsityPlot(scene=scene)
    qtbot.addWidget(plot)
    plot.set_result(result)
    point = [p for p in plot.scatter.points() if p.data() == "c1"]
    with qtbot.waitSignal(plot.node_clicked, timeout=1000) as sig:
        plot._on_clicked(plot.scatter, point)
    assert sig.args == ["c1"]
    assert scene.selected_nodes() == ["c1"]


def test_sparsity_curves_follow_relu_outputs(qtbot, result):
    """The line and the right-axis mean curve run through the ReLU outputs only."""
    plot = SparsityPlot()
    qtbot.addWidget(plot)
    plot.set_result(result)
    xs, ys = plot.mean_curve.getData()
    assert list(xs) == [result.depth["r1"]]
    assert ys[0] == pytest.approx(result.stats["r1"].mean)
    lx, ly = plot.line.getData()
    assert list(lx) == [result.depth["r1"]]
    assert ly[0] == pytest.approx(100 * result.stats["r1"].sparsity)


def test_sparsity_of_one_node_spans_whole_layers(qtbot, result):
    """A lone input (File → New) is plotted on a depth axis of whole layers, "1 node"."""
    one = dataclasses.replace(
        result, order=["input"], stats={"input": result.stats["input"]}, depth={"input": 0}
    )
    plot = SparsityPlot()
    qtbot.addWidget(plot)
    plot.set_result(one)
    lo, hi = plot.plot.getPlotItem().viewRange()[0]
    assert (lo, hi) == pytest.approx((-0.5, MIN_DEPTH_SPAN + 0.5))
    assert plot.info.text().startswith("1 node; no ReLU outputs")


def test_sparsity_axis_titles_fit_a_small_plot(qtbot, result):
    """At 1366×768 (a 280×230 plot) both axis titles fit their axes' height whole."""
    plot = SparsityPlot()
    qtbot.addWidget(plot)
    plot.resize(280, 230)
    plot.show()
    plot.set_result(result)
    qtbot.wait(50)
    for side in ("left", "right"):
        axis = plot.plot.getPlotItem().getAxis(side)
        assert axis.label.boundingRect().width() <= axis.height(), side


# --------------------------------------------------------------------------- receptive field
def test_rf_view_box_equals_result_box(qtbot, result):
    """The solid box is the engine's box, in original-image pixels."""
    view = RFView()
    qtbot.addWidget(view)
    view.set_result(result)
    b = result.box
    assert view.box_rect() == (b.x0, b.y0, b.x1, b.y1)
    r = view.box_item.rect()
    assert (r.x(), r.y(), r.width(), r.height()) == (b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0)


def test_rf_view_hover_draws_rf_box_of_pixel(qtbot, result):
    """Hovering pixel (y, x) of a node draws engine.runtime.features.rf_box of that pixel."""
    view = RFView()
    qtbot.addWidget(view)
    view.set_result(result)
    view.hover("c1", 2, 3, 1, 0.5)
    expect = rf_box(result.extra["analysis"], "c1", 3, 1, result.preprocess, channel=2, value=0.5)
    assert view.hover_box == expect
    assert (expect.x0, expect.y0, expect.x1, expect.y1) == (3, 6, 12, 12)  # 3×3 px × (3, 2)
    assert view.hover_item.isVisible()


def test_rf_view_show_node_channel_boxes_its_strongest_pixel(qtbot, result):
    """Picking a node and channel boxes the argmax of that channel."""
    view = RFView()
    qtbot.addWidget(view)
    view.set_result(result)
    view.show_node("c1", 2)
    y, x = np.unravel_index(int(np.argmax(result.maps["c1"][2])), (6, 6))
    assert view.box == rf_box(
        result.extra["analysis"],
        "c1",
        int(y),
        int(x),
        result.preprocess,
        channel=2,
        value=float(result.maps["c1"][2, y, x]),
    )
    assert strongest_box(result, result.extra["analysis"], "c1", 2) == view.box


# --------------------------------------------------------------------------- histograms
def test_histograms_count_every_value_and_weights(qtbot, result):
    """The activation histogram counts every value; weights come from extra['weight_hist']."""
    result.extra["weight_hist"] = {"c1": (np.array([1, 2, 3]), np.array([-1.0, 0.0, 1.0, 2.0]))}
    h = Histograms()
    qtbot.addWidget(h)
    h.show()
    h.set_result(result)
    h.set_node("c1")
    assert h.act_counts.sum() == result.maps["c1"].size
    np.testing.assert_array_equal(h.weight_counts, [1, 2, 3])
    assert h.weight_node == "c1"


def test_histograms_relu_shows_weights_of_conv_feeding_it(qtbot, result):
    """A ReLU has no weights: the weight histogram is that of the conv feeding it."""
    result.extra["weight_hist"] = {"c1": (np.array([4, 5]), np.array([0.0, 1.0, 2.0]))}
    h = Histograms()
    qtbot.addWidget(h)
    h.show()
    h.set_result(result)
    h.set_node("r1")
    assert h.weight_node == "c1" and h.act_counts.sum() == 360
    title = h.weight_plot.getPlotItem().titleLabel.text
    assert "weights of c1<br>feeds r1 · 9 values" in title  # two short lines
    h.set_node("input")
    assert h.weight_node is None and h.weight_counts is None


def test_histograms_wait_until_visible(qtbot, result):
    """A hidden histogram view computes nothing until it is shown."""
    h = Histograms()
    qtbot.addWidget(h)
    h.set_result(result)
    h.set_node("c1")
    assert h.act_counts is None
    h.show()
    assert h.act_counts.sum() == result.maps["c1"].size


def test_rf_marker_sits_at_unclipped_field_centre(qtbot, result):
    """The localisation marker is the centre of the activation's field, even when clipped."""
    view = RFView()
    qtbot.addWidget(view)
    view.set_result(result)
    b = result.box
    # r1: field 3×3 px, jump 1, start 0; scale (y 2, x 3)
    assert view.rf_center(b) == ((b.x + 1.5) * 3.0, (b.y + 1.5) * 2.0)


# --------------------------------------------------------------------------- tints
def test_sparsity_tint_colours_by_zero_fraction(result):
    """A node with no zeros gets the colour map's start colour, the legend says sparsity."""
    tint, legend = sparsity_tint(result)
    assert set(tint) == set(result.order)
    assert tint["c1"] == QColor(pg.colormap.get(TINT_MAP).mapToQColor([0.0])[0])
    assert "zeros" in legend


def test_rf_tint_colours_input_lowest_and_deepest_highest(graph):
    """RF tint: the 1-pixel input is the start colour, the largest field the end colour."""
    tint, legend = rf_tint(analyze(graph))
    cmap = pg.colormap.get(TINT_MAP)
    assert tint["input"] == QColor(cmap.mapToQColor([0.0])[0])
    assert tint["fc"] == QColor(cmap.mapToQColor([1.0])[0])
    assert "8 px" in legend


def test_plots_take_the_palette_colours(qtbot):
    """In a dark palette the plots get its base colour and text-coloured axes (not white)."""
    from PySide6.QtGui import QColor, QPalette
    from PySide6.QtWidgets import QApplication

    from widgets.sparsity_plot import SparsityPlot

    app = QApplication.instance()
    old = app.palette()
    dark = QPalette(old)
    dark.setColor(QPalette.ColorRole.Base, QColor("#1f1f1f"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#e6e6e6"))
    app.setPalette(dark)
    try:
        plot = SparsityPlot()
        qtbot.addWidget(plot)
        assert plot.plot.backgroundBrush().color() == QColor("#1f1f1f")
        axis = plot.plot.getPlotItem().getAxis("bottom")
        assert axis.textPen().color() == QColor("#e6e6e6")
    finally:
        app.setPalette(old)


def test_rf_view_captions_never_overlap_the_photo_in_a_short_panel(qtbot, result):
    """In a 210×300 view with long captions, the photo ends above the scrolling captions."""
    view = RFView()
    qtbot.addWidget(view)
    view.resize(210, 300)
    view.show()
    view.set_result(result)
    view.caption.setText("a long caption " * 20)
    view.method_caption.setText("another long caption " * 10)
    qtbot.waitExposed(view)
    qtbot.wait(50)
    top = view.caption.mapTo(view, QPoint(0, 0)).y()
    assert view.plot.geometry().bottom() < top
    assert view.plot.height() >= 140  # the photo keeps its room


def test_grid_colour_scale_text_shows_whole_in_a_short_grid(grid, result, qtbot):
    """Tiny activations in a short grid (1366×768): the colour bar's name and scale show whole."""
    tiny = result.maps["r1"] * 1e-5 / max(1e-12, float(np.abs(result.maps["r1"]).max()))
    grid.set_result(dataclasses.replace(result, maps={**result.maps, "r1": tiny}))
    grid.resize(350, 230)
    qtbot.wait(50)
    label = grid.colorbar.axis.label  # a name turned along a short bar is cut at its top
    if label.isVisible():
        assert grid.plot.sceneRect().contains(label.sceneBoundingRect())
    shown = [w for w in grid.findChildren(QLabel) if "activation" in w.text() and w.isVisible()]
    assert [w.text() for w in shown] == ["colour: activation (×1e-06)"]
    caption = shown[0]
    assert grid.rect().contains(caption.geometry())
    assert caption.width() >= caption.sizeHint().width()


def test_grid_colour_bar_ticks_are_scaled_into_the_caption_unit(grid, result, qtbot):
    """Levels 0..2e-5 tick as 0..20 on the bar, the ×1e-06 being said in the caption."""
    maps = np.linspace(0, 2e-5, 10 * 16).reshape(10, 4, 4).astype(np.float32)
    grid.set_result(dataclasses.replace(result, maps={**result.maps, "r1": maps}))
    qtbot.wait(50)
    axis = grid.colorbar.axis
    assert axis.tickStrings([0.0, 1e-5, 2e-5], axis.scale, 5e-6) == ["0", "10", "20"]


def test_sparsity_mean_axis_label_stays_short_for_small_means(qtbot, result):
    """Small ReLU means: the right axis reads plain numbers under the label "mean", whole
    in a 260 px tall plot (an SI factor made it "mean (x1e-06)", cut at its top)."""
    small = {n: dataclasses.replace(s, mean=s.mean * 1e-3) for n, s in result.stats.items()}
    plot = SparsityPlot()
    qtbot.addWidget(plot)
    plot.resize(300, 260)
    plot.set_result(dataclasses.replace(result, stats=small))
    qtbot.wait(20)
    axis = plot.plot.getPlotItem().getAxis("right")
    assert "(x" not in axis.labelString() and "mean" in axis.labelString()
    assert axis.label.boundingRect().width() <= plot.plot.getPlotItem().getViewBox().height()
