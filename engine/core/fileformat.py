"""The ``convcanvas.graph`` JSON file format (see ``docs/format.md``).

Loading checks everything and never executes anything from the file: it reads at most
:data:`MAX_FILE_BYTES` (also from a stream such as ``/dev/zero`` or a FIFO), refuses
numbers that fit no field (an integer beyond 2**53, ``1e400``) naming the field, and
quotes what it refuses in at most :data:`MAX_QUOTE` characters. Saving is atomic
(temporary file in the same folder, then rename) and keeps ids, order and positions; lone
surrogates in ids or names are written as ``\\udXXX`` escapes, so they load back unchanged.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from engine.core.errors import EngineError, FormatError
from engine.core.graph import GraphModel
from engine.nodes import NODE_TYPES

FORMAT = "convcanvas.graph"
VERSION = 2
#: The version written for a design without blocks (older ConvCanvas reads it).
PLAIN_VERSION = 1
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Largest magnitude of an integer anywhere in a file (exact in a float; fields are far smaller).
MAX_INT = 2**53
#: How much of a refused value a message quotes.
MAX_QUOTE = 60


def _fail(msg: str, node: str | None = None, field: str | None = None) -> FormatError:
    return FormatError(msg, node, field)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _quote(v: Any) -> str:
    """``repr(v)``, shortened to :data:`MAX_QUOTE` characters (huge values stay readable)."""
    if _is_int(v) and abs(v) > MAX_INT:
        try:
            return f"a {len(str(abs(v)))}-digit integer"
        except ValueError:  # over Python's digit limit (json.loads refuses those anyway)
            return f"an integer of {v.bit_length()} bits"
    try:
        text = repr(v)
    except (ValueError, RecursionError):  # e.g. an int over Python's digit limit
        text = f"<{type(v).__name__}>"
    return text if len(text) <= MAX_QUOTE else text[: MAX_QUOTE - 1] + "…"


def _check_numbers(value: Any, field: str, node: str | None, where: str) -> None:
    """Refuse any number in ``value`` (nested lists/objects too) that fits no field.

    Raises
    ------
    FormatError
        For an integer beyond ±2**53 or a float that is not finite, naming ``where``
        (``node 'x'``), the field (``kernel_size[0]``) and the size of the value.
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    where = f"{where}: " if where else ""
    if isinstance(value, int):
        if abs(value) > MAX_INT:
            raise _fail(
                f"{where}'{field}' is too large ({_quote(value)}, more than 2**53)",
                node,
                field.split("[", 1)[0],
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _fail(
                f"{where}'{field}' must be a finite number, got {value!r}",
                node,
                field.split("[", 1)[0],
            )
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_numbers(v, f"{field}[{i}]", node, where[:-2])
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_numbers(v, f"{field}.{k}", node, where[:-2])


def from_dict(doc: Any) -> GraphModel:
    """Build a model from a parsed document.

    Raises
    ------
    FormatError
        Naming the node and field of the first problem found.
    """
    if not isinstance(doc, dict):
        raise _fail("the file is not a convcanvas graph: expected a JSON object at the top")
    fmt = doc.get("format")
    if fmt != FORMAT:
        raise _fail(
            f"the file is not a convcanvas graph: 'format' is {fmt!r}, expected {FORMAT!r}",
            field="format",
        )
    version = doc.get("version")
    _check_numbers(version, "version", None, "")
    if not _is_int(version) or version < 1:
        raise _fail(f"'version' must be a positive integer, got {_quote(version)}", field="version")
    if version > VERSION:
        raise _fail(
            f"the file has format version {_quote(version)}, newer than this ConvCanvas "
            f"reads ({VERSION}); update ConvCanvas to open it",
            field="version",
        )
    allowed = {"format", "version", "name", "nodes", "edges", "weights"}
    if version >= 2:
        allowed |= {"blocks", "block_types"}
    unknown = set(doc) - allowed
    if unknown:
        raise _fail(
            f"unknown top-level field(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0]
        )
    weights_ref(doc)  # a bad "weights" entry is refused like any other field
    name = doc.get("name", "Untitled")
    if not isinstance(name, str):
        raise _fail(f"'name' must be a string, got {_quote(name)}", field="name")
    nodes = doc.get("nodes")
    if not isinstance(nodes, list):
        raise _fail("'nodes' must be a list", field="nodes")
    edges = doc.get("edges", [])
    if not isinstance(edges, list):
        raise _fail("'edges' must be a list", field="edges")

    model = GraphModel(name)
    for i, nd in enumerate(nodes):
        where = f"nodes[{i}]"
        if not isinstance(nd, dict):
            raise _fail(f"{where} must be an object")
        nid = nd.get("id")
        if not isinstance(nid, str) or not nid:
            raise _fail(f"{where}: 'id' must be a non-empty string, got {_quote(nid)}", field="id")
        extra = set(nd) - {"id", "type", "params", "pos", "scope"}
        if extra:
            raise _fail(
                f"node '{nid}': unknown field(s) {', '.join(sorted(extra))}", nid, sorted(extra)[0]
            )
        if nid in model:
            raise _fail(f"node '{nid}' appears twice: ids must be unique", nid, "id")
        ntype = nd.get("type")
        if not isinstance(ntype, str) or ntype not in NODE_TYPES:
            raise _fail(
                f"node '{nid}': unknown type {_quote(ntype)} (known: {', '.join(NODE_TYPES)})",
                nid,
                "type",
            )
        params = nd.get("params", {})
        if not isinstance(params, dict):
            raise _fail(f"node '{nid}': 'params' must be an object", nid, "params")
        for key, value in params.items():
            _check_numbers(value, key, nid, f"node '{nid}'")
        pos = nd.get("pos")
        _check_numbers(pos, "pos", nid, f"node '{nid}'")
        if pos is not None:
            if (
                not isinstance(pos, list)
                or len(pos) != 2
                or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    for v in pos
                )
            ):
                raise _fail(
                    f"node '{nid}': 'pos' must be [x, y] numbers, got {_quote(pos)}", nid, "pos"
                )
        scope = nd.get("scope")
        if scope is not None and not isinstance(scope, str):
            raise _fail(
                f"node '{nid}': 'scope' must be a module path such as \"layer1.0\", got {scope!r}",
                nid,
                "scope",
            )
        try:
            model.add_node(ntype, params, nid, pos, scope=scope)
        except EngineError as exc:
            raise _fail(exc.message, nid, exc.field) from None

    seen_ports: dict[tuple[str, int], str] = {}
    for i, ed in enumerate(edges):
        where = f"edges[{i}]"
        if not isinstance(ed, dict):
            raise _fail(f"{where} must be an object")
        extra = set(ed) - {"src", "dst", "port"}
        if extra:
            raise _fail(
                f"{where}: unknown field(s) {', '.join(sorted(extra))}", field=sorted(extra)[0]
            )
        src, dst, port = ed.get("src"), ed.get("dst"), ed.get("port", 0)
        for key, val in (("src", src), ("dst", dst)):
            if not isinstance(val, str):
                raise _fail(f"{where}: '{key}' must be a node id, got {_quote(val)}", field=key)
            if val not in model:
                raise _fail(f"{where}: '{key}' refers to unknown node '{val}'", val, key)
        _check_numbers(port, "port", dst, where)
        if not _is_int(port) or port < 0:
            raise _fail(
                f"{where}: 'port' must be a non-negative integer, got {_quote(port)}", dst, "port"
            )
        if (dst, port) in seen_ports:
            raise _fail(
                f"{where}: port {port} of '{dst}' is used twice (by "
                f"'{seen_ports[dst, port]}' and '{src}')",
                dst,
                "port",
            )
        seen_ports[dst, port] = src
        ntype = NODE_TYPES[model.node_type(dst)]
        if ntype.max_inputs == 0:
            raise _fail(f"{where}: {ntype.name} '{dst}' takes no inputs", dst, "port")
        if ntype.max_inputs == 1 and port != 0:
            raise _fail(
                f"{where}: {ntype.name} '{dst}' has one input (port 0), not port {port}",
                dst,
                "port",
            )
        # Cycles are kept (the analysis reports them on the node) so nothing is lost.
        model.graph.add_edge(src, dst, key=port)
    if "blocks" in doc or "block_types" in doc:
        from engine.blocks.serial import read_blocks  # blocks import this module

        read_blocks(model, doc.get("blocks", []), doc.get("block_types", []))
    return model


