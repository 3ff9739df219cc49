"""Several designs in tabs: separate documents, undo stacks, panels, runs; variants; closing."""

from __future__ import annotations

from designer.commands import SetParamCommand
from engine.templates import build


def edit(doc, node: str = "conv1", name: str = "out_channels", value: int = 32) -> None:
    """Push one parameter edit on ``doc``'s undo stack."""
    doc.undo_stack.push(SetParamCommand(doc, node, name, value))


def test_new_tab_becomes_current(win):
    """A design opened in a new tab is current; the first stays open unchanged."""
    first = win.current_tab
    tab = win.new_tab(build("resnet_basic_64"))
    assert win.design_tabs.count() == 2 and win.current_tab is tab
    assert win.doc is tab.doc and win.scene is tab.scene and win.view is tab.view
    assert first.doc.model.name == "Inception 3a (1×1 reductions)"
    assert win.windowTitle().startswith("ResNet basic block (64 channels)")


def test_edit_changes_only_its_tab(win):
    """Editing the second design changes its model, totals and tab label, not the first's."""
    first = win.current_tab
    before = first.doc.analysis.totals.weights
    tab = win.new_tab(build("resnet_basic_64"))
    edit(tab.doc)
    assert tab.doc.model.params("conv1")["out_channels"] == 32
    assert tab.totals_bar.weights.value.text() == f"{64 * 32 * 9 + 32 * 64 * 9:,}"
    assert first.doc.analysis.totals.weights == before
    assert first.doc.modified is False and tab.doc.modified is True
    labels = [win.design_tabs.tabText(i) for i in range(2)]
    assert labels == ["Inception 3a (1×1 reductions)", "ResNet basic block (64 channels) *"]


def test_undo_stacks_stay_separate(win):
    """Undo acts on the current tab's stack only."""
    first = win.current_tab
    first_edit = first.doc.model.params("branch1_1x1")["out_channels"]
    edit(first.doc, "branch1_1x1", value=16)
    tab = win.new_tab(build("resnet_basic_64"))
    edit(tab.doc)
    assert win.undo_action.text().endswith(tab.doc.undo_stack.undoText())
    win.undo_action.trigger()
    assert tab.doc.model.params("conv1")["out_channels"] == 64
    assert first.doc.model.params("branch1_1x1")["out_channels"] == 16
    win.design_tabs.setCurrentWidget(first)
    assert win.undo_action.isEnabled() and not win.redo_action.isEnabled()
    win.undo_action.trigger()
    assert first.doc.model.params("branch1_1x1")["out_channels"] == first_edit
    assert tab.doc.undo_stack.canRedo()


def test_panels_follow_the_current_tab(win):
    """Inspector, layer table, canvas actions in the Edit menu and the feature host switch."""
    first = win.current_tab
    tab = win.new_tab(build("resnet_basic_64"))
    assert win.inspector_stack.currentWidget() is tab.inspector
    assert win.table_stack.currentWidget() is tab.layer_table
    assert tab.canvas_actions.copy in win.edit_menu.actions()
    assert first.canvas_actions.copy not in win.edit_menu.actions()
    host = win.inside_host
    assert host is tab.inside_host and host is not first.inside_host
    assert host.ensure_panel().document is tab.doc
    assert host.actions_.run in win.toolbar.actions()
    win.design_tabs.setCurrentWidget(first)
    assert win.inspector_stack.currentWidget() is first.inspector
    assert first.canvas_actions.copy in win.edit_menu.actions()
    assert first.inside_host.actions_.run in win.toolbar.actions()
    assert host.actions_.run not in win.toolbar.actions()


def test_duplicate_as_variant(win):
    """The variant is a copy in a new tab, named after the original, unsaved, independent."""
    original = win.current_tab
    variant = win.duplicate_as_variant()
    assert win.current_tab is variant and win.design_tabs.count() == 2
    assert variant.doc.model.name == "Inception 3a (1×1 reductions) (variant)"
    assert variant.doc.model.nodes == original.doc.model.nodes
    assert variant.doc.analysis.totals.weights == 157_184
    assert variant.doc.modified and variant.doc.path is None
    edit(variant.doc, "branch2_3x3", value=64)
    assert variant.doc.analysis.totals.weights == 157_184 - 96 * 9 * 64
    assert original.doc.analysis.totals.weights == 157_184
    second = win.duplicate_as_variant()
    assert second.doc.model.name == "Inception 3a (1×1 reductions) (variant 2)"


