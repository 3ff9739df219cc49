"""User text in Qt widgets is plain text: never HTML.

Qt renders a label's text, a tooltip or a message box as HTML when it *looks* like HTML
(``Qt.mightBeRichText``). A design named ``<img src=/dev/zero>`` would then make Qt read
that file until the program aborts, and ``<img src=local file>`` would show the file.
Labels that show user text use :func:`plain_label`; tooltips pass through :func:`tip`;
rich text that quotes user text escapes it with :func:`esc`.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QLabel


def esc(text: object) -> str:
    """``text`` escaped for use inside rich text (``<`` → ``&lt;``, quotes too)."""
    return html.escape(str(text), quote=True)


def tip(text: str) -> str:
    """A tooltip that shows ``text`` as typed: unchanged unless Qt would read it as HTML."""
    if not text or not GuiQt.mightBeRichText(text):
        return text
    return GuiQt.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpacePre)


def plain_label(label: QLabel) -> QLabel:
    """Make ``label`` show its text as plain text (never HTML); return it."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label
