#!/usr/bin/env python3
"""Renders kqfs(5)'s page source: the CONSTANTS section from constants.json
(kqfs-export-constants), so the manual lists exactly the engine's values.

    render_constants.py CONSTANTS_JSON TEMPLATE OUTPUT
"""
import json
import sys


def paragraph(title, pairs):
    values = ", ".join(f"{name} {value:#x}" if value >= 0 else f"{name} {value}"
                       for name, value in pairs)
    return f"{title}: {values}."


def constants_section(table):
    filters = [(row["name"], row["value"]) for row in table["implemented"]]
    parts = [paragraph("Filters", filters), paragraph("Flags", table["flags"].items())]
    for row in table["implemented"]:
        notes = list(row["fflags"].items()) + list(row["aliases"].items())
        if notes:
            parts.append(paragraph(row["name"], notes))
    parts.append(paragraph("Masks", [(name, value) for name, value in table["masks"].items()
                                     if name != "EVFILT_SYSCOUNT"]))
    # scdoc reads a lone underscore as emphasis.
    return "\n\n".join(parts).replace("_", "\\_")


def main(source, template, output):
    with open(source, encoding="utf-8") as f:
        table = json.load(f)
    with open(template, encoding="utf-8") as f:
        text = f.read()
    if "@CONSTANTS@" not in text:
        sys.exit(f"render_constants: no @CONSTANTS@ in {template}")
    with open(output, "w", encoding="utf-8") as f:
        f.write(text.replace("@CONSTANTS@", constants_section(table)))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: render_constants.py CONSTANTS_JSON TEMPLATE OUTPUT")
    main(*sys.argv[1:])
