#!/usr/bin/env python3
"""Renders kqfs/_constants.py from constants.json (kqfs-export-constants).

    render_constants.py CONSTANTS_JSON OUTPUT

Run by meson at build time: every value of the Python package comes from
the engine's one name table, none is written by hand.
"""
import json
import sys


def main(source, output):
    with open(source, encoding="utf-8") as f:
        table = json.load(f)

    lines = ['"""kqueue constants, generated at build time from kqfs-export-constants',
             '(client/python/render_constants.py). Do not edit."""',
             "",
             f"VERSION = {table['version']!r}",
             f"RECORD_SIZE = {table['record_size']!r}",
             ""]
    values = {}

    def define(name, value):
        if values.get(name, value) != value:
            sys.exit(f"render_constants: {name} has two values: {values[name]} and {value}")
        if name not in values:
            values[name] = value
            lines.append(f"{name} = {value!r}")

    # Pairs, not a dict: a name two filters give different values must stop the build.
    notes = [pair for row in table["implemented"]
             for pair in [*row["fflags"].items(), *row["aliases"].items()]]
    for title, pairs in (("Filters", table["filters"].items()), ("Flags", table["flags"].items()),
                         ("NOTE_* of the implemented filters", notes),
                         ("Masks and counts", table["masks"].items()),
                         ("The kevent() call as one ioctl (kqfs/call_ioctl.h)",
                          table["call"].items())):
        lines.append(f"\n# {title}")
        for name, value in pairs:
            define(name, value)
    lines += ["",
              "# The name tables, in the order the text format uses them.",
              f"FILTERS = {tuple(table['filters'].items())!r}",
              f"FLAGS = {tuple(table['flags'].items())!r}",
              "# (name, short name, value, NOTE_* names in formatting order, aliases)",
              "IMPLEMENTED = ("]
    for row in table["implemented"]:
        entry = (row["name"], row["short"], row["value"],
                 tuple(row["fflags"].items()), tuple(row["aliases"].items()))
        lines.append(f"    {entry!r},")
    lines += [")",
              f"MASKS = {tuple(table['masks'].items())!r}",
              f"CALL = {tuple(table['call'].items())!r}",
              "",
              "# Every constant name above.",
              f"NAMES = {tuple(values)!r}",
              ""]
    with open(output, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: render_constants.py CONSTANTS_JSON OUTPUT")
    main(sys.argv[1], sys.argv[2])
