"""Where the mount is when nobody says: the rule kqfsd and the C client use."""
import os


def mount_point():
    """$KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else /run/kqfs."""
    mount = os.environ.get("KQFS_MOUNT")
    if mount:
        return mount
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "kqfs")
    return "/run/kqfs"
