"""The recovery playbooks: one YAML file each, shipped with the package.

A playbook names the hosts it works on (``bindings``, chosen from the diagnosis
when it starts), the state it aims for (``goal``) and its steps. A step has a
title, a ``why`` written for a junior operator, and one of:

* ``run``: an exact command on a bound host, built only from validated values
  (``xe`` sub-command, flags, and parameters whose values are ``binding.field``
  references: the host's name, address or uuid; ``literals``: fixed names such as
  ``root``; ``secrets``: ``binding.password``, asked of the operator when the step
  runs, sent to the host and never shown, journaled or logged);
* ``manual``: something only a person can do (power a host on through its BMC);
  the engine waits for the operator to say it is done, then verifies what it can;
* neither: a check that waits for what it expects.

``expect`` is what must be observed afterwards and ``wait`` how long to wait for
it (``role-change``: the fuse plus xapi's start-up; ``boot``: a host's boot;
``probe``: one probe round; or seconds). ``on_failure`` says what to do when it
is not observed. ``when`` makes a step conditional; a step whose expectation
already holds is skipped. Conditions are the names in
:mod:`poolterm.playbooks.conditions`.

Loading validates everything (unknown keys, bindings, conditions, commands), so
a mistake in a shipped file is caught by the tests, not during an incident.

The data model is :mod:`poolterm.playbooks.model`, the loading
:mod:`poolterm.playbooks.load`; this package re-exports what the rest of poolterm
uses, so ``from poolterm.playbooks import Playbook, load_playbook`` is the way in.
"""

from poolterm.errors import PlaybookError
from poolterm.playbooks.load import PLAYBOOK_DIR, load_all, load_file, load_playbook
from poolterm.playbooks.model import BINDING_SOURCES, IDS, CommandSpec, Playbook, Step, playbook_ids

__all__ = ["BINDING_SOURCES", "IDS", "PLAYBOOK_DIR", "CommandSpec", "Playbook", "PlaybookError", "Step",
           "load_all", "load_file", "load_playbook", "playbook_ids"]
