"""Re-create the screenshots in this folder (run from the repository root under Xvfb):

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots/make_screenshots.py \
        docs/screenshots/main_inception3a.png inception
    ... error_concat_mismatch.png error; resnet50.png resnet50; dark_palette_error.png error --dark
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ["CONVCANVAS_NO_AUTOSAVE_PROMPT"] = "1"
os.environ.setdefault("CONVCANVAS_DATA_DIR", "/tmp/ccshots")
from PySide6.QtWidgets import QApplication
from PySide6.QtGui import QPalette, QColor
from PySide6.QtCore import Qt
app = QApplication([]); app.setStyle("Fusion")
dark = "--dark" in sys.argv
if dark:
    p = QPalette()
    for role, c in ((QPalette.ColorRole.Window, "#2b2b2b"), (QPalette.ColorRole.WindowText, "#e6e6e6"),
                    (QPalette.ColorRole.Base, "#1f1f1f"), (QPalette.ColorRole.AlternateBase, "#292929"),
                    (QPalette.ColorRole.Text, "#e6e6e6"), (QPalette.ColorRole.Button, "#353535"),
                    (QPalette.ColorRole.ButtonText, "#e6e6e6"), (QPalette.ColorRole.Highlight, "#3d7ad6"),
                    (QPalette.ColorRole.HighlightedText, "#ffffff"), (QPalette.ColorRole.ToolTipBase, "#333333"),
                    (QPalette.ColorRole.ToolTipText, "#e6e6e6"), (QPalette.ColorRole.PlaceholderText, "#9a9a9a")):
        p.setColor(role, QColor(c))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#777777"))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor("#777777"))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#777777"))
    app.setPalette(p)
from widgets.app import create_window
from designer.commands import SetParamCommand
out = sys.argv[1]
w = create_window([]); w.ask_save_changes = lambda *a: "discard"
w.resize(1600, 1000); w.show()
def settle():
    for _ in range(5): app.processEvents()
settle()
what = sys.argv[2]
if what == "inception":
    w.load_template("inception3a_naive"); settle(); w.totals_bar.pin()
    w.load_template("inception3a_reduced"); settle()
    w.canvas_actions.zoom_fit.trigger(); settle()
    w.scene.select_nodes(["branch2_3x3"])
elif what == "error":
    w.doc.undo_stack.push(SetParamCommand(w.doc, "branch4_pool", "padding", 0)); settle()
    w.canvas_actions.zoom_fit.trigger(); settle()
    w.scene.select_nodes(["concat"])
elif what == "resnet50":
    w.load_template("resnet50"); settle()
    w.canvas_actions.zoom_fit.trigger(); settle()
    w.layer_table.select_nodes(["layer3_2_conv2"]); w._on_table_selection(["layer3_2_conv2"]); settle()
    w.view.zoom_by(0.5 / w.view.zoom(), anchor_under_mouse=False)
    w.view.centerOn(w.scene.node_item("layer3_2_conv2"))
settle()
w.grab().save(out)
print("saved", out, w.windowTitle())
