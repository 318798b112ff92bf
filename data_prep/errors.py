"""The one exception the data loaders raise: its message tells the user what to do."""


class DataError(Exception):
    """A data file is missing, corrupt or malformed. ``str(err)`` is a complete, user-facing message."""
