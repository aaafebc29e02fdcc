"""The constants and names of the package are the engine's: the C headers'
values, and the names the daemon and kqctl write."""
import itertools
import json
import os
import re
import subprocess
import unittest

import kqfs
from kqfs import _constants
from support import SOURCE, build_file, mount, unique


def header_defines(path):
    """NAME -> value of the #defines of a C header that are plain numbers."""
    values = {}
    pattern = re.compile(r"^#define\s+([A-Z0-9_]+)\s+\(?(-?(?:0x[0-9A-Fa-f]+|\d+))u?\)?"
                         r"\s*(?:/\*.*)?$")
    with open(path) as f:
        text = f.read().replace("\\\n", " ")
    for line in text.splitlines():
        match = pattern.match(line.strip())
        if match:
            values[match.group(1)] = int(match.group(2), 0)
    return values


class HeaderValues(unittest.TestCase):
    def test_every_constant_of_constants_h_is_in_the_package_with_its_value(self):
        defines = header_defines(os.path.join(SOURCE, "client/include/kqfs/constants.h"))
        self.assertGreater(len(defines), 50)
        # EV_FLAG2 is EV_ERROR's other name: the name table keeps EV_ERROR.
        for name, value in defines.items():
            if name == "EV_FLAG2":
                self.assertEqual(kqfs.EV_ERROR, value)
                continue
            with self.subTest(name=name):
                self.assertEqual(getattr(kqfs, name), value)

    def test_the_call_constants_are_call_ioctl_h(self):
        defines = header_defines(os.path.join(SOURCE, "client/include/kqfs/call_ioctl.h"))
        for name in ("KQFS_CALL_MAGIC", "KQFS_CALL_RESULT_MAGIC", "KQFS_CALL_SLOT",
                     "KQFS_CALL_MAX_SLOTS", "KQFS_CALL_TIMEOUT", "KQFS_CALL_CHANGES_ONLY",
                     "KQFS_CALL_DONE", "KQFS_CALL_RECHECK"):
            self.assertEqual(getattr(kqfs, name), defines[name], name)
        # _IOC(read|write, 0xB7, 0x4B, size) with Linux's generic layout.
        base = (3 << 30) | (defines["KQFS_CALL_TYPE"] << 8) | defines["KQFS_CALL_NUMBER"]
        self.assertEqual(kqfs.KQFS_IOC_CALL_BASE, base)
        self.assertEqual(kqfs.KQFS_IOC_CALL_SIZE_SHIFT, 16)

    def test_the_module_is_the_build_trees_constants_json(self):
        with open(build_file("client", "constants", "constants.json")) as f:
            table = json.load(f)
        self.assertEqual(dict(_constants.FILTERS), table["filters"])
        self.assertEqual(dict(_constants.FLAGS), table["flags"])
        self.assertEqual([row[0] for row in _constants.IMPLEMENTED],
                         [row["name"] for row in table["implemented"]])
        self.assertEqual(kqfs.NOTE_ABSOLUTE, kqfs.NOTE_ABSTIME)
        self.assertEqual(kqfs.RECORD.size, 32)


def kqctl_convert(blob, to):
    result = subprocess.run([build_file("client", "kqctl", "kqctl"), "convert", "--from", "bin",
                             "--to", to], input=blob, capture_output=True, check=True)
    return result.stdout.decode().splitlines()


def sample_records():
    """Records over every filter number (and two without a name), each flag
    bit and unnamed ones, each filter's NOTE_* names, multi-bit ones, and
    bits no name covers."""
    filters = [value for _, value in _constants.FILTERS] + [0, -14, 5]
    flag_masks = [0, 0x21, 0xFFFF, 0x0800, 0x4001, 0x8000 | 0x1000]
    flag_masks += [value for _, value in _constants.FLAGS]
    fflag_masks = [0, 1, 2, 0x2a, 0xC000002A, 0x40000000, 0x80000000, 0x01000000, 0xFFFFFFFF,
                   0x00000600, 0x20000005, 0x1F]
    for i, (filt, flags, fflags) in enumerate(itertools.product(filters, flag_masks,
                                                                fflag_masks)):
        yield kqfs.Event(i, filt, flags, fflags, i * 3 - 50, (1 << 64) - 1 - i)


