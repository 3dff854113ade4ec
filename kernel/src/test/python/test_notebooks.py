"""Every notebook in notebooks/ runs end to end with the kernel (nbclient), its outputs are valid
nbformat with whole PNGs and no network URL, and classic Jupyter Notebook in headless Chromium
shows the quickstart's chart."""
import base64
import glob
import os
import re
import shutil
import socket
import struct
import subprocess
import time
import urllib.request
import zlib

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import ROOT
from test_protocol import png_chunks

NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))


def execute(path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, kernel_name="lowbit", timeout=900,
                   resources={"metadata": {"path": os.path.dirname(path)}}).execute()
    return nb


@pytest.fixture(scope="module")
def executed():
    return {os.path.basename(p): execute(p) for p in NOTEBOOKS}


def outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            yield from cell.outputs


def test_there_is_a_quickstart():
    assert any(p.endswith("quickstart.ipynb") for p in NOTEBOOKS)


@pytest.mark.parametrize("name", [os.path.basename(p) for p in NOTEBOOKS])
def test_notebook_runs_and_its_outputs_are_valid_and_offline(executed, name):
    nb = executed[name]
    nbformat.validate(nb)
    errors = [o for o in outputs(nb) if o.output_type == "error"]
    assert not errors, errors
    pngs = 0
    for o in outputs(nb):
        for mime, value in o.get("data", {}).items():
            text = value if isinstance(value, str) else str(value)
            text = re.sub(r'xmlns(:\w+)?="http://www\.w3\.org/[^"]*"', "", text)  # XML namespace names, never fetched
            assert "http://" not in text and "https://" not in text, f"a network URL in {mime}"
            if mime == "image/png":
                png_chunks(base64.b64decode(text))
                pngs += 1
    if name == "tacq-tutorial.ipynb":
        texts = "".join(o.get("data", {}).get("text/plain", "") for o in outputs(nb))
        assert "Kept[" in texts and "sweep" in texts and "0.35% kept" in texts
        assert pngs >= 4, "kept-per-layer bars, a heat map, the comparison and the sweep"
    if name == "tesseraq.ipynb":
        texts = "".join(o.get("data", {}).get("text/plain", "") for o in outputs(nb))
        assert "TesseraQ reconstruction" in texts and "TESSERAQ" in texts and "AWQ" in texts
        assert pngs >= 2, "the per-round loss chart and the comparison"
    if name == "claq.ipynb":
        texts = "".join(o.get("data", {}).get("text/plain", "") for o in outputs(nb))
        assert "CLAQ adaptive 2.1" in texts and "CLAQ reserve" in texts and "GPTQ" in texts
        assert pngs >= 3, "the comparison, bits against perplexity and the per-column bit map"
    if name == "quickstart.ipynb":
        assert pngs >= 1, "the quickstart draws a chart"
        texts = "".join(o.get("data", {}).get("text/plain", "") for o in outputs(nb))
        assert "perplexity" in texts and "GPTQ" in texts


# ------------------------------------------------------------------------------ the browser check

def read_png_rgb(path):
    """Decodes an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes) to rows of pixels."""
    data = open(path, "rb").read()
    png_chunks(data)
    i, idat, width = 8, b"", 0
    while i < len(data):
        length, = struct.unpack(">I", data[i:i + 4])
        name, body = data[i + 4:i + 8], data[i + 8:i + 8 + length]
        if name == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            bpp = 3 if color == 2 else 4
        elif name == b"IDAT":
            idat += body
        i += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return rows, bpp


def colourful_pixels(path):
    """Strongly coloured pixels: chart bars and lines, not text, borders or the page's greys."""
    rows, bpp = read_png_rgb(path)
    n = 0
    for line in rows:
        for x in range(0, len(line), bpp):
            r, g, b = line[x], line[x + 1], line[x + 2]
            if max(r, g, b) - min(r, g, b) > 120:
                n += 1
    return n


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def screenshot(url, out):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1280,6000", "--virtual-time-budget=20000", f"--screenshot={out}", url],
                   check=True, timeout=120, capture_output=True)


@pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("jupyter-notebook")),
                    reason="needs Debian's chromium and jupyter-notebook (install/test.sh installs them)")
def test_classic_notebook_in_headless_chromium_shows_the_chart(executed, tmp_path):
    shown = executed["quickstart.ipynb"]
    nbformat.write(shown, str(tmp_path / "executed.ipynb"))
    blank = nbformat.read(os.path.join(ROOT, "notebooks", "quickstart.ipynb"), as_version=4)
    nbformat.write(blank, str(tmp_path / "blank.ipynb"))
    port = free_port()
    server = subprocess.Popen(["jupyter-notebook", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                               "--NotebookApp.token=", "--NotebookApp.password=", "--allow-root",
                               f"--notebook-dir={tmp_path}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2)
                break
            except OSError:
                assert time.time() < deadline, "the notebook server did not start"
                time.sleep(0.5)
        screenshot(f"http://127.0.0.1:{port}/notebooks/executed.ipynb", str(tmp_path / "executed.png"))
        screenshot(f"http://127.0.0.1:{port}/notebooks/blank.ipynb", str(tmp_path / "blank.png"))
        with_chart = colourful_pixels(str(tmp_path / "executed.png"))
        without = colourful_pixels(str(tmp_path / "blank.png"))
        keep = os.environ.get("LOWBIT_SCREENSHOT_DIR")
        if keep:
            shutil.copy(tmp_path / "executed.png", os.path.join(keep, "quickstart-screenshot.png"))
        assert with_chart > without + 5000, f"coloured pixels: {with_chart} with outputs, {without} without"
    finally:
        server.terminate()
        server.wait(timeout=20)
