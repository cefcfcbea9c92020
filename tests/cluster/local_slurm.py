"""A throwaway one-node SLURM cluster (munged + slurmctld + slurmd) for tests and demos.

Debian's ``slurm-wlm`` and ``munge`` packages run a complete cluster on one machine when
started as root: this module writes a munge key and a ``slurm.conf`` under a temporary
folder, starts the three daemons in the foreground as child processes (so they are
stopped by their own PIDs, never by name), and waits until ``sinfo`` shows the node
idle. Nothing under ``/etc`` or ``/run`` is read or written: the munge socket, state,
spool, logs and PID files all live in the temporary folder, and every Slurm command
finds this cluster through ``SLURM_CONF`` (see :attr:`LocalSlurm.env`).

Settings chosen for a single CI machine without cgroups or a database:
``ProctrackType=proctrack/linuxproc`` and ``TaskPlugin=task/none`` (no cgroup
delegation needed), ``AccountingStorageType=accounting_storage/none`` and
``JobAcctGatherType=jobacct_gather/none`` (no slurmdbd, hence no ``sacct``: snakemake's
plugin must poll with ``squeue``), ``MinJobAge=3600`` so finished jobs stay visible to
``squeue`` long enough to be reported (the plugin falls back to ``sacct`` when
``MinJobAge`` is below three initial status intervals).

Usage::

    with LocalSlurm() as cluster:          # raises SlurmUnavailable with a reason
        subprocess.run(["sinfo"], env=cluster.env)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sinfo", "sbatch", "squeue", "scancel", "srun", "scontrol")


class SlurmUnavailable(RuntimeError):
    """SLURM cannot be started here; the message says why (for ``pytest.skip``)."""


def _which(name: str) -> str | None:
    # The daemons live in /usr/sbin, which is not on every non-login PATH.
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


def unavailable_reason() -> str | None:
    """Why a local cluster cannot start on this machine, or ``None`` if it can try."""
    if os.name != "posix" or not hasattr(os, "geteuid"):
        return "SLURM needs a POSIX system"
    if os.geteuid() != 0:
        return "the local SLURM cluster runs its daemons as root (SlurmUser=root); not root here"
    missing = [name for name in DAEMONS + CLIENTS if _which(name) is None]
    if missing:
        return f"SLURM/munge programs not installed: {', '.join(missing)} (apt-get install slurm-wlm munge)"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _node_hardware() -> tuple[int, int]:
    """(CPUs, RealMemory in MB) as ``slurmd -C`` reports them."""
    output = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True, check=True).stdout
    fields = dict(item.split("=", 1) for item in output.split() if "=" in item)
    return int(fields["CPUs"]), int(fields["RealMemory"])


class LocalSlurm:
    """A one-node SLURM cluster under a temporary folder; a context manager.

    Attributes after :meth:`start`: ``root`` (the folder), ``conf`` (slurm.conf),
    ``env`` (``os.environ`` plus ``SLURM_CONF``; pass it to every Slurm command and to
    snakemake), ``partition`` (the only, default partition), ``cpus``, ``memory_mb``.
    """

    partition = "debug"

    def __init__(self, startup_timeout: float = 60.0) -> None:
        self.startup_timeout = startup_timeout
        self.root: Path | None = None
        self.conf: Path | None = None
        self.env: dict[str, str] = {}
        self.cpus = 0
        self.memory_mb = 0
        self._processes: list[tuple[str, subprocess.Popen]] = []

    # -- lifecycle -------------------------------------------------------------------
    def __enter__(self) -> LocalSlurm:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> LocalSlurm:
        reason = unavailable_reason()
        if reason:
            raise SlurmUnavailable(reason)
        # A short path: a unix socket path must stay under 108 characters.
        self.root = Path(tempfile.mkdtemp(prefix="slurm-", dir="/tmp"))
        try:
            self._start_munge()
            self._write_conf()
            self._spawn("slurmctld", [_which("slurmctld"), "-D", "-f", str(self.conf)])
            self._spawn("slurmd", [_which("slurmd"), "-D", "-f", str(self.conf)])
            self._wait_idle()
        except BaseException as error:
            diagnostics = self.logs()
            self.stop()
            # A daemon or client that fails or hangs means no cluster here, not a bug.
            if isinstance(error, SlurmUnavailable | subprocess.SubprocessError | OSError):
                raise SlurmUnavailable(f"{type(error).__name__}: {error}\n{diagnostics}") from None
            raise
        return self

    def stop(self) -> None:
        """Cancel this cluster's jobs, stop the daemons this object started, remove the folder."""
        if self._processes and self.conf is not None:
            # Only jobs of this controller (SLURM_CONF points at it), so nothing else.
            subprocess.run([_which("scancel"), "--user", "root"], env=self.env, capture_output=True, timeout=30)
        for _name, process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
        self._processes.clear()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    # -- helpers ---------------------------------------------------------------------
    def run(self, *command: str, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        """Run a Slurm client command against this cluster (text output captured)."""
        return subprocess.run(list(command), env=self.env, capture_output=True, text=True, check=check, **kwargs)

    def logs(self) -> str:
        """The tail of every daemon log, for error messages."""
        if self.root is None:
            return ""
        parts = []
        for log in sorted(self.root.glob("**/*.log")):
            text = log.read_text(errors="replace").splitlines()[-15:]
            parts.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(parts)

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        with open(self.root / f"{name}.out", "w") as stream:  # the child keeps its own copy
            process = subprocess.Popen(
                command,
                env=self.env,
                stdout=stream,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C in the test runner does not reach the daemons
            )
        self._processes.append((name, process))
        time.sleep(0.2)
        if process.poll() is not None:
            output = (self.root / f"{name}.out").read_text(errors="replace")
            raise SlurmUnavailable(f"{name} exited at once (code {process.returncode}): {output[-2000:]}")
        return process

    def _start_munge(self) -> None:
        munge = self.root / "munge"
        munge.mkdir(mode=0o700)
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.socket = munge / "munge.socket"
        self.env = {
            **os.environ,
            "SLURM_CONF": str(self.root / "slurm.conf"),
            "PATH": f"{self._write_srun_shim()}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        self._spawn(
            "munged",
            [
                _which("munged"),
                "--foreground",
                "--force",  # root-owned daemon and /tmp's permissions would otherwise stop it
                f"--socket={self.socket}",
                f"--key-file={key}",
                f"--log-file={munge / 'munged.log'}",
                f"--pid-file={munge / 'munged.pid'}",
                f"--seed-file={munge / 'munged.seed'}",
            ],
        )
        deadline = time.monotonic() + 15
        while not self.socket.exists():
            if time.monotonic() > deadline:
                raise SlurmUnavailable("munged did not create its socket within 15 s")
            time.sleep(0.1)

    def _write_srun_shim(self) -> Path:
        """A ``bin/srun`` that restores ``SLURM_CONF`` before calling the real srun.

        snakemake-executor-plugin-slurm-jobstep (0.6.1) starts each job step with
        ``srun`` in an environment stripped of every ``SLURM_*`` variable except the
        job's identity, ``SLURM_CONF`` included; on a real site srun then finds
        /etc/slurm/slurm.conf, but this cluster's config is elsewhere. The jobs inherit
        ``PATH`` (sbatch ``--export=ALL``), so they find this shim first.
        """
        folder = self.root / "bin"
        folder.mkdir()
        shim = folder / "srun"
        shim.write_text(f'#!/bin/sh\nSLURM_CONF="{self.root / "slurm.conf"}" exec {_which("srun")} "$@"\n')
        shim.chmod(0o755)
        return folder

    def _write_conf(self) -> None:
        self.cpus, real_memory = _node_hardware()
        # Memory is not a consumable here (CR_Core): RealMemory only bounds what one job
        # may request, so it is set high enough for any rule's mem_mb, and
        # SlurmdParameters=config_overrides keeps slurmd from draining a node that
        # claims more than it has. CPUs stay real: they decide how many jobs run at once.
        self.memory_mb = max(real_memory, 256_000)
        host = socket.gethostname().split(".")[0]
        for folder in ("state", "spool"):
            (self.root / folder).mkdir()
        self.conf = self.root / "slurm.conf"
        self.conf.write_text(
            "\n".join(
                [
                    "# One-node test cluster written by tests/cluster/local_slurm.py",
                    f"ClusterName=contexture{os.getpid()}",
                    f"SlurmctldHost={host}(127.0.0.1)",
                    f"SlurmctldPort={_free_port()}",
                    f"SlurmdPort={_free_port()}",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    f"AuthInfo=socket={self.socket}",
                    f"StateSaveLocation={self.root / 'state'}",
                    f"SlurmdSpoolDir={self.root / 'spool'}",
                    f"SlurmctldPidFile={self.root / 'slurmctld.pid'}",
                    f"SlurmdPidFile={self.root / 'slurmd.pid'}",
                    f"SlurmctldLogFile={self.root / 'slurmctld.log'}",
                    f"SlurmdLogFile={self.root / 'slurmd.log'}",
                    "SlurmctldDebug=info",
                    "SlurmdDebug=info",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core",
                    "AccountingStorageType=accounting_storage/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "JobCompType=jobcomp/none",
                    "MpiDefault=none",
                    "ReturnToService=2",
                    "SlurmdParameters=config_overrides",
                    "MinJobAge=3600",
                    "SchedulerType=sched/backfill",
                    "MailProg=/bin/true",
                    f"NodeName={host} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.memory_mb} State=UNKNOWN",
                    f"PartitionName={self.partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )

    def _wait_idle(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        state = ""
        while time.monotonic() < deadline:
            for name, process in self._processes:
                if process.poll() is not None:
                    raise SlurmUnavailable(f"{name} stopped (exit code {process.returncode})")
            result = self.run(_which("sinfo"), "--noheader", "--Node", "--format=%t", check=False, timeout=20)
            state = result.stdout.strip() or result.stderr.strip()
            if result.returncode == 0 and state == "idle":
                return
            time.sleep(0.5)
        raise SlurmUnavailable(f"the node did not become idle within {self.startup_timeout:.0f} s (sinfo: {state!r})")