class NamesAsTheEngineWritesThem(unittest.TestCase):
    def test_text_and_json_of_every_sample_are_kqctl_converts(self):
        records = list(sample_records())
        blob = kqfs.pack_all(records)
        text = kqctl_convert(blob, "text")
        self.assertEqual(len(text), len(records))
        for record, line in zip(records, text):
            self.assertEqual(record.to_text(), line)
            self.assertEqual(kqfs.Event.from_text(line), record)
        for record, line in zip(records, kqctl_convert(blob, "json")):
            self.assertEqual(record.to_json(), line)
            self.assertEqual(kqfs.Event.from_json(line), record)

    def test_the_daemons_events_files_print_the_same_names(self):
        # A user event whose fflags keep bits without a name, and a pipe at
        # end of file (EV_EOF; read fflags are a number), from each file.
        name = unique("names")
        queue = os.path.join(mount(), "kq", name)
        r, w = os.pipe()
        os.close(w)
        expected = {7: "7 EVFILT_USER EV_ADD|EV_DISPATCH 0x2a 0 5",
                    r: f"{r} EVFILT_READ EV_ADD|EV_ONESHOT|EV_EOF 0 0 0"}
        try:
            with kqfs.Queue(name, mount=mount()) as q:
                for events, decode, encode in (("events", kqfs.Event.from_text, kqfs.Event.to_text),
                                               ("events.json", kqfs.Event.from_json,
                                                kqfs.Event.to_json)):
                    q.change((7, kqfs.EVFILT_USER, kqfs.EV_ADD | kqfs.EV_DISPATCH),
                             (7, kqfs.EVFILT_USER, kqfs.EV_ENABLE,
                              kqfs.NOTE_TRIGGER | kqfs.NOTE_FFCOPY | 0x2a, 0, 5),
                             (r, kqfs.EVFILT_READ, kqfs.EV_ADD | kqfs.EV_ONESHOT))
                    fd = os.open(os.path.join(queue, events), os.O_RDONLY)
                    lines = []
                    while len(lines) < 2:  # the text file gives one a read
                        lines += os.read(fd, 4096).decode().splitlines()
                    os.close(fd)
                    self.assertEqual(len(lines), 2)
                    for line in lines:
                        event = decode(line)
                        self.assertEqual(encode(event), line)
                        self.assertEqual(event.to_text(), expected[event.ident])
        finally:
            os.close(r)


class NameFunctions(unittest.TestCase):
    def test_masks_filters_and_parsing(self):
        self.assertEqual(kqfs.flags_name(0), "0")
        self.assertEqual(kqfs.flags_name(kqfs.EV_ADD | kqfs.EV_CLEAR), "EV_ADD|EV_CLEAR")
        self.assertEqual(kqfs.flags_name(0x0800 | kqfs.EV_ADD), "EV_ADD|0x800")
        self.assertEqual(kqfs.filter_name(kqfs.EVFILT_TIMER), "EVFILT_TIMER")
        self.assertEqual(kqfs.filter_name(-14), "-14")
        self.assertEqual(kqfs.fflags_name(kqfs.EVFILT_USER, kqfs.NOTE_FFCOPY), "NOTE_FFCOPY")
        self.assertEqual(kqfs.fflags_name(kqfs.EVFILT_USER, kqfs.NOTE_FFOR), "NOTE_FFOR")
        self.assertEqual(kqfs.fflags_name(kqfs.EVFILT_READ, 3), "NOTE_LOWAT|NOTE_FILE_POLL")
        self.assertEqual(kqfs.fflags_name(kqfs.EVFILT_READ, 104, kqfs.EV_EOF), "104")
        self.assertEqual(kqfs.fflags_name(kqfs.EVFILT_TIMER, kqfs.NOTE_ABSTIME), "NOTE_ABSTIME")
        self.assertEqual(kqfs.parse_filter("Timer"), kqfs.EVFILT_TIMER)
        self.assertEqual(kqfs.parse_flags("add|CLEAR|0x800"), 0x821)
        self.assertEqual(kqfs.parse_fflags(kqfs.EVFILT_TIMER, "absolute|useconds"), 0x14)
        self.assertEqual(kqfs.Event.from_text("hup signal add").ident, 1)
        self.assertEqual(kqfs.Event.from_json('{"ident": 3, "filter": "user"}'),
                         kqfs.Event(3, kqfs.EVFILT_USER))
        with self.assertRaises(ValueError):
            kqfs.Event.from_text("1 timre add")


if __name__ == "__main__":
    unittest.main()
