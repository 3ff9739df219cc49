"""The main window's autosave and crash recovery (a mixin of ``MainWindow``).

:meth:`AutosaveAndRecovery._build_autosave` gives the first design its
:class:`~widgets.autosave.Autosaver` and puts two notes in the status bar: the data folder
in use when it is not the usual one, and a warning that stays while any design's autosave
fails. :meth:`AutosaveAndRecovery.offer_recovery` offers, at start, every autosave whose
owner is gone (see :mod:`widgets.autosave`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtWidgets import QLabel

from designer.plaintext import plain_label
from designer.plaintext import tip as plain_tip
from engine.core.errors import FormatError
from engine.core.graph import GraphModel
from widgets import files
from widgets.autosave import Autosaver, Orphan, find_orphans


class AutosaveAndRecovery:
    """Autosave notes and the recovery offer for :class:`~widgets.main_window.MainWindow`."""

    # ------------------------------------------------------------------ autosave
    def _build_autosave(self, enabled: bool) -> None:
        """The autosaver, and two status-bar notes: the data folder in use when it is not
        the usual one, and a warning that stays while autosaving fails."""
        location = files.data_location()
        self.data_folder = location.path
        self.data_folder_note = plain_label(QLabel(self))
        self.data_folder_note.setObjectName("data_folder_note")
        self.autosave_warning = plain_label(QLabel(self))
        self.autosave_warning.setObjectName("autosave_warning")
        self.autosave_warning.setStyleSheet("color: #b00020; font-weight: bold;")
        for label in (self.data_folder_note, self.autosave_warning):
            self.statusBar().addPermanentWidget(label)
            label.hide()
        if location.problem:
            text = f"Autosaves go to {location.path} ({location.problem})"
            self.data_folder_note.setText(f"Autosaves go to a temporary folder: {location.path}")
            self.data_folder_note.setToolTip(plain_tip(text))
            self.data_folder_note.show()
            print(f"convcanvas: {text}", file=sys.stderr)
        self.autosaver = Autosaver(self.doc, self.data_folder, self) if enabled else None
        if self.autosaver is not None:
            self.autosaver.failed.connect(self._autosave_failed)
            self.autosaver.saved.connect(self._autosave_succeeded)

    def _autosave_succeeded(self, _path: Path) -> None:
        savers = [getattr(t, "autosaver", None) for t in self.tabs_list()]
        if not any(saver is not None and saver.error for saver in savers):
            self.autosave_warning.hide()  # every design's autosave works again

    def _autosave_failed(self, reason: str) -> None:
        self.autosave_warning.setText("⚠ Autosave failed: unsaved changes are not protected")
        self.autosave_warning.setToolTip(plain_tip(f"Autosave failed: {reason}. Save with Ctrl+S."))
        self.autosave_warning.show()

    # ------------------------------------------------------------------ recovery
    def offer_recovery(self, force: bool = False) -> bool:
        """Offer every autosave that no running ConvCanvas owns (left by a crash), in the
        data folder and in the temporary folder an earlier session may have fallen back to.

        The first restored design goes into the current tab when it shows nothing of the
        user's yet (or the file the autosave came from); others open in new tabs. An
        autosave that cannot be read is moved aside and the user is told where. Skipped
        when ``$CONVCANVAS_NO_AUTOSAVE_PROMPT`` is set, unless ``force``. Returns whether a
        design was restored.
        """
        if not force and os.environ.get("CONVCANVAS_NO_AUTOSAVE_PROMPT"):
            return False
        folders = [self.data_folder]
        earlier = files.earlier_fallback_folder()  # used when the data folder was not usable
        if earlier is not None and earlier != self.data_folder:
            folders.append(earlier)
        restored = False
        for orphan in (o for folder in folders for o in find_orphans(folder)):
            try:
                model = orphan.load()
            except FormatError as exc:
                self._keep_unreadable(orphan, exc.message)
                continue
            orphan.name = orphan.name or model.name
            answer = self.ask_restore(self, orphan.describe())
            if answer is True or answer == files.RESTORE:
                self._restore(orphan, model)
                restored = True
            elif answer is False or answer == files.DISCARD:
                orphan.remove()
            else:
                orphan.release()
        return restored

    def _keep_unreadable(self, orphan: Orphan, reason: str) -> None:
        try:
            kept = orphan.move_aside()
        except OSError as exc:
            orphan.release()
            kept = orphan.design
            reason += f" (could not move it aside: {exc.strerror or exc})"
        self.show_notice(
            self,
            "Autosave kept aside",
            f"An autosaved design could not be read: {reason}\n\nIt was kept as {kept}",
        )

    def _restore(self, orphan: Orphan, model: GraphModel) -> None:
        origin = orphan.origin if orphan.origin and orphan.origin.exists() else None
        if not self.doc.modified and self.doc.path in (None, origin):
            self.set_model(model, origin)
        else:
            self.new_tab(model, origin)
        self.doc.undo_stack.resetClean()  # restored work is unsaved work
        self._update_title()
        self.statusBar().showMessage("Restored the autosaved design", 6000)
        # The old autosave goes only once the design's own autosave holds it.
        if self.autosaver is not None and self.autosaver.autosave():
            orphan.remove()
        else:
            orphan.release()
