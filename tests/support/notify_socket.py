#!/usr/bin/env python3
"""Plays systemd for a Type=notify service, as in sd_notify(3).

notify_socket.py SOCKET MOUNT COMMAND...: listens on the AF_UNIX datagram
socket SOCKET, runs COMMAND with NOTIFY_SOCKET naming it, and prints each
notification line as it arrives. When READY=1 arrives it looks at MOUNT at
once ("at-ready: mounted yes|no", "at-ready: kq holds NAMES") and sends the
command SIGTERM. Once the command exits: "exit: STATUS" and
"after-exit: mounted yes|no". Gives up after 20 s ("timeout").
"""
import os
import signal
import socket
import subprocess
import sys
import time


def mounted(path):
    with open("/proc/self/mountinfo") as mountinfo:
        return any(line.split()[4] == path for line in mountinfo)


def print_lines(datagram):
    for line in datagram.decode().splitlines():
        print(line, flush=True)
    return "READY=1" in datagram.decode().splitlines()


def main():
    socket_path, mount, command = sys.argv[1], sys.argv[2], sys.argv[3:]
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(socket_path)
    listener.settimeout(0.05)
    child = subprocess.Popen(command, env=dict(os.environ, NOTIFY_SOCKET=socket_path))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if print_lines(listener.recv(4096)):
                print("at-ready: mounted", "yes" if mounted(mount) else "no", flush=True)
                print("at-ready: kq holds", " ".join(sorted(os.listdir(mount + "/kq"))), flush=True)
                child.send_signal(signal.SIGTERM)
        except socket.timeout:
            if child.poll() is not None:
                break
    else:
        child.kill()
        print("timeout", flush=True)
    status = child.wait()
    listener.setblocking(False)
    try:
        while True:
            print_lines(listener.recv(4096))
    except BlockingIOError:
        pass
    print("exit:", status, flush=True)
    print("after-exit: mounted", "yes" if mounted(mount) else "no", flush=True)


main()
