"""What the tests (and the benchmarks) share. Fixtures are in the conftest.py files and call into
these modules; no test module imports another test module or a conftest
(tests/unit/test_test_layout.py checks).

- factories: pools and probe observations, by their fields, in one lab's naming scheme
  (:class:`~tests.helpers.factories.Lab`: ``up``, ``down``, ``healthy`` ...) or through the
  probe's own output
- pool_states: the field notes' pool states on a four-host lab (guards, engine, banner)
- static_console: the console on fixed diagnoses (static console tests, snapshots)
- screens: the console's screens on the fixed states as the snapshots check them and
  scripts/pictures.py draws them (settle, the README's pictures)
- sim: the simulated pool started in a directory, its timers, faults, a fast inventory
- truth: the simulator's ground truth: a host's record, the pool's health
- ssh: the simulated hosts over real SSH as an operator reaches them (OpenSSH, asyncssh, ``xe``)
- cli: `poolterm` as a subprocess, `poolterm sim` left running
- playbook_run: `poolterm playbook run` driven like a terminal session, and its journal
- console: the console on a live simulated pool, set up to run playbooks
- pilot: driving the console under Textual's pilot (wait, type, read, answer a dialog)
- tmux: a real terminal for the console (the demo, followers), read with capture-pane
- faults: what the fault matrix puts between poolterm and a host (a port that never sends a
  banner, a counting relay, a reinstallable bastion, a DNS server saying "no such name")
- sshd: a real OpenSSH sshd in front of simulated hosts, reinstallable (a new host key)
"""
