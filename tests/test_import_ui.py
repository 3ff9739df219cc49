"""File → Import PyTorch Model…: the dialog runs ``main.py import`` in a process, the design
opens in a new tab with its weights in use, errors show the command's own message."""

from __future__ import annotations

import os
import textwrap

import numpy as np
import pytest
from onnx_helpers import fixed_size_onnx

import widgets.import_dialog as import_dialog
from engine.core.packages import pip_command, timm_model_names
from widgets.import_dialog import EXIT_MEANINGS, FROM_FILE, FROM_TIMM, ImportDialog, model_names

TIMEOUT = 60_000

MODEL = textwrap.dedent(
    """
    import time

    import torch
    from torch import nn


    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(7)
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.relu = nn.ReLU()
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(4 * 8 * 8, 5)

        def forward(self, x):
            return self.fc(torch.flatten(self.pool(self.relu(self.conv(x))), 1))


    def make_tiny():
        return Tiny()


    def broken():
        return 42


    def slow():
        time.sleep(120)
        return Tiny()


    def needs_args(width):
        return Tiny()


    class Wide(nn.Module):
        def __init__(self, width, depth=2):
            super().__init__()
    """
)

IDS = ["x", "conv", "relu", "pool", "flatten", "fc"]


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "tiny_net.py"
    path.write_text(MODEL)
    return path


def _import(qtbot, win, source: str, name: str, size=(3, 16, 16)) -> ImportDialog:
    dlg = win.import_host.show_dialog()
    dlg.set_source(source, name)
    dlg.set_input_size(*size)
    return dlg


def test_names_offered_are_classes_and_zero_argument_functions(model_file):
    """The name list is read from the file without running it: classes, then 0-arg functions
    (a class whose __init__ needs arguments, Wide, is not offered)."""
    assert model_names(model_file) == ["Tiny", "make_tiny", "broken", "slow"]


def test_file_menu_has_the_import_action(win):
    """File → Import PyTorch Model… sits right after Open in New Tab…."""
    acts = win.menuBar().actions()[0].menu().actions()
    i = acts.index(win.open_tab_action)
    assert acts[i + 1] is win.import_action
    assert win.import_action.text() == "&Import PyTorch Model…"


def test_import_opens_a_new_tab_with_the_design_and_its_weights(qtbot, win, model_file):
    """A module file imports into a new tab: six nodes laid out, unsaved, imported weights."""
    before = len(win.tabs_list())
    dlg = _import(qtbot, win, str(model_file), "Tiny")
    with qtbot.waitSignal(dlg.imported, timeout=TIMEOUT):
        assert dlg.start()
        assert dlg.busy.isVisible() and dlg.cancel_button.isEnabled()
    tab = win.current_tab
    assert len(win.tabs_list()) == before + 1 and tab is win.tabs_list()[-1]
    assert list(tab.doc.model.nodes) == IDS
    xs = [tab.doc.model.pos(n)[0] for n in IDS]
    assert xs == sorted(xs) and len(set(xs)) == len(IDS)  # laid out left to right
    assert tab.doc.model.name == "Tiny"
    assert tab.doc.path is None and tab.doc.modified
    assert tab.doc.analysis.nodes["fc"].shape == (5,)
    assert tab.doc.weights.text() == "imported from tiny_net.py:Tiny"
    assert sorted(tab.doc.weights.state(tab.doc.model)) == [
        "conv.bias",
        "conv.weight",
        "fc.bias",
        "fc.weight",
    ]
    panel = win.inside_host.ensure_panel()
    assert panel.weights_text == "imported from tiny_net.py:Tiny"
    assert not dlg.isVisible()
    assert not dlg.folder_used.exists()  # the temporary files are gone


