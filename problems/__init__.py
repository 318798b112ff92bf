"""The problem registry and each problem's run function; ``main.py`` only parses and dispatches."""
