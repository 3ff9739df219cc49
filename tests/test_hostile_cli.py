"""Hostile input on the command line: a clear message, a documented exit code, no traceback.

Exit codes: 0 ok, 1 invalid (or empty) graph or refused work, 2 unreadable input or bad
usage. The hostile files are generated here (tmp_path); ``features`` cases that need
torch are in ``test_hostile_features.py``.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cli import main
from cli.safety import escape
from engine.core.fileformat import load, save
from engine.core.graph import GraphModel

ROOT = Path(__file__).resolve().parent.parent
BIG = int("1" + "0" * 400)
EVIL_ID = "in\x1b]0;pwned\x07\rFAKE\nline"
CONTROLS = ("\x1b", "\x07", "\r", "\x9b")


def base_doc() -> dict:
    """input 3×16×16 → conv 3×3 (4) → batchnorm, as a file document."""
    return {
        "format": "convcanvas.graph",
        "version": 1,
        "name": "hostile",
        "nodes": [
            {"id": "in", "type": "input", "params": {"channels": 3, "height": 16, "width": 16}},
            {"id": "c", "type": "conv", "params": {"out_channels": 4, "kernel_size": 3}},
            {"id": "bn", "type": "batchnorm", "params": {}},
        ],
        "edges": [{"src": "in", "dst": "c"}, {"src": "c", "dst": "bn"}],
    }


def with_big(field: str) -> dict:
    """``base_doc`` with 1 followed by 400 zeros in ``field``."""
    doc = base_doc()
    if field == "pos[0]":
        doc["nodes"][0]["pos"] = [BIG, 0]
    elif field == "port":
        doc["edges"][0]["port"] = BIG
    elif field == "version":
        doc["version"] = BIG
    elif field == "kernel_size[0]":
        doc["nodes"][1]["params"]["kernel_size"] = [BIG, 3]
    elif field in ("eps", "momentum"):
        doc["nodes"][2]["params"][field] = BIG
    else:
        doc["nodes"][1]["params"][field] = BIG
    return doc


def write(path: Path, doc: dict) -> Path:
    """Write ``doc`` as JSON to ``path`` and return the path."""
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def run_main(*args: str, **kw) -> subprocess.CompletedProcess:
    """``python main.py ARGS`` in a subprocess (bytes out)."""
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args], capture_output=True, timeout=120, **kw
    )


def evil_model() -> GraphModel:
    """Ids and name with ESC, BEL, CR, newline, C1 CSI and a lone surrogate; conv too big."""
    m = GraphModel("evil\x1b]0;title\x07\ud800")
    m.add_node("input", {"channels": 3, "height": 8, "width": 8}, EVIL_ID)
    m.add_node("conv", {"out_channels": 4, "kernel_size": 30}, "c\x9b31m\ud800")
    m.connect(EVIL_ID, "c\x9b31m\ud800")
    return m


# --------------------------------------------------------------------------- huge integers
@pytest.mark.parametrize("command", ["summary", "export"])
@pytest.mark.parametrize(
    "field", ["pos[0]", "eps", "momentum", "port", "out_channels", "kernel_size[0]", "version"]
)
def test_huge_integer_exits_2_naming_the_field(tmp_path, capsys, command, field):
    """An integer of 401 digits in any field: exit 2, the field named, the value summarised."""
    path = write(tmp_path / "big.json", with_big(field))
    assert main([command, str(path)]) == 2
    err = capsys.readouterr().err
    assert f"'{field}' is too large (a 401-digit integer, more than 2**53)" in err
    assert err.startswith(f"{command}: big.json: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_huge_integer_through_a_real_process(tmp_path):
    """The same refusal from ``python main.py``: exit 2, one line, no traceback."""
    path = write(tmp_path / "big.json", with_big("eps"))
    proc = run_main("summary", str(path))
    assert proc.returncode == 2
    assert proc.stderr == (
        b"summary: big.json: node 'bn': 'eps' is too large (a 401-digit integer, more than 2**53)\n"
    )


def test_infinite_float_exits_2(tmp_path, capsys):
    """``1e400`` (read as infinity) in a parameter: exit 2 naming it."""
    path = tmp_path / "inf.json"
    path.write_text(json.dumps(base_doc()).replace('"params": {}', '"params": {"eps": 1e400}'))
    assert main(["summary", str(path)]) == 2
    assert "node 'bn': 'eps' must be a finite number, got inf" in capsys.readouterr().err


def test_huge_integer_opened_in_the_editor_shows_a_dialog(win, tmp_path):
    """The editor refuses the file in a dialog naming the field and keeps its design."""
    path = write(tmp_path / "big.json", with_big("pos[0]"))
    shown = []
    win.show_error = lambda parent, title, text: shown.append((title, text))
    before = list(win.doc.model.nodes)
    assert win.open_file(path) is False
    assert shown == [
        (
            "Cannot open design",
            "big.json: node 'in': 'pos[0]' is too large (a 401-digit integer, more than 2**53)",
        )
    ]
    assert list(win.doc.model.nodes) == before


# --------------------------------------------------------------------------- streams
def test_dev_zero_as_graph_is_refused_after_the_limit(capsys):
    """``/dev/zero``: read up to 64 MiB, then exit 2 saying the file is too large."""
    assert main(["summary", "/dev/zero"]) == 2
    assert capsys.readouterr().err == (
        "summary: zero: more than 67,108,864 bytes, more than a graph file can be\n"
    )


def test_fifo_with_an_endless_writer_is_refused(tmp_path, capsys):
    """A FIFO fed without end: exit 2 after reading at most the limit."""
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    stop = threading.Event()

    # Opened read-write, the FIFO has a writer before the command opens it (no race with
    # a thread that has not started yet); non-blocking writes let the feeder stop.
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)

    def feed() -> None:
        chunk = b" " * (1 << 16)
        while not stop.is_set():
            try:
                os.write(fd, chunk)
            except BlockingIOError:
                time.sleep(0.001)

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    try:
        assert main(["export", str(fifo)]) == 2
    finally:
        stop.set()
        t.join(10)
        os.close(fd)
    assert "pipe.json: more than 67,108,864 bytes" in capsys.readouterr().err


def test_fifo_without_writer_does_not_hang(tmp_path, capsys):
    """A FIFO nobody writes to reads as empty: exit 2 at once."""
    fifo = tmp_path / "idle.json"
    os.mkfifo(fifo)
    assert main(["summary", str(fifo)]) == 2
    assert capsys.readouterr().err == "summary: idle.json: the file is empty\n"


def test_folder_as_graph_exits_2(tmp_path, capsys):
    """A folder given as the graph file: exit 2 saying so."""
    assert main(["export", str(tmp_path)]) == 2
    assert "cannot read: it is a folder, not a file" in capsys.readouterr().err


# --------------------------------------------------------------------------- pipes
def chain_file(path: Path, n: int) -> Path:
    """A graph file: input then ``n`` ReLUs in a chain."""
    m = GraphModel("chain")
    prev = m.add_node("input", {"channels": 1, "height": 4, "width": 4}, "in")
    for i in range(n):
        prev_new = m.add_node("relu", {}, f"r{i}")
        m.connect(prev, prev_new)
        prev = prev_new
    save(m, path)
    return path


def test_summary_into_a_closed_pipe_ends_quietly(tmp_path):
    """``summary FILE | head -1``: one line read, then exit 0 and nothing on stderr."""
    path = chain_file(tmp_path / "chain.json", 3000)  # ~250 KB: more than a pipe holds
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "summary", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(60) == 0
    assert first == b"chain (" + str(path).encode() + b"): 3001 nodes\n"
    assert err == b""


def test_summary_into_a_full_disk_is_one_line(tmp_path):
    """``summary FILE > /dev/full``: exit 2, one line naming the problem."""
    path = chain_file(tmp_path / "chain.json", 10)
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, str(ROOT / "main.py"), "summary", str(path)],
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    assert proc.returncode == 2
    assert proc.stderr == b"summary: cannot write to standard output: No space left on device\n"


# --------------------------------------------------------------------------- control characters
def test_escape_makes_one_printable_line():
    """ESC, BEL, CR, newline, C1 CSI, a lone surrogate and a bidi override become escapes."""
    assert escape("a\x1b[2J\x07\r\n\x9b\ud800\u202eb") == "a\\x1b[2J\\x07\\r\\n\\x9b\\ud800\\u202eb"


def test_summary_table_escapes_ids_and_name(tmp_path, capsys):
    """The table, its title and the error list show escapes, never raw control characters."""
    save(evil_model(), tmp_path / "evil.json")
    assert main(["summary", str(tmp_path / "evil.json")]) == 1
    out, err = capsys.readouterr()
    assert not any(c in out + err for c in CONTROLS)
    assert out.startswith("evil\\x1b]0;title\\x07\\ud800 (")
    assert "in\\x1b]0;pwned\\x07\\rFAKE\\nline  input" in out
    assert err.count("\n") == 2  # the heading and one error: no forged line
    assert err.splitlines()[1].startswith("  c\\x9b31m\\ud800: ")


def test_export_error_list_escapes_ids(tmp_path, capsys):
    """export's list of graph errors: one escaped line per error."""
    save(evil_model(), tmp_path / "evil.json")
    assert main(["export", str(tmp_path / "evil.json")]) == 1
    err = capsys.readouterr().err
    assert not any(c in err for c in CONTROLS)
    lines = err.splitlines()
    assert len(lines) == 2 and lines[1].startswith("  - conv 'c\\x9b31m\\ud800'")