def test_a_failing_source_shows_the_command_message(qtbot, win, model_file, capsys):
    """A name returning no module: the dialog shows the CLI's stderr and the exit meaning."""
    from cli import main as cli_main

    status = cli_main(["import", f"{model_file}:broken", "-o", os.devnull])
    cli_err = capsys.readouterr().err.rstrip("\n")
    assert status == 2
    before = len(win.tabs_list())
    dlg = _import(qtbot, win, str(model_file), "broken")
    with qtbot.waitSignal(dlg.failed, timeout=TIMEOUT) as sig:
        dlg.start()
    assert cli_err == "import: broken() returned int, not a torch.nn.Module"
    assert sig.args[0] == f"{cli_err}\n{EXIT_MEANINGS[2]}"
    assert dlg.message_text == sig.args[0]
    assert dlg.isVisible() and dlg.import_button.isEnabled()
    assert len(win.tabs_list()) == before


def test_a_refused_model_says_exit_status_1(qtbot, win, tmp_path):
    """An input size the model does not fit: exit status 1 and its meaning under the message."""
    (tmp_path / "fc_only.py").write_text(
        "from torch import nn\n\ndef net():\n    return nn.Sequential(nn.Flatten(), nn.Linear(12, 2))\n"
    )
    dlg = _import(qtbot, win, str(tmp_path / "fc_only.py"), "net", size=(3, 4, 4))
    with qtbot.waitSignal(dlg.failed, timeout=TIMEOUT) as sig:
        dlg.start()
    lines = sig.args[0].splitlines()
    assert lines[0].startswith("import: ")
    assert lines[-1] == EXIT_MEANINGS[1]


def test_missing_name_is_asked_for_without_running(qtbot, win, model_file):
    """An empty name: the dialog says what is missing and starts nothing."""
    dlg = _import(qtbot, win, str(model_file), "")
    dlg.name_combo.setCurrentText("")
    assert not dlg.start()
    assert dlg.process is None
    assert "name" in dlg.message_text


def test_cancel_stops_the_process(qtbot, win, model_file):
    """Cancel during a slow import kills the command, removes its files and opens nothing."""
    before = len(win.tabs_list())
    dlg = _import(qtbot, win, str(model_file), "slow")
    dlg.start()
    proc = dlg.process
    qtbot.waitUntil(lambda: proc.processId() > 0, timeout=10_000)
    pid = proc.processId()
    folder = dlg.folder_used
    with qtbot.waitSignal(dlg.cancelled, timeout=10_000):
        dlg.cancel_button.click()
    assert not dlg.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not folder.exists()
    assert dlg.status.text() == "Import cancelled: nothing was imported."
    assert len(win.tabs_list()) == before


def test_a_run_after_import_uses_the_imported_weights(qtbot, client, monkeypatch, tmp_path):
    """The feature run of the imported design equals the original module on the same input."""
    import torch

    import widgets.inside_panel as ip
    from widgets.app import create_window

    real = ip.RunController
    monkeypatch.setattr(
        ip, "RunController", lambda doc, parent=None: real(doc, parent, client=client)
    )
    monkeypatch.setenv("CONVCANVAS_DATA_DIR", str(tmp_path / "data"))
    win = create_window([], autorun=False, live=False)
    win.ask_save_changes = lambda *a: "discard"
    qtbot.addWidget(win)
    win.show()
    path = tmp_path / "tiny_net.py"
    path.write_text(MODEL)
    dlg = _import(qtbot, win, str(path), "Tiny")
    with qtbot.waitSignal(dlg.imported, timeout=TIMEOUT):
        dlg.start()
    panel = win.inside_host.ensure_panel()
    try:
        with qtbot.waitSignal(panel.result_shown, timeout=TIMEOUT) as sig:
            panel.run()
        result = sig.args[0]
        namespace: dict = {}
        exec(compile(MODEL, str(path), "exec"), namespace)  # noqa: S102 - the test's own module
        original = namespace["Tiny"]().eval()
        with torch.no_grad():
            want = original(torch.tensor(result.input)[None])[0].numpy()
        np.testing.assert_allclose(result.maps["fc"], want, rtol=1e-5, atol=1e-6)
        # The seeded random weights give something else.
        win.current_tab.doc.reset_weights()
        with qtbot.waitSignal(panel.result_shown, timeout=TIMEOUT) as sig:
            panel.run()
        assert np.abs(sig.args[0].maps["fc"] - want).max() > 1e-2
    finally:
        panel.controller.close(stop_worker=False)


