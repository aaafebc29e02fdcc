"""A kqfs queue: changes in, events out, in any of the three record formats."""
import asyncio
import errno
import os
import select
import time

from .mount import mount_point
from .record import RECORD, Event

# The files of a queue directory per format (docs/design.md, the mounted tree).
FORMATS = {"bin": ("changes.bin", "events.bin"),
           "json": ("changes.json", "events.json"),
           "text": ("changes", "events")}
# One read(2) of events: records of the binary file, bytes of the others
# (an event line is far shorter; a read returns whole lines).
_TEXT_READ = 64 * 1024


def _mount_error(mount, error):
    """`error` from opening a queue, or what it says of the mount: none
    there, or its kqfsd gone; named, with what to do."""
    if error.errno == errno.ENOTCONN:
        return OSError(errno.ENOTCONN, f"kqfsd of {mount} is not running (transport endpoint not "
                       f"connected): unmount with fusermount3 -u {mount} and start it again",
                       mount)
    if isinstance(error, FileNotFoundError) and not os.path.isdir(os.path.join(mount, "kq")):
        return FileNotFoundError(errno.ENOENT, f"no kqfs mount at {mount}: start kqfsd {mount}, "
                                 "or pass mount= or set KQFS_MOUNT", mount)
    return error


class Queue:
    """Queue(name=None, *, mount=None, format="bin", exclusive=False, remove=None, mode=0o700)

    Queue("name") opens kq/NAME, making it (mkdir, `mode`) when it does not
    exist; with exclusive=True an existing queue is FileExistsError. close()
    removes the queue (rmdir, which drops its knotes and wakes its readers
    with end of file) when this object made it, or as `remove` says.

    Queue() is an anonymous queue: a kq/clone handle, gone with close().

    format is how changes are written and events read: "bin" (32-byte
    records, the default), "json" or "text". change() takes Events (or
    6-tuples); read() returns Events whatever the format.

    The mount is `mount`, else kqfs.mount_point(). fileno() is the events
    descriptor: select, selectors and asyncio watch it. Reads never block
    the descriptor itself: read(timeout=0) returns [] when nothing is
    pending, and aread() and `async for` wait in the event loop.
    """

    def __init__(self, name=None, *, mount=None, format="bin", exclusive=False, remove=None,
                 mode=0o700):
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        self.mount = mount if mount is not None else mount_point()
        self.name = name
        self.format = format
        self._fds = []
        self._pending = b""
        self._path = None
        self._remove = False
        try:
            if name is None:
                self._open_anonymous()
            else:
                self._open_named(name, exclusive, remove, mode)
        except OSError as error:
            self._close_fds()
            raise _mount_error(self.mount, error) from error
        except BaseException:
            self._close_fds()
            raise

    def _open(self, path, flags):
        fd = os.open(path, flags | os.O_CLOEXEC)
        self._fds.append(fd)
        return fd

    def _open_named(self, name, exclusive, remove, mode):
        self._path = os.path.join(self.mount, "kq", name)
        try:
            os.mkdir(self._path, mode)
            created = True
        except FileExistsError:
            if exclusive:
                raise
            created = False
        self._remove = created if remove is None else remove
        changes, events = FORMATS[self.format]
        try:
            self._changes = self._open(os.path.join(self._path, changes), os.O_WRONLY)
            self._events = self._open(os.path.join(self._path, events),
                                      os.O_RDONLY | os.O_NONBLOCK)
        except BaseException:
            if created:
                os.rmdir(self._path)
            raise

    def _open_anonymous(self):
        self._handle = self._open(os.path.join(self.mount, "kq", "clone"),
                                  os.O_RDWR | os.O_NONBLOCK)
        if self.format == "bin":
            self._changes = self._events = self._handle
            return
        # The other formats go through the files of its directory, kq/clone-N.
        changes, events = FORMATS[self.format]
        self._changes = self._open(os.path.join(self.path, changes), os.O_WRONLY)
        self._events = self._open(os.path.join(self.path, events), os.O_RDONLY | os.O_NONBLOCK)

    @property
    def path(self):
        """The queue's directory; for an anonymous queue, the kq/clone-N it is
        listed as while open."""
        if self._path is None:
            self._path = self._anonymous_directory()
        return self._path

    def _anonymous_directory(self):
        # A kq/clone handle's inode is numbered from its queue's, and above
        # the directory's: the closest clone-* directory at or below it.
        handle = os.fstat(self._handle).st_ino
        best = None
        with os.scandir(os.path.join(self.mount, "kq")) as entries:
            for entry in entries:
                if entry.name.startswith("clone-"):
                    inode = entry.inode()
                    if inode <= handle and (best is None or inode > best[0]):
                        best = (inode, entry.path)
        if best is None:
            raise FileNotFoundError(errno.ENOENT, "no directory for this anonymous queue")
        return best[1]

    # ------------------------------------------------------------ basics

    @property
    def closed(self):
        return not self._fds

    def fileno(self):
        """The events descriptor (the kq/clone handle for an anonymous
        binary queue): readable while events are pending."""
        if self.closed:
            raise ValueError("I/O operation on a closed kqfs queue")
        return self._events

    def _close_fds(self):
        fds, self._fds = self._fds, []
        for fd in fds:
            os.close(fd)

    def close(self):
        """Closes the queue's files; removes the queue if this object made it
        (or remove=True was given). An anonymous queue goes with its handle."""
        if self.closed:
            return
        self._close_fds()
        if self._remove:
            self.remove()

    def remove(self):
        """rmdir of the queue (a named one): gone with its knotes, its readers
        see end of file. A queue already removed is not an error."""
        if self.name is None:
            raise ValueError("an anonymous queue is removed by close()")
        self._remove = False
        try:
            os.rmdir(self._path)
        except FileNotFoundError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        name = "anonymous" if self.name is None else repr(self.name)
        state = "closed" if self.closed else f"fd {self._events}"
        return f"<kqfs.Queue {name} {self.format} {state}>"

    # ------------------------------------------------------------ status

    def status(self):
        """The queue's status file as a dict of strings."""
        fields = {}
        with open(os.path.join(self.path, "status"), encoding="utf-8") as f:
            for line in f:
                key, _, value = line.rstrip("\n").partition(": ")
                if key != "knote":
                    fields[key] = value
        return fields

    def last_error(self):
        """Why the queue's last refused record was refused, or None."""
        try:
            reason = self.status().get("last-error", "none")
        except OSError:
            return None
        return None if reason == "none" else reason

    def _refused(self, error, applied):
        reason = self.last_error()
        # The reason mostly starts with the errno's text already.
        message = error.strerror
        if reason:
            message = reason if reason.startswith(message) else f"{message}: {reason}"
        failure = OSError(error.errno, message)
        failure.applied = applied
        return failure

    # ------------------------------------------------------------ changes

    def _encode(self, record):
        event = record if isinstance(record, Event) else Event(*record)
        if self.format == "bin":
            return event.pack()
        line = event.to_json() if self.format == "json" else event.to_text()
        return (line + "\n").encode()

    def change(self, *records):
        """Applies the records (Events or (ident, filter, flags, fflags, data,
        udata) tuples) in order, in one write. A refused record raises OSError
        with its errno and the daemon's reason (status last-error); its
        `applied` attribute counts the records applied before it, none after."""
        encoded = [self._encode(record) for record in records]
        done = 0
        while done < len(encoded):
            blob = b"".join(encoded[done:])
            try:
                written = os.write(self._changes, blob)
            except OSError as error:
                raise self._refused(error, done) from None
            # A short write ends where the refused record begins: the write
            # of that record alone gives its errno (a refused record has no
            # effect, so writing it again changes nothing).
            while written > 0:
                written -= len(encoded[done])
                done += 1
            if written < 0:
                raise RuntimeError("kqfs: a write ended inside a record")
            if done < len(encoded):
                try:
                    os.write(self._changes, encoded[done])
                except OSError as error:
                    raise self._refused(error, done) from None
                done += 1  # it went through this time

    # ------------------------------------------------------------ events

    def _read_once(self, max_events):
        """Events of one non-blocking read(2), or None when none is pending;
        EOFError once the queue is removed."""
        size = max_events * RECORD.size if self.format == "bin" else _TEXT_READ
        try:
            blob = os.read(self._events, size)
        except BlockingIOError:
            return None
        if not blob:
            raise EOFError(f"kqfs queue {self.name or 'anonymous'} removed")
        if self.format == "bin":
            return Event.unpack_all(blob)
        blob = self._pending + blob
        complete, _, self._pending = blob.rpartition(b"\n")
        parse = Event.from_json if self.format == "json" else Event.from_text
        return [parse(line) for line in complete.decode().split("\n") if complete]

    def read(self, max_events=64, timeout=None):
        """The events of one read: up to max_events (the text format gives
        one a read). Waits at most timeout seconds (None: for ever, 0: not
        at all) and returns [] when none came; EOFError when the queue is
        removed."""
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        deadline = None if timeout is None else time.monotonic() + timeout
        poller = None
        while True:
            events = self._read_once(max_events)
            if events:
                return events
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return []
            if poller is None:
                poller = select.poll()
                poller.register(self._events, select.POLLIN)
            # POLLIN can be stale (an event deleted before the read): read again.
            poller.poll(None if left is None else max(1, int(left * 1000 + 0.999)))

    def __iter__(self):
        """Every event, waiting for each, until the queue is removed."""
        while True:
            try:
                events = self.read()
            except EOFError:
                return
            yield from events

    async def aread(self, max_events=64):
        """read() for asyncio: waits in the running loop (add_reader on the
        events descriptor), never in a thread; EOFError when removed."""
        loop = asyncio.get_running_loop()
        while True:
            events = self._read_once(max_events)
            if events:
                return events
            readable = loop.create_future()
            loop.add_reader(self._events,
                            lambda: readable.done() or readable.set_result(None))
            try:
                await readable
            finally:
                loop.remove_reader(self._events)

    async def __aiter__(self):
        """`async for event in queue`: every event until the queue is removed."""
        while True:
            try:
                events = await self.aread()
            except EOFError:
                return
            for event in events:
                yield event
