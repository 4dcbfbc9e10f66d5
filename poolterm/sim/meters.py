"""What each simulated host has served: the simulator's meters (docs/simulator.md, "Load meters").

They measure what clients cost a host, so a probe that must be gentle on the pool can be
held to a budget: one xapi session per `xe` command on the xapi that answers it, and one
HTTPS request per connection accepted on the host's port 443. Pool-internal traffic
(Pool.hello, heartbeats, database pushes, a master's calls to its slaves) is not counted:
it is the pool's own, the same whatever a client does. The meters belong to the simulator,
not to the host: they count from the simulator's start and a reinstall keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The key of `api_commands` for a command xapi does not know (its name is any text a client typed).
UNKNOWN_COMMAND = "(unknown)"


@dataclass
class Meter:
    api_sessions: int = 0
    api_commands: dict[str, int] = field(default_factory=dict)
    https_requests: int = 0

    def session(self, command: str) -> None:
        self.api_sessions += 1
        self.api_commands[command] = self.api_commands.get(command, 0) + 1

    def https(self) -> None:
        self.https_requests += 1

    def status(self) -> dict:
        return {
            "api_sessions": self.api_sessions,
            "api_commands": dict(sorted(self.api_commands.items())),
            "https_requests": self.https_requests,
        }
