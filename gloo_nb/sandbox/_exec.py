"""Run a program that dies with the process that started it.

``python -I -S _exec.py PARENT_PID PROGRAM ARG...`` sets ``PR_SET_PDEATHSIG`` (which survives
``execve``) and then becomes PROGRAM. Doing the ``prctl`` here instead of in a ``preexec_fn``
keeps Python code out of the forked child of a process that runs grpc threads: there, grpc's
fork handlers can abort the child (seen: ``epoll_wait error: Bad file descriptor``, SIGABRT), and
without a ``preexec_fn`` ``subprocess`` can use ``vfork``, which runs no fork handlers at all.
Only the standard library is imported, so this adds a few milliseconds.
"""

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def main() -> None:
    """Set the parent-death signal, check the parent is still there, exec the program."""
    parent = int(sys.argv[1])
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)  # the parent died before the prctl: nobody would stop us
    os.execv(sys.argv[2], sys.argv[2:])


if __name__ == "__main__":
    main()