def test_the_example_model_imports_with_its_numbers(tmp_path, capsys):
    """examples/small_net.py:SmallNet (the screenshot's model) imports: 30 nodes, 20,546 params."""
    from pathlib import Path

    from cli import main as cli_main

    example = Path(__file__).resolve().parent.parent / "examples" / "small_net.py"
    out = tmp_path / "small_net.json"
    status = cli_main(["import", f"{example}:SmallNet", "--input", "3x64x64", "-o", str(out)])
    assert status == 0
    assert "SmallNet: 30 nodes, 20,546 parameters" in capsys.readouterr().out


def test_the_name_resets_when_the_source_changes(qtbot, win, model_file, tmp_path):
    """A new source gets its own first name; a source without names leaves the name empty."""
    other = tmp_path / "other_net.py"
    other.write_text("from torch import nn\n\n\ndef make():\n    return nn.ReLU()\n")
    dlg = _import(qtbot, win, str(model_file), "slow")
    assert dlg.name_combo.currentText() == "slow"
    dlg.source_edit.setText(str(other))
    assert dlg.name_combo.currentText() == "make"
    dlg.source_edit.setText("torchvision.models")
    assert dlg.name_combo.currentText() == ""


def test_a_class_needing_arguments_is_refused_without_pointing_into_convcanvas(model_file, capsys):
    """Wide(width) called with no arguments: the message names Wide, not ConvCanvas's code."""
    from cli import main as cli_main

    assert cli_main(["import", f"{model_file}:Wide", "-o", os.devnull]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "import: calling Wide() raised TypeError: Wide.__init__() missing 1 required "
        "positional argument: 'width'; NAME must take no arguments (wrap it in a function "
        "that does)"
    )


def test_missing_timm_gives_the_install_command(qtbot, win, monkeypatch, capsys):
    """timm absent: the dialog and the command line both give the exact pip command."""
    from cli import main as cli_main

    monkeypatch.setattr(import_dialog, "is_installed", lambda name: False)
    dlg = win.import_host.show_dialog()
    dlg.set_from(FROM_TIMM)
    command = pip_command("timm")
    assert command.startswith('.venv/bin/pip install timm "torch==2.')
    assert dlg.message_text.endswith(f"Install it with:\n{command}")
    assert not dlg.import_button.isEnabled()
    dlg.set_from(FROM_FILE)
    assert dlg.import_button.isEnabled() and dlg.message_text == ""
    assert cli_main(["import", "timm:resnet18d", "-o", os.devnull]) == 2
    assert capsys.readouterr().err.strip().endswith(f"install it with: {command}")


def test_missing_torchvision_gives_the_install_command(capsys):
    """torchvision.models:resnet18 without torchvision: the exact pip command, exit 2."""
    from cli import main as cli_main

    assert cli_main(["import", "torchvision.models:resnet18", "-o", os.devnull]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"install it with: {pip_command('torchvision')}")


