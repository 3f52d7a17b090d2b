"""Reading an executed notebook's outputs, for the chapter tests (one copy for every chapter)."""
from __future__ import annotations


def glued(nb: dict) -> dict:
    """Name -> text/plain of every myst-nb glue of an executed notebook (JSON as papermill writes it)."""
    values = {}
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                values[name] = next(v for k, v in output["data"].items() if k.endswith("text/plain"))
    return values


def texts(nb: dict):
    """(cell index, mime type or stream name, text) of every stored output (images left out: they hold
    no words)."""
    for i, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            for mime, value in output.get("data", {}).items():
                if not mime.startswith("image/"):
                    yield i, mime, "".join(value) if isinstance(value, list) else str(value)
            if "text" in output:
                yield i, output.get("name", "stream"), "".join(output["text"])
