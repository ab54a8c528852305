"""The one way the project starts a deployable (or Locust) as a child process, and waits for it.

Each child runs in a new session (its own process group), so that it and its workers can be
signalled together and a Ctrl-C in the terminal reaches the parent only, which stops them in
order. ``die_with_parent`` adds Linux's PR_SET_PDEATHSIG: if the parent dies without cleaning
up, the child gets SIGTERM instead of being orphaned. The signal follows the *thread* that
forked, so only a parent that starts children from a long-lived thread should ask for it."""
import ctypes
import signal
import subprocess
import time
from pathlib import Path

from shop.web.health import answers_healthz
from shop.web.settings import PROJECT_ROOT


def _die_with_parent():
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def spawn(argv: list[str], env: dict, stdout=subprocess.PIPE, *, text: bool = True,
          die_with_parent: bool = False) -> subprocess.Popen:
    """Start ``argv`` in the project's root, in a session of its own, stderr into stdout
    (a pipe by default, or an open file), no stdin."""
    return subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdout=stdout, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=text, bufsize=1 if text else -1,
                            start_new_session=True, preexec_fn=_die_with_parent if die_with_parent else None)


def wait_healthy(proc: subprocess.Popen, url: str, timeout: float, what: str,
                 log_path: Path | None = None) -> None:
    """Until the process at ``url`` answers /healthz; a RuntimeError naming ``what`` (with the
    end of its log, if it writes one) if it exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while not answers_healthz(url):
        exited = proc.poll() is not None
        if exited or time.monotonic() > deadline:
            why = f"exited during startup (code {proc.returncode})" if exited else \
                f"did not answer {url}/healthz within {timeout:.0f}s"
            tail = f":\n{log_path.read_text()[-2000:]}" if log_path and log_path.exists() else ""
            raise RuntimeError(f"{what} {why}{tail}")
        time.sleep(0.1)
