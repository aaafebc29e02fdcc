"""One kevent: the six fields every kqfs format carries (docs/design.md,
record formats), with the 32-byte binary layout and the text and JSON forms."""
import json
import struct
import typing

from . import _constants as _c
from . import names as _names

# u64 ident, i16 filter, u16 flags, u32 fflags, i64 data, u64 udata,
# little-endian, no padding: struct kevent on 64-bit Linux.
RECORD = struct.Struct("<QhHIqQ")
if RECORD.size != _c.RECORD_SIZE:
    raise ImportError(f"kqfs: a record is {_c.RECORD_SIZE} bytes, this layout {RECORD.size}")

_FIELDS = ("ident", "filter", "flags", "fflags", "data", "udata")


class Event(typing.NamedTuple):
    """A change or an event. Event(1, EVFILT_TIMER, EV_ADD, 0, 500, 7)."""

    ident: int
    filter: int
    flags: int = 0
    fflags: int = 0
    data: int = 0
    udata: int = 0

    # ---------------------------------------------------------- binary

    def pack(self):
        """The 32-byte binary record (struct.error if a field is out of range)."""
        return RECORD.pack(*self)

    @classmethod
    def unpack(cls, buffer, offset=0):
        """The record at offset of a bytes-like buffer."""
        return cls._make(RECORD.unpack_from(buffer, offset))

    @classmethod
    def unpack_all(cls, buffer):
        """Every record of a buffer of whole records."""
        if len(buffer) % RECORD.size:
            raise ValueError(f"{len(buffer)} bytes is not a whole number of records")
        return [cls._make(fields) for fields in RECORD.iter_unpack(buffer)]

    # ---------------------------------------------------------- names

    @property
    def filter_name(self):
        return _names.filter_name(self.filter)

    @property
    def flags_name(self):
        return _names.flags_name(self.flags)

    @property
    def fflags_name(self):
        return _names.fflags_name(self.filter, self.fflags, self.flags)

    # ---------------------------------------------------------- text

    def to_text(self):
        """The line the daemon's `events` file writes, without its newline:
        "1 EVFILT_TIMER EV_ADD|EV_CLEAR 0 1 7"."""
        return (f"{self.ident} {self.filter_name} {self.flags_name} {self.fflags_name}"
                f" {self.data} {self.udata}")

    @classmethod
    def from_text(cls, line):
        """A text record as a `changes` file takes it: up to six fields, those
        left out 0, names long or short in any case."""
        fields = line.split()
        if not 2 <= len(fields) <= 6:
            raise ValueError(f"not a text record: {line!r}")
        return cls._from_fields(*fields)

    # ---------------------------------------------------------- JSON

    def to_dict(self):
        """The object of the daemon's `events.json`: names for filter, flags
        and fflags, numbers for the rest."""
        return {"ident": self.ident, "filter": self.filter_name, "flags": self.flags_name,
                "fflags": self.fflags_name, "data": self.data, "udata": self.udata}

    def to_json(self):
        """One line of `events.json`, without its newline."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, source):
        """A JSON object (a str or bytes line, or a dict): keys left out are 0,
        filter, flags and fflags numbers or strings in the text syntax."""
        if isinstance(source, (str, bytes, bytearray)):
            source = json.loads(source)
        if not isinstance(source, dict) or set(source) - set(_FIELDS):
            raise ValueError(f"not a JSON record: {source!r}")
        if "filter" not in source:
            raise ValueError(f"a record needs a filter: {source!r}")
        return cls._from_fields(*(source.get(key, 0) for key in _FIELDS))

    @classmethod
    def _from_fields(cls, ident, filt, flags=0, fflags=0, data=0, udata=0):
        def number(value):
            return value if isinstance(value, int) else _names.parse_number(value)
        filt = _names.parse_filter(filt)
        return cls(_names.parse_ident(filt, ident), filt, _names.parse_flags(flags),
                   _names.parse_fflags(filt, fflags), number(data), number(udata))

    def __str__(self):
        return self.to_text()


def pack_all(records):
    """The binary records of an iterable of Events or 6-tuples, as one bytes."""
    return b"".join(Event(*record).pack() for record in records)
