"""What the tests share: the live mount (KQFS_MOUNT, which the runner must
set: tests/bats/python.bats mounts a kqfsd for them) and the build tree."""
import os
import unittest

SOURCE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def mount():
    path = os.environ.get("KQFS_MOUNT")
    if not path or not os.path.exists(os.path.join(path, "kq", "clone")):
        raise unittest.SkipTest("KQFS_MOUNT names no kqfs mount")
    return path


def build_file(*parts):
    build = os.environ.get("KQFS_BUILD")
    if not build:
        raise unittest.SkipTest("KQFS_BUILD is not set")
    return os.path.join(build, *parts)


def unique(name):
    return f"py-{name}-{os.getpid()}"