def to_dict(model: GraphModel) -> dict:
    """The document for a model: nodes in insertion order, edges grouped by source node.

    Edges follow networkx's adjacency order (source in node order, then destination, then
    port), which a load reproduces, so save → load → save gives the same bytes.
    """
    nodes = []
    for n, data in model.graph.nodes(data=True):
        entry: dict[str, Any] = {"id": n, "type": data["type"], "params": data["params"]}
        if data["pos"] is not None:
            entry["pos"] = [_num(v) for v in data["pos"]]
        if data.get("scope"):
            entry["scope"] = data["scope"]
        nodes.append(entry)
    edges = [{"src": u, "dst": v, "port": k} for u, v, k in model.graph.edges(keys=True)]
    doc = {
        "format": FORMAT,
        "version": PLAIN_VERSION,
        "name": model.name,
        "nodes": nodes,
        "edges": edges,
    }
    if model.graph.graph.get("blocks") or model.graph.graph.get("block_types"):
        from engine.blocks.serial import write_blocks  # blocks import this module

        doc["version"] = VERSION
        doc.update(write_blocks(model))
    return doc


def _num(v: float) -> float | int:
    return int(v) if float(v).is_integer() else round(float(v), 3)


_SURROGATE = re.compile("[\ud800-\udfff]")


