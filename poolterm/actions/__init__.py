"""What is done to a pool and what is kept of it: typed commands, the one gate every
command passes, and the incident journal with the report rendered from it."""
