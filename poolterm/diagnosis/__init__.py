"""Pure judgement: observations to a diagnosis, the guards on commands, each verdict in
plain words, and the drills' ground truth and score. No I/O here."""
