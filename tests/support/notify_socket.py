#!/usr/bin/env python3
"""Plays systemd for a Type=notify service (sd_notify(3)), and checks what
the service had done at the moment it sent each notification.

notify_socket.py SOCKET MOUNT COMMAND...: listens on the AF_UNIX datagram
socket SOCKET, runs COMMAND with NOTIFY_SOCKET naming it, and prints each
notification line. For READY=1 it adds "at-ready-send: mounted yes|no"
(MOUNT as it was while READY=1 was being sent) and "at-ready-read: kq holds
NAMES" (MOUNT/kq once read), then sends the command SIGTERM. With MOUNT "-"
it only listens. Once the command exits: "exit: STATUS" and, with a MOUNT,
"after-exit: mounted yes|no". Gives up after 20 s ("timeout").

How "while it was being sent": the socket's queue is kept full of fillers,
so each notification blocks in sendmsg until one datagram is read. While
the command is blocked there (its wchan says so), the mount is looked at,
then one datagram read, which lets that one notification in.
"""
import os
import signal
import socket
import subprocess
import sys
import time

FILLER = b"filler"


def mounted(path):
    with open("/proc/self/mountinfo") as mountinfo:
        return any(line.split()[4] == path for line in mountinfo)


def yes_no(flag):
    return "yes" if flag else "no"


def wchan(pid):
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return f.read()
    except OSError:
        return ""


# Each new block in sendmsg is a new voluntary context switch.
def sleeps(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


class Listener:
    def __init__(self, path, mount):
        self.path, self.mount = path, mount
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(path)
        self.mounted_at_send = []  # one per notification that blocked
        self.notifications = 0
        self.ready = False

    def fill(self):
        filler = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        filler.setblocking(False)
        try:
            while True:
                filler.sendto(FILLER, self.path)
        except BlockingIOError:
            pass
        filler.close()

    def take(self, datagram):
        if datagram == FILLER:
            return
        lines = datagram.decode().splitlines()
        for line in lines:
            print(line, flush=True)
        index = self.notifications
        self.notifications += 1
        if "READY=1" in lines and self.mount != "-":
            known = index < len(self.mounted_at_send)
            print("at-ready-send: mounted",
                  yes_no(self.mounted_at_send[index]) if known else "unknown", flush=True)
            names = " ".join(sorted(os.listdir(self.mount + "/kq")))
            print("at-ready-read: kq holds", names, flush=True)
            self.ready = True

    def take_one(self):
        self.socket.setblocking(True)
        self.take(self.socket.recv(4096))

    def take_all(self):
        self.socket.setblocking(False)
        try:
            while True:
                self.take(self.socket.recv(4096))
        except BlockingIOError:
            pass


def main():
    socket_path, mount, command = sys.argv[1], sys.argv[2], sys.argv[3:]
    listener = Listener(socket_path, mount)
    listener.fill()
    child = subprocess.Popen(command, env=dict(os.environ, NOTIFY_SOCKET=socket_path))
    last_block = None
    stopped = False
    deadline = time.monotonic() + 20
    while child.poll() is None:
        if time.monotonic() > deadline:
            child.kill()
            print("timeout", flush=True)
            break
        where = wchan(child.pid)
        if where == "unix_wait_for_peer" and sleeps(child.pid) != last_block:
            last_block = sleeps(child.pid)
            listener.mounted_at_send.append(mount != "-" and mounted(mount))
            listener.take_one()
        elif where == "do_epoll_wait" and not stopped:
            # Serving: all it sent is queued.
            listener.take_all()
            if listener.ready:
                child.send_signal(signal.SIGTERM)
                stopped = True
        time.sleep(0.002)
    status = child.wait()
    listener.take_all()
    print("exit:", status, flush=True)
    if mount != "-":
        print("after-exit: mounted", yes_no(mounted(mount)), flush=True)


main()
