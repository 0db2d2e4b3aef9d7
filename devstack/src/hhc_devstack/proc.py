"""What /proc says of a process and of the machine: memory, CPU time (Linux only).

For the benchmarks, which measure the system's processes and the broker and database
beside them."""

import contextlib
import os
from pathlib import Path


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) in KiB; empty when the process is gone."""
    figures: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                figures[name] = int(value.split()[0])
    return figures


_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int, *, children: bool = False) -> float | None:
    """User + system CPU time of a process; with ``children``, also that of its live
    children and of the children it reaped (PostgreSQL's backends)."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    # Fields after the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            child = _stat_fields(int(entry.name))
            if child is not None and child[1] == str(pid):
                ticks += int(child[11]) + int(child[12])
    return ticks / _TICKS


def machine_busy_seconds() -> float:
    """CPU time every core of the machine spent not idle (/proc/stat), in seconds."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields) - idle) / _TICKS
