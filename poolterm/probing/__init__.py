"""Asking every host what it believes: the probe command, the loop that repeats it, the
child process that runs it for large inventories, and the sources the console reads."""
