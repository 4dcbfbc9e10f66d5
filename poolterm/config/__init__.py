"""What the operator wrote: the inventory (hosts.yaml) and the console's settings."""