_SHA256 = re.compile("[0-9a-f]{64}")


def weights_ref(doc: Any) -> dict | None:
    """The checked ``"weights"`` entry of a parsed document, or ``None`` when it has none.

    The entry names the design's weights file, which lies beside the JSON file:
    ``{"file": "NAME.safetensors", "sha256": "<64 lowercase hex digits>"}``.

    Raises
    ------
    FormatError
        If the entry is not such an object (a path instead of a plain file name included).
    """
    if not isinstance(doc, dict) or "weights" not in doc:
        return None
    ref = doc["weights"]
    if not isinstance(ref, dict) or set(ref) != {"file", "sha256"}:
        raise _fail("'weights' must be an object with 'file' and 'sha256'", field="weights")
    name, digest = ref["file"], ref["sha256"]
    if (
        not isinstance(name, str)
        or not name.endswith(".safetensors")
        or name != Path(name).name
        or "\\" in name
        or name.startswith(".")
    ):
        raise _fail(
            f"'weights.file' must be a plain .safetensors file name beside the graph file, "
            f"got {_quote(name)}",
            field="weights",
        )
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise _fail("'weights.sha256' must be 64 lowercase hex digits", field="weights")
    return {"file": name, "sha256": digest}


def read_weights_ref(path: str | os.PathLike) -> dict | None:
    """The ``"weights"`` entry of a graph file (see :func:`weights_ref`); ``None`` if none."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return weights_ref(doc)


def dumps(model: GraphModel, weights: dict | None = None) -> str:
    """The JSON text of a model (what :func:`save` writes); ``weights`` names its weights file.

    Non-ASCII text is kept as is, except lone surrogates (which UTF-8 cannot encode):
    they become ``\\udXXX`` escapes, which :func:`loads` turns back into the same string.
    """
    doc = to_dict(model)
    if weights is not None:
        doc["weights"] = weights_ref({"weights": weights})
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def loads(text: str | bytes) -> GraphModel:
    """Parse JSON text into a model.

    Raises
    ------
    FormatError
        If the text is not JSON or not a valid graph.
    """
    if not text.strip():
        raise _fail("the file is empty")
    try:
        doc = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _fail(f"not a JSON file: {exc}") from None
    except RecursionError:
        raise _fail("not a JSON file: nested too deeply") from None
    return from_dict(doc)


def load(path: str | os.PathLike) -> GraphModel:
    """Read a graph file.

    Raises
    ------
    FormatError
        If the file cannot be read or is invalid; the message names the file.
    """
    path = Path(path)
    try:
        data = read_limited(path, MAX_FILE_BYTES)
    except OSError as exc:
        raise FormatError(f"{path}: cannot read: {exc.strerror or exc}", path=str(path)) from None
    if data is None:
        raise FormatError(
            f"{path.name}: more than {MAX_FILE_BYTES:,} bytes, more than a graph file can be",
            path=str(path),
        )
    try:
        return loads(data)
    except FormatError as exc:
        raise FormatError(f"{path.name}: {exc.message}", exc.node, exc.field, str(path)) from None


def read_limited(path: str | os.PathLike, limit: int) -> bytes | None:
    """The bytes of a file, or ``None`` if it holds more than ``limit``.

    A regular file is refused from its size before anything is read; a stream (a FIFO,
    ``/dev/zero``, a character device) is read up to ``limit + 1`` bytes at most. A FIFO
    without a writer reads as empty instead of blocking.

    Raises
    ------
    OSError
        If the file cannot be opened or read (missing, a folder, no permission).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(21, "it is a folder, not a file")
        if stat.S_ISREG(st.st_mode) and st.st_size > limit:
            return None
        os.set_blocking(fd, True)
        chunks = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return None if total > limit else b"".join(chunks)
    finally:
        os.close(fd)