def test_close_tab_with_unsaved_changes_asks(win):
    """Closing a modified tab asks first: cancel keeps it, discard closes it."""
    tab = win.new_tab(build("resnet_basic_64"))
    edit(tab.doc)
    asked = []
    win.ask_save_changes = lambda _w, name: asked.append(name) or "cancel"
    assert win.close_tab(tab) is False
    assert asked == ["ResNet basic block (64 channels)"] and win.design_tabs.count() == 2
    win.ask_save_changes = lambda _w, name: asked.append(name) or "discard"
    assert win.close_tab(tab) is True
    assert win.design_tabs.count() == 1 and len(asked) == 2
    assert win.doc.model.name == "Inception 3a (1×1 reductions)"


def test_close_unmodified_tab_does_not_ask(win):
    """An unmodified tab closes without a question."""
    tab = win.new_tab(build("resnet_basic_64"))
    tab.doc.undo_stack.setClean()
    win.ask_save_changes = lambda *_a: (_ for _ in ()).throw(AssertionError("asked"))
    assert win.close_tab(tab) is True
    assert win.design_tabs.count() == 1


def test_quit_asks_for_every_modified_tab(win):
    """Closing the window asks about each tab with unsaved changes; cancel keeps it open."""
    edit(win.doc, "branch1_1x1", value=16)
    tab = win.new_tab(build("resnet_basic_64"))
    edit(tab.doc)
    asked = []
    win.ask_save_changes = lambda _w, name: (
        asked.append(name) or ("discard" if len(asked) == 1 else "cancel")
    )
    assert win.close() is False
    assert asked == ["Inception 3a (1×1 reductions)", "ResNet basic block (64 channels)"]
    assert win.isVisible()


def test_tab_save_writes_its_own_design(win, tmp_path):
    """Save in the second tab writes that design and names the tab after the file."""
    from engine.core.fileformat import load

    tab = win.new_tab(build("resnet_bottleneck"))
    path = tmp_path / "bottleneck.json"
    assert win.save_as(path)
    assert load(path).name == "ResNet bottleneck block"
    assert win.design_tabs.tabText(win.design_tabs.indexOf(tab)) == "bottleneck.json"
    assert win.tabs_list()[0].doc.path is None


def test_open_in_new_tab(win, tmp_path):
    """Open in New Tab keeps the current design and opens the file beside it."""
    from engine.core.fileformat import save

    path = tmp_path / "vgg.json"
    save(build("resnet_basic_256"), path)
    tab = win.open_in_new_tab(path)
    assert tab is win.current_tab and tab.doc.path == path
    assert [t.doc.model.name for t in win.tabs_list()] == [
        "Inception 3a (1×1 reductions)",
        "ResNet basic block (256 channels)",
    ]


def test_each_tab_autosaves_its_own_design(win):
    """A new tab has its own autosaver writing its own file; closing the tab removes it."""
    from engine.core.fileformat import load

    first = win.current_tab
    edit(first.doc, "branch1_1x1", value=16)
    tab = win.new_tab(build("resnet_basic_64"))
    edit(tab.doc)
    assert tab.autosaver is not None and tab.autosaver is not first.autosaver
    assert first.autosaver.autosave() and tab.autosaver.autosave()
    assert tab.autosaver.path != first.autosaver.path
    assert load(tab.autosaver.path).name == "ResNet basic block (64 channels)"
    assert load(first.autosaver.path).name == "Inception 3a (1×1 reductions)"
    path = tab.autosaver.path
    win.ask_save_changes = lambda *_a: "discard"
    assert win.close_tab(tab)
    assert not path.exists() and first.autosaver.path.exists()


def test_tab_context_menu(win):
    """Right-click on a tab: variant of that tab, compare it with the current one, close."""
    first = win.current_tab
    second = win.new_tab(build("resnet_basic_64"))
    menu = win._tab_menu(win.design_tabs.indexOf(first))
    acts = {a.text(): a for a in menu.actions() if a.text()}
    assert list(acts) == [
        "Duplicate as Variant",
        "Compare with 'ResNet basic block (64 channels)'",
        "Close Tab",
    ]
    acts["Compare with 'ResNet basic block (64 channels)'"].trigger()
    assert [e.tab for e in win.compare_view.entries] == [first, second]
    acts["Duplicate as Variant"].trigger()
    assert win.doc.model.name == "Inception 3a (1×1 reductions) (variant)"


def test_open_in_new_tab_twice_shows_the_open_tab(win, tmp_path):
    """Opening a file that is already open switches to its tab instead of a second copy."""
    from engine.core.fileformat import save

    path = tmp_path / "b.json"
    save(build("resnet_bottleneck"), path)
    tab = win.open_in_new_tab(path)
    win.design_tabs.setCurrentIndex(0)
    assert win.open_in_new_tab(tmp_path / "." / "b.json") is tab
    assert win.current_tab is tab and win.design_tabs.count() == 2
