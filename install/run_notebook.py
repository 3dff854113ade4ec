"""Runs a notebook with the Lowbit kernel, headless, and writes the executed copy.

    /usr/bin/python3 install/run_notebook.py notebooks/quickstart.ipynb [OUT.ipynb]

Every cell must succeed; the outputs are validated with nbformat and printed as a short summary.
"""
import sys
import time

import nbformat
from nbclient import NotebookClient


def main():
    src = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else src.replace(".ipynb", ".out.ipynb")
    nb = nbformat.read(src, as_version=4)
    t0 = time.time()
    client = NotebookClient(nb, kernel_name="lowbit", timeout=900, record_timing=True,
                            resources={"metadata": {"path": __import__("os").path.dirname(src) or "."}})
    client.execute()
    nbformat.validate(nb)
    nbformat.write(nb, out)
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        kinds = [o.get("output_type") + ("(" + ",".join(sorted(o.get("data", {}))) + ")" if "data" in o else "")
                 for o in cell.outputs]
        print(f"cell {i + 1}: {cell.source.splitlines()[0][:60] if cell.source else '':60}  {' '.join(kinds)}")
    print(f"{src}: {len(nb.cells)} cells ran in {time.time() - t0:.1f} s; executed copy: {out}")


if __name__ == "__main__":
    main()
