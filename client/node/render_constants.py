#!/usr/bin/env python3
"""Renders the Node package's constants module from constants.json.

    render_constants.py CONSTANTS_JSON OUTPUT_JS

constants.json is what kqfs-export-constants writes from the engine's one
name table (client/constants/). The module keeps its structure (filters,
the implemented filters with their NOTE_* names in formatting order and
their aliases, flags, masks, the kevent ioctl's numbers) and adds the flat
names a program uses (EVFILT_TIMER, EV_ADD, NOTE_TRIGGER). Run by meson at
build time with the python3 that runs meson, so no value in the package is
ever written by hand.
"""

import json
import sys


def flat_names(document):
    """Every constant by its own name; a NOTE_* name shared by filters
    (NOTE_LOWAT) must have one value."""
    names = {}

    def put(name, value):
        if names.get(name, value) != value:
            sys.exit(f"render_constants.py: {name} has two values ({names[name]}, {value})")
        names[name] = value

    for section in ("filters", "flags", "masks", "call"):
        for name, value in document[section].items():
            put(name, value)
    for row in document["implemented"]:
        for section in ("fflags", "aliases"):
            for name, value in row[section].items():
                put(name, value)
    return names


def render(document):
    names = flat_names(document)
    implemented = [
        {
            "name": row["name"],
            "short": row["short"],
            "value": row["value"],
            # Arrays of [name, value]: the order is the order masks are
            # written in, which an object with numeric-looking keys would lose.
            "fflags": list(row["fflags"].items()),
            "aliases": list(row["aliases"].items()),
        }
        for row in document["implemented"]
    ]
    data = {
        "version": document["version"],
        "recordSize": document["record_size"],
        "filters": list(document["filters"].items()),
        "implemented": implemented,
        "flags": list(document["flags"].items()),
        "masks": document["masks"],
        "call": document["call"],
        "names": names,
    }
    return (
        "// Generated at build time by client/node/render_constants.py from\n"
        "// constants.json (kqfs-export-constants, the engine's name table).\n"
        "// Do not edit: a change belongs in kqfs/, and reaches here on the next build.\n"
        "'use strict';\n\n"
        f"module.exports = {to_js(data, '')};\n"
    )


def to_js(value, indent):
    """JSON, one line per [name, value] pair or implemented filter."""
    inner = indent + "  "
    if isinstance(value, dict) and any(isinstance(v, (dict, list)) for v in value.values()):
        items = [f"{inner}{json.dumps(k)}: {to_js(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and value and isinstance(value[0], (dict, list)):
        items = [f"{inner}{json.dumps(v)}" for v in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    return json.dumps(value)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: render_constants.py CONSTANTS_JSON OUTPUT_JS")
    with open(sys.argv[1], encoding="utf-8") as source:
        document = json.load(source)
    text = render(document)
    with open(sys.argv[2], "w", encoding="utf-8") as output:
        output.write(text)


if __name__ == "__main__":
    main()
