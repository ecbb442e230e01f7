"""Placeholder replaced below."""


def autolog(*args, **kwargs):  # pragma: no cover
    raise RuntimeError("autolog is being written")
