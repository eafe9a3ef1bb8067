"""What the CLI tests (tests/unit/*/*_cli_test.py, dse_report_test.py) share:
each check prints one line and counts towards the exit status, and each
command runs with its output captured.

ctest puts this directory on PYTHONPATH; by hand:
  PYTHONPATH=tests/common python3 tests/unit/dse/dse_cli_test.py ...
"""
import subprocess

_failures = 0


def check(ok, what, detail=""):
    """Prints `ok` or `FAIL` and `what` (with `detail` when it failed)."""
    global _failures
    print(f"{'ok  ' if ok else 'FAIL'} {what}" + (f": {detail}" if detail and not ok else ""))
    if not ok:
        _failures += 1


def failures():
    """How many checks have failed so far."""
    return _failures


def run(cmd, env=None, timeout=600):
    """Runs `cmd` (any items, turned into strings) and captures its output as
    text. The timeout turns a hung command into a failure with a traceback
    naming it, rather than ctest killing the whole test without saying which."""
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                          env=env, timeout=timeout)