def test_format_error_escapes_a_hostile_key(tmp_path, capsys):
    """An unknown field whose name holds ESC and BEL is quoted escaped on one line."""
    doc = base_doc()
    doc["nodes"][0]["\x1b]0;x\x07"] = 1
    assert main(["summary", str(write(tmp_path / "k.json", doc))]) == 2
    err = capsys.readouterr().err
    assert err == "summary: k.json: node 'in': unknown field(s) \\x1b]0;x\\x07\n"


# --------------------------------------------------------------------------- lone surrogates
def test_save_and_load_keep_lone_surrogates(tmp_path):
    """A lone surrogate in an id and the name is saved as an escape and loads back equal."""
    m = evil_model()
    save(m, tmp_path / "s.json")
    text = (tmp_path / "s.json").read_text(encoding="utf-8")
    assert "\\ud800" in text
    back = load(tmp_path / "s.json")
    assert back.name == m.name and back.nodes == m.nodes


def test_export_with_lone_surrogates_writes_working_code(tmp_path):
    """export -o: exit 0; the code parses and its docstrings hold no surrogate or control."""
    m = evil_model()
    m.set_params("c\x9b31m\ud800", {"kernel_size": 3})
    save(m, tmp_path / "s.json")
    out = tmp_path / "model.py"
    assert main(["export", str(tmp_path / "s.json"), "-o", str(out)]) == 0
    tree = ast.parse(out.read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    docs = ast.get_docstring(tree, clean=False) + ast.get_docstring(cls, clean=False)
    assert "evil\\x1b]0;title\\x07\\ud800" in docs
    assert not any(0xD800 <= ord(ch) <= 0xDFFF or ch in CONTROLS for ch in docs)


def test_gui_save_failure_is_a_dialog(win, tmp_path, monkeypatch):
    """A save that fails with an encoding error shows a dialog; the design stays unsaved."""
    from engine.core import fileformat

    def refuse(model, weights=None):
        raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")

    monkeypatch.setattr(fileformat, "dumps", refuse)
    shown = []
    win.show_error = lambda parent, title, text: shown.append((title, text))
    assert win.save_as(tmp_path / "x.json") is False
    assert len(shown) == 1 and shown[0][0] == "Cannot save design"
    assert "surrogates not allowed" in shown[0][1]
    assert not (tmp_path / "x.json").exists()


# --------------------------------------------------------------------------- empty graph
@pytest.mark.parametrize("command", ["summary", "export"])
def test_empty_graph_exits_1(tmp_path, capsys, command):
    """An empty graph is refused work: exit 1 with a message saying it is empty."""
    path = write(tmp_path / "empty.json", {"format": "convcanvas.graph", "version": 1, "nodes": []})
    assert main([command, str(path)]) == 1
    err = capsys.readouterr().err
    assert "empty" in err or "has no nodes" in err


# --------------------------------------------------------------------------- usage errors
@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--memory-limit", "nan", "the memory limit must be a positive number of MB"),
        ("--memory-limit", "inf", "the memory limit must be a positive number of MB"),
        ("--memory-limit", "-5", "the memory limit must be a positive number of MB"),
        ("--memory-limit", "0", "the memory limit must be a positive number of MB"),
        ("--seed", str(2**70), "the seed must be an integer from 0 to 9,223,372,036,854,775,807"),
        ("--seed", "-1", "the seed must be an integer from 0"),
        ("--channel", str(BIG), "--channel must be an integer from 0 to 2,147,483,647"),
    ],
)
def test_bad_numbers_are_usage_errors(tmp_path, capsys, option, value, says):
    """Non-finite, negative or oversized numeric options: exit 2 before any work."""
    code = main(
        ["features", "--template", "resnet18", "--image", "x.png", "--out", str(tmp_path / "o"),
         f"{option}={value}"]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- output folders
def _folder_with(path: Path, files: dict) -> dict:
    path.mkdir()
    for name, data in files.items():
        (path / name).write_bytes(data)
    return {p.name: p.read_bytes() for p in path.iterdir()}


def test_data_refuses_a_foreign_non_empty_folder(tmp_path, capsys):
    """``data shapes --out DIR`` with someone's labels.csv in DIR: exit 2, DIR byte-equal."""
    before = _folder_with(tmp_path / "d", {"labels.csv": b"mine", "00000.png": b"my picture"})
    assert main(["data", "shapes", "--out", str(tmp_path / "d"), "--count", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"data: '{tmp_path / 'd'}' is not empty and was not made by data")
    assert "give --overwrite" in err
    assert {p.name: p.read_bytes() for p in (tmp_path / "d").iterdir()} == before


def test_data_writes_again_into_its_own_folder_and_with_overwrite(tmp_path):
    """A second run into the folder data made, and --overwrite into a foreign one, both work."""
    assert main(["data", "shapes", "--out", str(tmp_path / "d"), "--count", "2"]) == 0
    assert main(["data", "shapes", "--out", str(tmp_path / "d"), "--count", "3"]) == 0
    assert len(list((tmp_path / "d").glob("*.png"))) == 3
    _folder_with(tmp_path / "e", {"labels.csv": b"mine"})
    assert (
        main(["data", "shapes", "--out", str(tmp_path / "e"), "--count", "1", "--overwrite"]) == 0
    )
    assert (tmp_path / "e" / "labels.csv").read_bytes() != b"mine"


def test_features_refuses_a_foreign_non_empty_folder(tmp_path, capsys):
    """``features --out DIR`` with a sparsity.csv of the user's: exit 2 before running."""
    path = write(tmp_path / "g.json", base_doc())
    before = _folder_with(tmp_path / "o", {"sparsity.csv": b"mine", "localisation.json": b"{}"})
    sample = ROOT / "resources" / "sample.png"
    assert main(["features", str(path), "--image", str(sample), "--out", str(tmp_path / "o")]) == 2
    assert "is not empty and was not made by features" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (tmp_path / "o").iterdir()} == before