@pytest.fixture
def fake_timm(tmp_path, monkeypatch):
    """A package named timm with two registered models (read, never imported)."""
    models = tmp_path / "site" / "timm" / "models"
    models.mkdir(parents=True)
    (models.parent / "__init__.py").write_text("raise ImportError('never imported')\n")
    (models / "resnet.py").write_text(
        "@register_model\ndef resnet18d(pretrained=False, **kwargs):\n    pass\n\n\n"
        "@register_model\ndef resnet10t(pretrained=False, **kwargs):\n    pass\n\n\n"
        "def _helper(pretrained=False):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return models


def test_timm_names_are_read_from_the_installed_files(fake_timm):
    """timm's model names come from its @register_model functions, without importing it."""
    assert timm_model_names() == ["resnet10t", "resnet18d"]


def test_timm_name_field_completes_and_builds_the_timm_source(qtbot, win, fake_timm):
    """From timm: the name completes from timm's list; the command's source is timm:NAME."""
    dlg = win.import_host.show_dialog()
    dlg.set_from(FROM_TIMM)
    assert not dlg.source_edit.isVisible()
    completer = dlg.name_combo.completer()
    assert completer.model().stringList() == ["resnet10t", "resnet18d"]
    completer.setCompletionPrefix("18")
    assert completer.currentCompletion() == "resnet18d"
    dlg.name_combo.setCurrentText("resnet18d")
    assert dlg.command_source() == "timm:resnet18d"
    dlg.name_combo.setCurrentText("resnet99")
    assert dlg.command_source() is None
    assert dlg.message_text == "timm has no model 'resnet99'; pick one from the list."
    dlg.grab().save("/tmp/import_dialog_timm.png")


def test_an_onnx_file_imports_at_its_own_input_size(qtbot, win, tmp_path):
    """Import an ONNX file of a fixed 3×32×32 input with the dialog's defaults: the size is
    taken from the file (the 3×224×224 fields were passed and refused before)."""
    dlg = win.import_host.show_dialog()
    dlg.set_source(str(fixed_size_onnx(tmp_path / "fixed.onnx")))
    assert dlg.size_from_file.isVisibleTo(dlg) and dlg.size_from_file.isChecked()
    assert not any(box.isVisibleTo(dlg) for box in dlg.size_boxes)
    assert "--input" not in dlg.arguments(dlg.command_source(), tmp_path)
    assert not dlg.name_combo.isEnabled()  # an ONNX file needs no name
    with qtbot.waitSignal(dlg.imported, timeout=TIMEOUT):
        assert dlg.start()
    model = win.current_tab.doc.model
    inp = next(n for n in model.nodes if model.graph.nodes[n]["type"] == "input")
    assert model.graph.nodes[inp]["params"] == {"channels": 3, "height": 32, "width": 32}


def test_an_onnx_files_size_can_be_given(qtbot, win, tmp_path):
    """Unticking "from the file" enables the fields and passes them as --input; a Python
    source never shows the box and always passes them."""
    dlg = win.import_host.show_dialog()
    dlg.set_source(str(tmp_path / "open_sizes.onnx"))
    dlg.size_from_file.setChecked(False)
    dlg.set_input_size(3, 64, 48)
    assert all(box.isEnabled() and box.isVisibleTo(dlg) for box in dlg.size_boxes)
    args = dlg.arguments(dlg.command_source(), tmp_path)
    assert args[args.index("--input") + 1] == "3x64x48"
    dlg.set_source(str(tmp_path / "net.py"), "Net")
    assert not dlg.size_from_file.isVisibleTo(dlg)
    assert "--input" in dlg.arguments(dlg.command_source(), tmp_path)


def test_an_onnx_file_imported_at_another_size_says_so(qtbot, win, tmp_path):
    """Unticking "from the file" and giving 3×64×64 for a file declaring 3×32×32: the
    design is 64×64 and the status bar names both sizes on one line."""
    dlg = win.import_host.show_dialog()
    dlg.set_source(str(fixed_size_onnx(tmp_path / "fixed.onnx")))
    dlg.size_from_file.setChecked(False)
    dlg.set_input_size(3, 64, 64)
    with qtbot.waitSignal(dlg.imported, timeout=TIMEOUT):
        assert dlg.start()
    model = win.current_tab.doc.model
    assert model.graph.nodes["x"]["params"] == {"channels": 3, "height": 64, "width": 64}
    message = win.statusBar().currentMessage()
    assert message.startswith("imported fixed.onnx: 3 nodes") and "\n" not in message
    assert "input 'x' is declared 3×32×32 in the file; imported at the given 3×64×64" in message
