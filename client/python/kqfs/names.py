"""Names of filters, flags and fflags, written and read as kqfs's text format
does (the daemon's `events` file, kqctl): the rules of kqfs/names.cpp and
kqfs/codec/text.cpp.

- A filter is its long name where one exists (EVFILT_TIMER), else its number.
- A mask is the names of its bits joined by "|", in the table's order, a
  multi-bit name (NOTE_FFCOPY) taken whole when all its bits are set; bits
  without a name follow in hex ("EV_ADD|0x800"); no bit at all is "0".
- EVFILT_READ and EVFILT_WRITE fflags with EV_EOF (a socket error) are
  written as a decimal number.
- On input a name is long or short (EV_ADD, add), in any case; numbers are
  decimal or 0x hex.
"""
import signal as _signal

from . import _constants as _c

_FILTERS = tuple((name, value) for name, value in _c.FILTERS)
_FLAGS = tuple((name, value) for name, value in _c.FLAGS)
_FFLAGS = {row[2]: row[3] for row in _c.IMPLEMENTED}
_ALIASES = {row[2]: row[4] for row in _c.IMPLEMENTED}
# Filters whose fflags are an errno, written as a number, with EV_EOF
# (kqfs/codec/text.cpp).
_ERRNO_FFLAGS = (_c.EVFILT_READ, _c.EVFILT_WRITE)


def _mask(table, mask):
    out = []
    rest = mask
    for name, value in table:
        if value != 0 and rest & value == value:
            out.append(name)
            rest &= ~value
    if rest:
        out.append(f"{rest:#x}")
    return "|".join(out) if out else "0"


def filter_name(filt):
    """EVFILT_TIMER for -7; the number, as a string, for a filter without a name."""
    for name, value in _FILTERS:
        if value == filt:
            return name
    return str(filt)


def flags_name(flags):
    """"EV_ADD|EV_CLEAR" for 0x21; "0" for none."""
    return _mask(_FLAGS, flags)


def fflags_name(filt, fflags, flags=0):
    """The fflags of a record of filter filt (and flags) as the text format
    writes them: "NOTE_WRITE|NOTE_EXTEND", "NOTE_FFCOPY|0x2a", "0"; a
    decimal number for EVFILT_READ and EVFILT_WRITE with EV_EOF in flags."""
    if filt in _ERRNO_FFLAGS and flags & _c.EV_EOF:
        return str(fflags)
    return _mask(_FFLAGS.get(filt, ()), fflags)


def _matches(name, wanted):
    wanted = wanted.lower()
    return name.lower() == wanted or name.partition("_")[2].lower() == wanted


def _find(table, wanted):
    for name, value in table:
        if _matches(name, wanted):
            return value
    return None


def parse_number(token):
    """A decimal or 0x hex integer (with an optional sign); ValueError otherwise."""
    text = token.strip()
    sign = 1
    if text[:1] in "+-" and text[:1]:
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text[:2].lower() == "0x" and len(text) > 2:
        return sign * int(text[2:], 16)
    if text.isdigit() and text.isascii():
        return sign * int(text)
    raise ValueError(f"not a number: {token!r}")


def _parse_mask(token, lookup, what):
    total = 0
    for part in token.split("|"):
        try:
            total |= parse_number(part)
        except ValueError:
            value = lookup(part)
            if value is None:
                raise ValueError(f"unknown {what} {part!r}") from None
            total |= value
    return total


def parse_filter(token):
    """-7 for "EVFILT_TIMER", "timer", "Timer" or "-7"."""
    if isinstance(token, int):
        return token
    try:
        return parse_number(token)
    except ValueError:
        value = _find(_FILTERS, token)
        if value is None:
            raise ValueError(f"unknown filter {token!r}") from None
        return value


def parse_flags(token):
    """0x21 for "EV_ADD|EV_CLEAR", "add|clear" or "0x21"."""
    if isinstance(token, int):
        return token
    return _parse_mask(token, lambda name: _find(_FLAGS, name), "flag")


def parse_fflags(filt, token):
    """The fflags named in token for a record of filter filt ("NOTE_WRITE|extend")."""
    if isinstance(token, int):
        return token

    def lookup(name):
        value = _find(_FFLAGS.get(filt, ()), name)
        return value if value is not None else _find(_ALIASES.get(filt, ()), name)
    return _parse_mask(token, lookup, "fflag")


def parse_ident(filt, token):
    """A number; for EVFILT_SIGNAL also a signal's name, with or without SIG."""
    if isinstance(token, int):
        return token
    try:
        return parse_number(token)
    except ValueError:
        if filt == _c.EVFILT_SIGNAL:
            name = token.upper()
            name = name if name.startswith("SIG") else "SIG" + name
            try:
                return int(_signal.Signals[name])
            except KeyError:
                pass
        raise ValueError(f"bad ident {token!r}") from None