def _file_mode(path: Path) -> int:
    """The permissions the saved file should have: the old file's, or the umask's default."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


def _target(path: str | os.PathLike) -> Path:
    """The file a save replaces: a link's target; refused when it is not a regular file.

    Raises
    ------
    OSError
        ``EISDIR`` for a folder, ``EPERM`` for a FIFO, a device or a socket (as root,
        ``/dev/null`` would otherwise be replaced by a regular file).
    """
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return path
    except OSError:
        return path  # the write reports it
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "a folder is in the way; it is not replaced")
    if not stat.S_ISREG(st.st_mode):
        raise PermissionError(
            errno.EPERM, "it is not a regular file (a device, FIFO or socket); it is not replaced"
        )
    return path


def _temp_for(path: Path, write: Callable[[IO], Any], binary: bool, mode: int | None) -> str:
    """Write a flushed temporary file beside ``path``; return its name (removed on failure)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        if mode is None:  # an existing file keeps its permissions; a new one is private
            try:
                mode = path.stat().st_mode & 0o777
            except OSError:
                mode = None
        if mode is not None:
            os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write_atomic(
    path: str | os.PathLike,
    write: Callable[[IO], Any],
    *,
    binary: bool = False,
    mode: int | None = None,
) -> None:
    """Write a file atomically: a temporary file in the same folder, flushed, then renamed.

    A symbolic link is followed: its target is replaced, the link stays. The folder is
    flushed after the rename, so the new name survives a power cut. A folder, device,
    FIFO or socket in the file's place is refused, not replaced.

    Parameters
    ----------
    path : str or os.PathLike
        The file to (re)place (or a link to it).
    write : callable
        Called with the open temporary file; writes the content.
    binary : bool
        Open the temporary file in binary mode (text is UTF-8 otherwise).
    mode : int, optional
        Permissions given to the file; ``None`` keeps an existing file's, and gives a new
        file ``mkstemp``'s private 0o600.

    Raises
    ------
    OSError
        If the file cannot be written; the old file is then untouched and no temporary
        file is left behind.
    """
    write_atomic_many([(path, write, binary, mode)])


def write_atomic_many(items: list[tuple]) -> None:
    """Write several files as one unit: every temporary file first, then the renames in order.

    ``items`` are ``(path, write, binary, mode)`` as for :func:`write_atomic`; put the file
    that names the others (a design naming its weights) last. Any failure before the
    renames leaves every old file untouched; a failing rename puts back the files already
    renamed (from hard-linked copies of the old ones), so the old set stays consistent.

    Raises
    ------
    OSError
        The first failure; no temporary file is left behind.
    """
    targets = [_target(item[0]) for item in items]
    temps: list[str] = []
    backups: dict[Path, str] = {}
    done: list[Path] = []
    existed: set[Path] = set()
    try:
        for target, (_p, write, binary, mode) in zip(targets, items, strict=True):
            temps.append(_temp_for(target, write, binary, mode))
        existed = {t for t in targets if t.exists()}
        if len(items) > 1:  # keep the old files until every rename succeeded
            for target in targets:
                if target.exists():
                    backup = f"{target.parent / ('.' + target.name)}.{os.getpid()}.old"
                    _unlink(backup)
                    try:
                        os.link(target, backup)
                        backups[target] = backup
                    except OSError:
                        pass
        for target, tmp in zip(targets, temps, strict=True):
            os.replace(tmp, target)
            done.append(target)
    except BaseException:
        for target in done:  # put the old file back (or remove the new one)
            try:
                if target in backups:
                    os.replace(backups.pop(target), target)
                elif target not in existed:
                    os.unlink(target)
            except OSError:
                pass
        for tmp in temps:
            _unlink(tmp)
        for backup in backups.values():
            _unlink(backup)
        raise
    for backup in backups.values():
        _unlink(backup)
    for folder in dict.fromkeys(t.parent for t in targets):
        _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    """Flush ``folder``'s entries to disk (POSIX; elsewhere folders cannot be opened)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse to flush a folder; the file itself is flushed
    finally:
        os.close(fd)


def save(model: GraphModel, path: str | os.PathLike, weights: dict | None = None) -> None:
    """Write a graph file atomically: a temporary file in the same folder, then rename.

    ``weights`` (``{"file", "sha256"}``) names the weights file saved beside it.
    """
    path = Path(path)
    text = dumps(model, weights)
    write_atomic(path, lambda fh: fh.write(text), mode=_file_mode(path))
