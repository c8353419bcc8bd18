"""``ecovalue.process``: a command's process ends with its heap frozen, after every other exit
handler, and still writes what it wrote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CODE = """
import atexit, gc, sys
from ecovalue.process import freeze_heap_at_exit
freeze_heap_at_exit()
freeze_heap_at_exit()  # once only
out = open(sys.argv[1], "w")
out.write("written before exit\\n")  # not closed: the shutdown closes and flushes it
order = []
atexit.register(lambda: order.append(gc.get_freeze_count()))
atexit._run_exitfuncs()
print(order[0], gc.get_freeze_count() > 0)
"""


def test_the_heap_is_frozen_last_and_files_are_still_flushed(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    res = subprocess.run(
        [sys.executable, "-c", CODE, str(target)], capture_output=True, text=True, check=True
    )
    # the handler registered after it ran first (nothing frozen yet); then the heap was frozen
    assert res.stdout.split() == ["0", "True"]
    assert target.read_text() == "written before exit\n"


def test_the_command_line_registers_it(tmp_path: Path) -> None:
    code = (
        "import atexit, gc, sys\n"
        "from ecovalue.cli.main import app\n"
        "try:\n"
        "    app(['validate', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "atexit._run_exitfuncs()\n"
        "print(gc.get_freeze_count() > 0)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip().splitlines()[-1] == "True"
