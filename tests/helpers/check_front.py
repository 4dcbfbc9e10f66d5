"""A session of a simulated host behind a real sshd, as cheap as a dom0's shell: the check benchmark's ForceCommand.

`poolterm sim exec` goes through `poolterm.cli.main`, which imports every sub-command (the console,
the simulator's servers, asyncssh): 0.3 s of CPU before the command runs, where a dom0's bash costs
milliseconds. Behind an sshd that is every session's price, and eight of them on two cores would be
most of what a benchmark of `poolterm check` against the OpenSSH client measures. This front speaks
the simulator's control socket (JSON objects, one a line: poolterm/sim/control.py) with the standard
library alone, run as ``python -I -S`` (about 15 ms). For what a probe does it behaves as `sim exec`:
the command from ``$SSH_ORIGINAL_COMMAND``, its output and exit status, a hang-up or TERM passed on as
a signal (sshd's, when the client goes away); standard input is closed at once (probes read none).

    ForceCommand python -I -S /path/to/tests/helpers/check_front.py CONTROL_SOCKET HOST
"""

import json
import os
import signal
import socket
import sys


def main() -> int:
    control, host = sys.argv[1], sys.argv[2]
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(control)

    def send(frame: dict) -> None:
        sock.sendall(json.dumps(frame).encode() + b"\n")

    def forward(signum: int, _frame) -> None:
        send({"signal": signal.Signals(signum).name[3:]})

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    send({"action": "exec", "host": host, "command": os.environ.get("SSH_ORIGINAL_COMMAND", "")})
    send({"eof": True})
    for line in sock.makefile("rb"):
        frame = json.loads(line)
        if "stdout" in frame or "stderr" in frame:
            stream = sys.stdout if "stdout" in frame else sys.stderr
            stream.write(frame.get("stdout", frame.get("stderr")))
            stream.flush()
        elif frame.get("ok") is False:
            sys.stderr.write(f"check_front: {frame.get('error')}\n")
            return 2
        elif "exit" in frame:
            if frame.get("signal"):
                name = f"SIG{frame['signal']}"
                sig = signal.Signals[name] if name in signal.Signals.__members__ else signal.SIGTERM
                signal.signal(sig, signal.SIG_DFL)
                os.kill(os.getpid(), sig)
            return int(frame["exit"])
    return 255


if __name__ == "__main__":
    sys.exit(main())
