"""Helper processes (seed workers, search workers) that must not outlive the process they work for."""

from __future__ import annotations

import os
import threading


def stop_with_parent(parent: int, who: str) -> None:
    """Stop this process (exit status 3) within a second of process ``parent``'s death, from now on.

    A helper busy training would otherwise hold its core until its run ends, long after the run it
    worked for was stopped or killed."""

    def watch():
        while True:
            if os.getppid() != parent:
                try:
                    print(f"{who}: its parent (process {parent}) is gone; stopping", flush=True)
                except OSError:  # its output went to the parent, through a pipe that died with it
                    pass
                os._exit(3)
            threading.Event().wait(1.0)

    threading.Thread(target=watch, daemon=True, name="stop-with-parent").start()
