"""poolterm: see a XenServer / XCP-ng pool as it is, and recover it safely."""

__version__ = "0.1.0"
