"""What the operators' commands ask of the machine they run on: a typed confirmation, a live pid."""
from __future__ import annotations

import os
import sys


def typed_confirmation(question: str, expected: str, action: str, named: str | None = None) -> bool:
    """True only if the operator types `expected` (called `named` in the prompt) after `question`;
    no terminal (a script, a pipe) means no."""
    if not sys.stdin.isatty():
        print(f"refusing to {action} without a terminal to confirm on: pass --yes", file=sys.stderr)
        return False
    try:
        answer = input(f"{question}\nType {named or expected} to confirm: ")
    except EOFError:
        return False
    return answer.strip() == expected


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this machine (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # there, but someone else's
        return True
    return True
